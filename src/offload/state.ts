// The shared state of the kernel fast path: the TypeScript mirror of bpf/raft_state.h.
//
// One slot (STATE_LAYOUT.slotSize bytes) per local node in a BPF_F_MMAPABLE array that the
// addon maps into an ArrayBuffer. The user half is written here only, under a seqlock, with
// state that is already durable; the kernel half is written by the XDP program only (atomics)
// and read here. test/offload/state_layout.test.ts compiles C against the header and compares
// every offset and constant below, so the two sides cannot drift apart.

import { endianness } from 'node:os'
import type { NodeId, Role } from '../raft/types.ts'

const USER = {
  seq: { offset: 0, size: 4 },
  magic: { offset: 4, size: 4 },
  version: { offset: 8, size: 2 },
  flags: { offset: 10, size: 2 },
  node_id: { offset: 12, size: 2 },
  port: { offset: 14, size: 2 },
  cluster_id: { offset: 16, size: 4 },
  epoch: { offset: 20, size: 4 },
  role: { offset: 24, size: 1 },
  n_members: { offset: 25, size: 1 },
  voter_mask: { offset: 26, size: 2 },
  voted_for: { offset: 28, size: 2 },
  leader: { offset: 30, size: 2 },
  key: { offset: 32, size: 16 },
  term: { offset: 48, size: 8 },
  last_index: { offset: 56, size: 8 },
  last_term: { offset: 64, size: 8 },
  commit: { offset: 72, size: 8 },
  term_start: { offset: 80, size: 8 },
  election_timeout_ns: { offset: 88, size: 8 },
  lease_margin_ns: { offset: 96, size: 8 },
  alive_ns: { offset: 104, size: 8 },
  alive_max_ns: { offset: 112, size: 8 },
  contact_ns: { offset: 120, size: 8 },
  quiet_until_ns: { offset: 128, size: 8 },
  members: { offset: 136, size: 32 },
  reserved: { offset: 168, size: 88 },
  ring: { offset: 256, size: 4096 },
} as const

const KERN = {
  contact_ns: { offset: 0, size: 8 },
  contact_term: { offset: 8, size: 8 },
  contact_prev: { offset: 16, size: 8 },
  commit_hint: { offset: 24, size: 8 },
  contact_leader: { offset: 32, size: 2 },
  pad0: { offset: 34, size: 2 },
  events_lost: { offset: 36, size: 4 },
  quorum_passed: { offset: 40, size: 8 },
  votes: { offset: 48, size: 8 },
  reserved: { offset: 56, size: 8 },
  peers: { offset: 64, size: 512 },
  counters: { offset: 576, size: 2304 },
} as const

const PEER = {
  match: { offset: 0, size: 8 },
  ack_ns: { offset: 8, size: 8 },
  ack_ctx: { offset: 16, size: 8 },
  ack_epoch: { offset: 24, size: 4 },
  pad: { offset: 28, size: 4 },
} as const

const EVENT = {
  ns: { offset: 0, size: 8 },
  term: { offset: 8, size: 8 },
  index: { offset: 16, size: 8 },
  log_term: { offset: 24, size: 8 },
  commit: { offset: 32, size: 8 },
  ctx: { offset: 40, size: 8 },
  hint: { offset: 48, size: 8 },
  from: { offset: 56, size: 2 },
  to: { offset: 58, size: 2 },
  type: { offset: 60, size: 1 },
  verdict: { offset: 61, size: 1 },
  slot: { offset: 62, size: 1 },
  flags: { offset: 63, size: 1 },
  reply_term: { offset: 64, size: 8 },
} as const

/** Sizes and offsets of bpf/raft_state.h; field names are the C names. */
export const STATE_LAYOUT = {
  slots: 16,
  slotSize: 8192,
  ringSize: 256,
  members: 16,
  types: 9,
  verdicts: 32,
  tagShift: 48,
  user: { size: 4352, fields: USER },
  /** The kernel half starts right after the user half. */
  kern: { offset: 4352, size: 2880, fields: KERN },
  peer: { size: 32, fields: PEER },
  ringEntry: { size: 16 },
  event: { size: 72, fields: EVENT },
} as const

/** RAFT_STATE_MAGIC ('RFST') and RAFT_STATE_VERSION. */
export const STATE_MAGIC = 0x52465354
export const STATE_VERSION = 1

/** enum raft_state_role. */
export const RoleCode = { none: 0, follower: 1, 'pre-candidate': 2, candidate: 3, leader: 4 } as const

