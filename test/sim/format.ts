// One-line renderings of messages, Readies and results for the --trace output.
import { MsgType, type Message, type NodeId, type ProposeResult, type Ready, type RequestResult } from '../../src/raft/types.ts'

const typeNames = new Map<number, string>(Object.entries(MsgType).map(([k, v]) => [v, k]))

export function msgTypeName(t: number): string {
  return typeNames.get(t) ?? `Msg${t}`
}

/** e.g. `Append 1→3 t4 prev=12/4 c11 +2[13..14]`: only the fields that mean something for the type. */
export function formatMessage(m: Message): string {
  let s = `${msgTypeName(m.type)} ${m.from}→${m.to} t${m.term}`
  switch (m.type) {
    case MsgType.Append:
      s += ` prev=${m.index}/${m.logTerm} c${m.commit}`
      if (m.entries.length > 0) s += ` +${m.entries.length}[${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]`
      break
    case MsgType.Heartbeat:
      s += ` prev=${m.index}/${m.logTerm} c${m.commit} ctx${m.ctx}`
      break
    case MsgType.AppendResp:
      s += m.reject ? ` REJECT i${m.index} hint=${m.hint}/${m.logTerm}` : ` ok i${m.index}`
      break
    case MsgType.HeartbeatResp:
      s += `${m.reject ? ' REJECT' : ''} i${m.index} ctx${m.ctx}`
      break
    case MsgType.Vote:
    case MsgType.PreVote:
      s += ` last=${m.index}/${m.logTerm}${m.transfer ? ' transfer' : ''}`
      break
    case MsgType.VoteResp:
    case MsgType.PreVoteResp:
      s += m.reject ? ' REJECT' : ' GRANT'
      break
    case MsgType.Snapshot:
      if (m.snapshot !== null) s += ` snap=${m.snapshot.meta.index}/${m.snapshot.meta.term} ${m.snapshot.data.length}B`
      break
    case MsgType.ReadIndex:
    case MsgType.ReadIndexResp:
      s += ` ctx${m.ctx} i${m.index}`
      break
    default:
      break
  }
  return s
}

export function fmtConf(c: { voters: readonly NodeId[]; learners: readonly NodeId[] }): string {
  return `[${c.voters.join(',')}]${c.learners.length > 0 ? `+L[${c.learners.join(',')}]` : ''}`
}

export function fmtResult(r: ProposeResult | RequestResult | null): string {
  if (r === null) return 'busy'
  if (!r.ok) return `refused (${r.reason})`
  return 'index' in r ? `ok @${r.index}/${r.term}` : 'ok'
}

export function fmtReady(rd: Ready): string {
  const parts: string[] = []
  if (rd.softState) parts.push(`soft=${rd.softState.role}/${rd.softState.leader}`)
  if (rd.hardState) parts.push(`hs=t${rd.hardState.term}/v${rd.hardState.vote}/c${rd.hardState.commit}`)
  if (rd.snapshot) parts.push(`snap=${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`)
  if (rd.entries.length > 0) parts.push(`ents=${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index}`)
  if (rd.committedEntries.length > 0) parts.push(`apply=${rd.committedEntries[0]!.index}..${rd.committedEntries[rd.committedEntries.length - 1]!.index}`)
  if (rd.messages.length > 0) parts.push(`msgs=${rd.messages.length}`)
  if (rd.persistedMessages.length > 0) parts.push(`after-persist=${rd.persistedMessages.map((m) => `${msgTypeName(m.type)}→${m.to}`).join(',')}`)
  if (rd.readStates.length > 0) parts.push(`reads=${rd.readStates.map((r) => `${r.ctx}@${r.index}`).join(',')}`)
  return parts.join(' ')
}
