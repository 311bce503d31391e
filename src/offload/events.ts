// Kernel → user events: the raft_events ring buffer's records (struct raft_event in
// bpf/raft_state.h), decoded, and turned back into the messages the Raft core must still see.
//
// The kernel answers or consumes a message only when user space would have reacted the same
// way, but some of those messages also move user-space state (a heartbeat resets the election
// timer and may advance commit; acks move a follower's progress and free its inflight window;
// votes count). `replayMessage()` rebuilds such a message so the run loop can step it into the
// core exactly as if the packet had reached the socket — late, as after a short network delay.

import { MsgType, emptyMessage, type Message } from '../raft/types.ts'
import { STATE_LAYOUT, TYPE_NAMES, VERDICT_NAMES, Verdict } from './state.ts'

const E = STATE_LAYOUT.event.fields

export interface KernelEvent {
  /** bpf_ktime_get_ns() when the kernel handled it (CLOCK_MONOTONIC). */
  ns: bigint
  slot: number
  /** The message as received. */
  type: number
  from: number
  to: number
  term: number
  index: number
  logTerm: number
  commit: number
  ctx: number
  hint: number
  reject: boolean
  transfer: boolean
  /** What the kernel did (Verdict.Tx / TxReject / Counted / Ignored). */
  verdict: number
  /** The term of the reply the kernel sent (answered verdicts), else 0. */
  replyTerm: number
}

/** Decodes the addon's batch: concatenated records and their sizes. Malformed records are skipped. */
export function decodeEvents(records: Uint8Array, sizes: ArrayLike<number>): KernelEvent[] {
  const out: KernelEvent[] = []
  const dv = new DataView(records.buffer, records.byteOffset, records.byteLength)
  let off = 0
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i]!
    if (n >= STATE_LAYOUT.event.size && off + n <= records.byteLength) out.push(decodeEvent(dv, off))
    off += n
  }
  return out
}

function decodeEvent(dv: DataView, o: number): KernelEvent {
  const u64 = (f: { offset: number }): number => Number(dv.getBigUint64(o + f.offset, true))
  const flags = dv.getUint8(o + E.flags.offset)
  return {
    ns: dv.getBigUint64(o + E.ns.offset, true),
    slot: dv.getUint8(o + E.slot.offset),
    type: dv.getUint8(o + E.type.offset),
    from: dv.getUint16(o + E.from.offset, true),
    to: dv.getUint16(o + E.to.offset, true),
    term: u64(E.term),
    index: u64(E.index),
    logTerm: u64(E.log_term),
    commit: u64(E.commit),
    ctx: u64(E.ctx),
    hint: u64(E.hint),
    reject: (flags & 1) !== 0,
    transfer: (flags & 2) !== 0,
    verdict: dv.getUint8(o + E.verdict.offset),
    replyTerm: u64(E.reply_term),
  }
}

/** A readable one-liner for logs. */
export function describeEvent(e: KernelEvent): string {
  return `${TYPE_NAMES[e.type] ?? e.type} ${e.from}→${e.to} t${e.term} i${e.index} → ${VERDICT_NAMES[e.verdict] ?? e.verdict}`
}

/** The message as received, with every wire field (what the RPC log shows). */
export function eventMessage(e: KernelEvent): Message {
  const m = emptyMessage(e.type as MsgType, e.from, e.to, e.term)
  m.index = e.index
  m.logTerm = e.logTerm
  m.commit = e.commit
  m.ctx = e.ctx
  m.hint = e.hint
  m.reject = e.reject
  m.transfer = e.transfer
  return m
}

/**
 * The message the core must still step for this event, or null when stepping it would change
 * nothing (vote answers and ignored messages leave user-space state as it was):
 * - a heartbeat the kernel acked: resets the election timer, commits up to min(commit, prev);
 *   the core's own HeartbeatResp to it duplicates the kernel's (see isKernelDuplicate);
 * - acks and votes the kernel counted: progress, inflight window, read rounds, the tally.
 */
export function replayMessage(e: KernelEvent): Message | null {
  if (e.verdict === Verdict.Tx && e.type === MsgType.Heartbeat) return eventMessage(e)
  if (e.verdict === Verdict.Counted) {
    switch (e.type) {
      case MsgType.AppendResp:
      case MsgType.HeartbeatResp:
      case MsgType.VoteResp:
      case MsgType.PreVoteResp:
        return eventMessage(e)
    }
  }
  return null
}

/**
 * Whether an outgoing message is the core's answer to a replayed heartbeat that the kernel
 * already sent (same peer, term, prev index and ctx, not a rejection): the run loop may drop it.
 */
export function isKernelDuplicate(out: Message, replayed: Message): boolean {
  return (
    replayed.type === MsgType.Heartbeat &&
    out.type === MsgType.HeartbeatResp &&
    !out.reject &&
    out.to === replayed.from &&
    out.term === replayed.term &&
    out.index === replayed.index &&
    out.ctx === replayed.ctx
  )
}