/** RAFT_ST_F_*. */
export const StateFlag = { Enabled: 1 << 0, CheckQuorum: 1 << 1, HasKey: 1 << 2 } as const

/** enum raft_verdict: what the kernel did with a packet, and why when it passed it up. */
export const Verdict = {
  Tx: 0,
  TxReject: 1,
  Counted: 2,
  Ignored: 3,
  BadLen: 4,
  BadHdr: 5,
  NoState: 6,
  Torn: 7,
  StaleUser: 8,
  BadCluster: 9,
  BadMac: 10,
  NotMember: 11,
  Misaddressed: 12,
  HigherTerm: 13,
  LowerTerm: 14,
  Role: 15,
  NotLeader: 16,
  LogMismatch: 17,
  Reject: 18,
  Grant: 19,
  LeaseDoubt: 20,
  Quorum: 21,
  BeyondLog: 22,
  Type: 23,
  TxErr: 24,
  Contended: 25,
} as const
export type Verdict = (typeof Verdict)[keyof typeof Verdict]
export const VERDICT_COUNT = 26
export const VERDICT_NAMES: readonly string[] = (() => {
  const names: string[] = []
  for (const [k, v] of Object.entries(Verdict)) names[v] = k
  return names
})()

/** Whether the kernel answered (sent a reply). */
export function isAnswered(v: number): boolean {
  return v === Verdict.Tx || v === Verdict.TxReject
}
/** Whether the kernel consumed the packet without a reply (it never reaches the socket). */
export function isConsumed(v: number): boolean {
  return v === Verdict.Counted || v === Verdict.Ignored
}

/** enum raft_gstat: per-CPU counters of packets that never reach a slot. */
export const GlobalStat = { NotUdp: 0, NoSlot: 1, NoMap: 2 } as const
export const GLOBAL_STAT_COUNT = 3

/** Message type names by wire type (index 0 = not parsed far enough to have one). */
export const TYPE_NAMES = ['none', 'Heartbeat', 'HeartbeatResp', 'AppendResp', 'Vote', 'PreVote', 'VoteResp', 'PreVoteResp', 'TimeoutNow'] as const

/**
 * What user space publishes: only durable state (after the fsync of the Ready it came from),
 * plus soft state (role, leader) and the timing guards. Indexes and terms are Raft's numbers;
 * times are CLOCK_MONOTONIC nanoseconds (process.hrtime.bigint(), bpf_ktime_get_ns()).
 */
export interface PublishedState {
  nodeId: NodeId
  clusterId: number
  /** This node's UDP port (host order), as in the port → slot map. */
  port: number
  /** The 16-byte SipHash key (deriveKey()), or null to run without MACs. */
  key: Uint8Array | null
  role: Role
  term: number
  votedFor: NodeId
  leader: NodeId
  /** Durable last log index and its term. */
  lastIndex: number
  lastTerm: number
  /** Durable commit index. */
  commit: number
  /** Leader: index of the first entry of its term (its no-op); else 0. */
  termStart: number
  voters: readonly NodeId[]
  learners: readonly NodeId[]
  checkQuorum: boolean
  /** Minimum election timeout: electionTick × tick length. */
  electionTimeoutNs: bigint
  /** Within this of the lease boundary the kernel cannot tell: it passes up. */
  leaseMarginNs: bigint
  /** The kernel answers only while now − alive stamp < this. */
  aliveMaxNs: bigint
  /** When user space last reset its election timer (leader message, vote grant, role change). */
  contactNs: bigint
  /** With lease reads, after a restart: in lease until then (0n: no quiet period). */
  quietUntilNs: bigint
  /**
   * Durable (index, term) pairs to (re)write into the ring: the entries this Ready persisted
   * (after a truncation, the replacing entries). Entries above lastIndex are ignored by the
   * kernel, so a truncation needs nothing else.
   */
  entries?: readonly { index: number; term: number }[]
  /** A new (pre-)campaign started: vote bits from an earlier one must not count. */
  newCampaign?: boolean
  /** The off switch (default true): false → the kernel passes everything up. */
  enabled?: boolean
}

export interface PeerKernelState {
  id: NodeId
  voter: boolean
  /** Highest index acked with AppendResp success in the current epoch (0 if none). */
  match: number
  /** Last heartbeat ack (monotonic ns) and the epoch it was recorded in. */
  ackNs: bigint
  ackEpoch: number
  /** Highest heartbeat ctx (read round) acked in the current epoch. */
  ackCtx: number
}

