// Deep copies of messages, so no two nodes ever share an object (as a real wire guarantees).
import type { Entry, Message, Snapshot } from '../../src/raft/types.ts'

export function cloneEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data.slice() }
}

export function cloneSnapshot(s: Snapshot): Snapshot {
  return {
    meta: { index: s.meta.index, term: s.meta.term, conf: { voters: [...s.meta.conf.voters], learners: [...s.meta.conf.learners] } },
    data: s.data.slice(),
  }
}

export function cloneMessage(m: Message): Message {
  return {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    index: m.index,
    logTerm: m.logTerm,
    commit: m.commit,
    hint: m.hint,
    ctx: m.ctx,
    reject: m.reject,
    transfer: m.transfer,
    entries: m.entries.map(cloneEntry),
    snapshot: m.snapshot === null ? null : cloneSnapshot(m.snapshot),
  }
}