export interface KernelState {
  epoch: number
  /** Last heartbeat the kernel answered: when, from whom, in which term, for which prev. */
  contactNs: bigint
  contactTerm: number
  contactLeader: NodeId
  contactPrev: number
  /** Highest commit index vouched for by a matching heartbeat (safe to commit locally). */
  commitHint: number
  eventsLost: number
  /** Highest quorum index an AppendResp was passed up for, in the current epoch. */
  quorumPassed: number
  /** Voters whose (pre-)vote the kernel counted in the current epoch. */
  votes: NodeId[]
  peers: PeerKernelState[]
  /** counters[typeName][verdictName], non-zero only. */
  counters: Record<string, Record<string, number>>
}

const LITTLE_ENDIAN = endianness() === 'LE'
const TAG_MASK = (1n << 48n) - 1n
const MAX_TAGGED = Number(TAG_MASK)

function roleCode(r: Role): number {
  const c = (RoleCode as Record<string, number>)[r]
  if (c === undefined) throw new RangeError(`offload: unknown role ${r}`)
  return c
}

function checkU16(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`offload: ${what} must be a u16, got ${v}`)
}

function checkIndex(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`offload: ${what} must be a non-negative safe integer, got ${v}`)
}

/**
 * One slot of the mmapped raft_state map. Writes the user half (publish: seqlocked; touch: the
 * liveness stamp alone) and reads the kernel half. The buffer may be any ArrayBuffer laid out
 * like the map (tests use plain ones).
 */
export class SharedState {
  readonly slot: number
  private readonly dv: DataView
  private readonly u32: Uint32Array
  private readonly u64: BigUint64Array
  private readonly base: number
  private epoch = 0
  private last: { term: number; role: Role; members: string } | null = null

  constructor(buffer: ArrayBuffer, slot: number) {
    if (!LITTLE_ENDIAN) throw new Error('offload: the shared state is host order; only little-endian hosts are supported')
    if (!Number.isInteger(slot) || slot < 0 || (slot + 1) * STATE_LAYOUT.slotSize > buffer.byteLength) {
      throw new RangeError(`offload: slot ${slot} outside a ${buffer.byteLength}-byte state map`)
    }
    this.slot = slot
    this.base = slot * STATE_LAYOUT.slotSize
    this.dv = new DataView(buffer, this.base, STATE_LAYOUT.slotSize)
    this.u32 = new Uint32Array(buffer, this.base, STATE_LAYOUT.slotSize / 4)
    this.u64 = new BigUint64Array(buffer, this.base, STATE_LAYOUT.slotSize / 8)
    // Start above whatever epoch a previous owner of this slot left, so none of its
    // kernel-written tagged values can look current.
    if (this.dv.getUint32(USER.magic.offset, true) === STATE_MAGIC) this.epoch = this.dv.getUint32(USER.epoch.offset, true)
  }

  /** Zeroes the slot (both halves). Call before the slot is reachable through the port map. */
  reset(): void {
    // Under the seqlock, so a kernel reading meanwhile passes up instead of seeing half a slot.
    const odd = (Atomics.load(this.u32, 0) | 1) >>> 0
    Atomics.store(this.u32, 0, odd)
    new Uint8Array(this.dv.buffer, this.base + 4, STATE_LAYOUT.slotSize - 4).fill(0)
    Atomics.store(this.u32, 0, (odd + 1) >>> 0)
    this.last = null
  }

  /** The current epoch (tags the kernel's per-term values). */
  get currentEpoch(): number {
    return this.epoch
  }

  /** Writes the user half under the seqlock. Throws RangeError on values the layout cannot hold. */
  publish(s: PublishedState): void {
    checkU16('nodeId', s.nodeId)
    checkU16('port', s.port)
    checkU16('votedFor', s.votedFor)
    checkU16('leader', s.leader)
    for (const [k, v] of [['term', s.term], ['lastIndex', s.lastIndex], ['lastTerm', s.lastTerm], ['commit', s.commit], ['termStart', s.termStart]] as const) checkIndex(k, v)
    if (!Number.isInteger(s.clusterId) || s.clusterId < 0 || s.clusterId > 0xffffffff) throw new RangeError('offload: clusterId must be a u32')
    if (s.key !== null && s.key.length !== 16) throw new RangeError('offload: key must be 16 bytes')
    const members = [...s.voters, ...s.learners]
    if (members.length > STATE_LAYOUT.members) throw new RangeError(`offload: at most ${STATE_LAYOUT.members} members`)
    for (const id of members) checkU16('member id', id)
    const membersKey = `${s.voters.join(',')}|${s.learners.join(',')}`
    const roleC = roleCode(s.role)
    const changed = this.last === null || this.last.term !== s.term || this.last.role !== s.role || this.last.members !== membersKey
    if (changed || s.newCampaign) this.epoch = (this.epoch + 1) >>> 0
    this.last = { term: s.term, role: s.role, members: membersKey }

    let flags = 0
    if (s.enabled !== false) flags |= StateFlag.Enabled
    if (s.checkQuorum) flags |= StateFlag.CheckQuorum
    if (s.key !== null) flags |= StateFlag.HasKey

    const dv = this.dv
    const seq = Atomics.load(this.u32, 0)
    const odd = (seq | 1) >>> 0
    Atomics.store(this.u32, 0, odd) // odd: writing; Atomics orders it before the writes below
    dv.setUint32(USER.magic.offset, STATE_MAGIC, true)
    dv.setUint16(USER.version.offset, STATE_VERSION, true)
    dv.setUint16(USER.flags.offset, flags, true)
    dv.setUint16(USER.node_id.offset, s.nodeId, true)
    dv.setUint16(USER.port.offset, s.port, true)
    dv.setUint32(USER.cluster_id.offset, s.clusterId >>> 0, true)
    dv.setUint32(USER.epoch.offset, this.epoch, true)
    dv.setUint8(USER.role.offset, roleC)
    dv.setUint8(USER.n_members.offset, members.length)
    let mask = 0
    for (let i = 0; i < s.voters.length; i++) mask |= 1 << i
    dv.setUint16(USER.voter_mask.offset, mask, true)
    dv.setUint16(USER.voted_for.offset, s.votedFor, true)
    dv.setUint16(USER.leader.offset, s.leader, true)
    if (s.key !== null) {
      for (let i = 0; i < 16; i++) dv.setUint8(USER.key.offset + i, s.key[i]!)
    } else {
      for (let i = 0; i < 16; i++) dv.setUint8(USER.key.offset + i, 0)
    }
    dv.setBigUint64(USER.term.offset, BigInt(s.term), true)
    dv.setBigUint64(USER.last_index.offset, BigInt(s.lastIndex), true)
    dv.setBigUint64(USER.last_term.offset, BigInt(s.lastTerm), true)
    dv.setBigUint64(USER.commit.offset, BigInt(s.commit), true)
    dv.setBigUint64(USER.term_start.offset, BigInt(s.termStart), true)
    dv.setBigUint64(USER.election_timeout_ns.offset, s.electionTimeoutNs, true)
    dv.setBigUint64(USER.lease_margin_ns.offset, s.leaseMarginNs, true)
    dv.setBigUint64(USER.alive_max_ns.offset, s.aliveMaxNs, true)
    dv.setBigUint64(USER.contact_ns.offset, s.contactNs, true)
    dv.setBigUint64(USER.quiet_until_ns.offset, s.quietUntilNs, true)
    for (let i = 0; i < STATE_LAYOUT.members; i++) dv.setUint16(USER.members.offset + 2 * i, members[i] ?? 0, true)
    if (s.entries) {
      for (const e of s.entries) {
        checkIndex('entry index', e.index)
        checkIndex('entry term', e.term)
        const off = USER.ring.offset + (e.index % STATE_LAYOUT.ringSize) * STATE_LAYOUT.ringEntry.size
        dv.setBigUint64(off, BigInt(e.index), true)
        dv.setBigUint64(off + 8, BigInt(e.term), true)
      }
    }
    Atomics.store(this.u32, 0, (odd + 1) >>> 0) // even again: a consistent state
  }

  /** Refreshes the liveness stamp (one atomic 64-bit store, outside the seqlock). */
  touch(nowNs: bigint = process.hrtime.bigint()): void {
    Atomics.store(this.u64, USER.alive_ns.offset / 8, nowNs)
  }

  /** Leaves the seqlock odd, as a crashed writer would (tests: the kernel must pass everything up). */
  tearForTest(): () => void {
    const seq = Atomics.load(this.u32, 0)
    Atomics.store(this.u32, 0, (seq | 1) >>> 0)
    return () => Atomics.store(this.u32, 0, ((seq | 1) + 1) >>> 0)
  }

  /** The user half as published (for status pages and tests). */
  readUser(): { seq: number; magic: number; epoch: number; role: number; term: number; votedFor: number; leader: number; lastIndex: number; lastTerm: number; commit: number; flags: number; members: number[]; voterMask: number; aliveNs: bigint } {
    const dv = this.dv
    const n = dv.getUint8(USER.n_members.offset)
    const members: number[] = []
    for (let i = 0; i < n && i < STATE_LAYOUT.members; i++) members.push(dv.getUint16(USER.members.offset + 2 * i, true))
    return {
      seq: Atomics.load(this.u32, 0),
      magic: dv.getUint32(USER.magic.offset, true),
      epoch: dv.getUint32(USER.epoch.offset, true),
      role: dv.getUint8(USER.role.offset),
      term: Number(dv.getBigUint64(USER.term.offset, true)),
      votedFor: dv.getUint16(USER.voted_for.offset, true),
      leader: dv.getUint16(USER.leader.offset, true),
      lastIndex: Number(dv.getBigUint64(USER.last_index.offset, true)),
      lastTerm: Number(dv.getBigUint64(USER.last_term.offset, true)),
      commit: Number(dv.getBigUint64(USER.commit.offset, true)),
      flags: dv.getUint16(USER.flags.offset, true),
      members,
      voterMask: dv.getUint16(USER.voter_mask.offset, true),
      aliveNs: Atomics.load(this.u64, USER.alive_ns.offset / 8),
    }
  }

  /** Reads the kernel half. Tagged values of another epoch read as 0 (stale). */
  readKernel(): KernelState {
    const K = STATE_LAYOUT.kern.offset
    const dv = this.dv
    const epoch = dv.getUint32(USER.epoch.offset, true)
    const tag = BigInt(epoch & 0xffff) << 48n
    const tagged = (w: bigint): number => ((w & ~TAG_MASK) === tag ? Number(w & TAG_MASK) : 0)
    const word = (off: number): bigint => Atomics.load(this.u64, off / 8)
    const n = dv.getUint8(USER.n_members.offset)
    const voterMask = dv.getUint16(USER.voter_mask.offset, true)
    const members: number[] = []
    for (let i = 0; i < n && i < STATE_LAYOUT.members; i++) members.push(dv.getUint16(USER.members.offset + 2 * i, true))
    const peers: PeerKernelState[] = members.map((id, i) => {
      const p = K + KERN.peers.offset + i * STATE_LAYOUT.peer.size
      return {
        id,
        voter: ((voterMask >> i) & 1) === 1,
        match: tagged(word(p + PEER.match.offset)),
        ackNs: word(p + PEER.ack_ns.offset),
        ackEpoch: dv.getUint32(p + PEER.ack_epoch.offset, true),
        ackCtx: tagged(word(p + PEER.ack_ctx.offset)),
      }
    })
    const votesWord = word(K + KERN.votes.offset)
    const votes: NodeId[] = []
    if (votesWord >> 32n === BigInt(epoch)) {
      const bits = Number(votesWord & 0xffffn)
      members.forEach((id, i) => {
        if ((bits >> i) & 1) votes.push(id)
      })
    }
    const counters: Record<string, Record<string, number>> = {}
    for (let t = 0; t < STATE_LAYOUT.types; t++) {
      for (let v = 0; v < VERDICT_COUNT; v++) {
        const c = Number(word(K + KERN.counters.offset + 8 * (t * STATE_LAYOUT.verdicts + v)))
        if (c === 0) continue
        const tn = TYPE_NAMES[t]!
        ;(counters[tn] ??= {})[VERDICT_NAMES[v]!] = c
      }
    }
    return {
      epoch,
      contactNs: word(K + KERN.contact_ns.offset),
      contactTerm: Number(word(K + KERN.contact_term.offset)),
      contactLeader: dv.getUint16(K + KERN.contact_leader.offset, true),
      contactPrev: Number(word(K + KERN.contact_prev.offset)),
      commitHint: Number(word(K + KERN.commit_hint.offset)),
      eventsLost: dv.getUint32(K + KERN.events_lost.offset, true),
      quorumPassed: tagged(word(K + KERN.quorum_passed.offset)),
      votes,
      peers,
      counters,
    }
  }

  /** One counter: how often the kernel gave `verdict` to messages of wire type `type`. */
  counter(type: number, verdict: number): number {
    const off = STATE_LAYOUT.kern.offset + KERN.counters.offset + 8 * (type * STATE_LAYOUT.verdicts + verdict)
    return Number(Atomics.load(this.u64, off / 8))
  }
}

/** The largest index or ctx the kernel can track (48 bits); larger values are always passed up. */
export const MAX_TRACKED_INDEX = MAX_TAGGED
