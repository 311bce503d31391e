// The key-value service between the wire (RESP) and Raft: linearizable reads through a coalesced
// read barrier, writes proposed on the leader (with `now` and absolute TTLs fixed there), proxied
// to the leader from followers (or answered with -MOVED in redirect mode), and the mapping of Raft
// outcomes to replies: nothing proposed and no leader → -CLUSTERDOWN; maybe proposed → -TIMEOUT.
import { setTimeout as sleep } from 'node:timers/promises'
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { NodeId } from '../raft/types.ts'
import type { RaftStorage } from '../storage/raft-storage.ts'
import type { PeerAddress } from '../transport/transport.ts'
import { DroppedError, NotLeaderError, ReadFailedError, RefusedError, UnknownOutcomeError } from '../node/errors.ts'
import type { RaftNode } from '../node/raftnode.ts'
import { confirmRead } from '../node/confirm-read.ts'
import { ReadBarrier } from './barrier.ts'
import { CursorTable } from './cursors.ts'
import type { ClientState } from './commands/types.ts'
import type { KvMachine } from './machine.ts'
import { E, err, type Reply } from './reply.ts'
import { encodeRequest, type ReadOp, type WriteOp } from './request.ts'

export interface ServiceConfig {
  id: NodeId
  clusterId: number
  /** Clients must AUTH with this password (Redis's requirepass); null = no password. */
  requirepass: string | null
  /** Followers answer writes with -MOVED instead of proxying them. */
  redirect: boolean
  /** The RESP address clients use for a member (this node included). */
  respAddr: (id: NodeId) => PeerAddress | undefined
  /** The Raft address of a member (the "bus port" of CLUSTER NODES). */
  raftAddr: (id: NodeId) => PeerAddress | undefined
  /** Proves to the leader that a proxy connection comes from a peer (HMAC key). */
  secret: string | null
  requestTimeoutMs: number
}

/** What planning a write on the leader gives: ops to propose (and how to shape the reply), or a reply. */
export type Planned = { ops: WriteOp[]; post: (r: Reply) => Reply } | { reply: Reply }

/** The outcome of one attempt to propose on this node. */
export type LocalOutcome = { t: 'reply'; reply: Reply } | { t: 'not-leader'; leader: NodeId } | { t: 'unknown' } | { t: 'retry' }

export interface Session {
  client: string
  seq: number
  ack: number
}

/** A write as the connection hands it over: enough to plan it here or forward it to the leader. */
export interface WriteJob {
  /** Which proxy lane carries it (one per client connection, so a connection's writes stay in order). */
  lane: number
  /** The commands, to forward to the leader. */
  argvs: Uint8Array[][]
  multi: boolean
  watch?: [Uint8Array, number][]
  /** The clock the first plan was made with (reused by the first attempt on the leader). */
  now: number
  /** Builds the request on the leader at time `now`. */
  plan: (now: number) => Planned
  /** The first key (for the slot of -MOVED), or null. */
  key: Uint8Array | null
}

export interface Forwarder {
  forward(job: WriteJob, deadline: number): Promise<Reply>
  close(): void
}

export class KvService {
  readonly barrier: ReadBarrier
  readonly cursors = new CursorTable()
  /** Set by main: forwards writes to the leader (proxy.ts). */
  forwarder: Forwarder | null = null
  /** Set by main: the cluster slot of a key (for -MOVED). */
  slotOf: (key: Uint8Array) => number = () => 0
  readonly startedAt = Date.now()
  readonly counters = { reads: 0, staleReads: 0, writes: 0, proxied: 0, moved: 0, timeouts: 0, clusterDown: 0 }
  /** Connection and command counts (INFO stats), kept by the RESP server. */
  readonly stats = { connectionsReceived: 0, commandsProcessed: 0, rejectedConnections: 0, protocolErrors: 0 }
  /** Open client connections by id (CLIENT LIST, INFO clients), kept by the RESP server. */
  readonly clients = new Map<number, ClientState>()
  /** Keys reclaimed by active expiry on this node (INFO expired_keys). */
  expiredKeys: () => number = () => 0
  /** The port the RESP server listens on (INFO tcp_port). */
  port = 0

  constructor(
    readonly node: RaftNode,
    readonly sm: KvMachine,
    readonly storage: RaftStorage,
    readonly cfg: ServiceConfig,
    readonly log: Logger,
  ) {
    this.barrier = new ReadBarrier(() => node.linearizableRead())
  }

  isLeader(): boolean {
    const st = this.node.status()
    return st.role === 'leader'
  }

  leaderId(): NodeId {
    return this.node.status().leader
  }

  /** A deterministic 40-hex-character cluster node id for a Raft node id (CLUSTER NODES, MYID). */
  nodeName(id: NodeId): string {
    return createHash('sha1').update(`raftkv:${this.cfg.clusterId}:node:${id}`).digest('hex')
  }

  shardName(): string {
    return createHash('sha1').update(`raftkv:${this.cfg.clusterId}:shard`).digest('hex')
  }

  // ---- reads ------------------------------------------------------------------------------------

  /** Answers a read: linearizable (after a read barrier) unless `stale`. Retries until the deadline. */
  async read(op: ReadOp, stale: boolean): Promise<Reply> {
    if (stale) {
      this.counters.staleReads++
      return this.sm.read(op)
    }
    this.counters.reads++
    const failed = await this.sync()
    return failed ?? this.sm.read(op)
  }

  /** A barrier alone (WATCH reads revisions after it). */
  async sync(): Promise<Reply | null> {
    try {
      await confirmRead(() => this.barrier.wait(), this.cfg.requestTimeoutMs)
      return null
    } catch (e) {
      if (!(e instanceof NotLeaderError || e instanceof ReadFailedError)) throw e
      return err(this.leaderId() ? E.readTimeout : E.clusterDown)
    }
  }

  // ---- writes -----------------------------------------------------------------------------------

  /**
   * One attempt to propose on this node. Synchronous up to node.propose, so writes submitted in
   * order are proposed in order (their log indexes follow the submission order).
   */
  proposeLocal(plan: (now: number) => Planned, now: number, opts: { multi: boolean; watch?: [Uint8Array, number][]; session?: Session }): Promise<LocalOutcome> {
    if (!this.isLeader()) return Promise.resolve({ t: 'not-leader', leader: this.leaderId() })
    const p = plan(now)
    if ('reply' in p) return Promise.resolve({ t: 'reply', reply: p.reply })
    const s = opts.session
    const data = encodeRequest({
      now,
      ops: p.ops,
      ...(opts.multi ? { multi: true } : {}),
      ...(opts.watch && opts.watch.length > 0 ? { watch: opts.watch } : {}),
      ...(s ? { client: s.client, seq: s.seq, ack: s.ack } : {}),
    })
    this.counters.writes++
    return this.node.propose(data).then(
      (r): LocalOutcome => ({ t: 'reply', reply: p.post(r) }),
      (e: unknown): LocalOutcome => {
        if (e instanceof NotLeaderError) return { t: 'not-leader', leader: e.leader }
        if (e instanceof UnknownOutcomeError) return { t: 'unknown' }
        if (e instanceof DroppedError || e instanceof RefusedError) return { t: 'retry' }
        throw e
      },
    )
  }

  /** Executes a write wherever it must go; never a definite error for a write that may commit. */
  async submitWrite(job: WriteJob): Promise<Reply> {
    const deadline = Date.now() + this.cfg.requestTimeoutMs
    let now = job.now
    for (;;) {
      const st = this.node.status()
      if (st.role === 'leader') {
        const o = await this.proposeLocal(job.plan, now, { multi: job.multi, ...(job.watch ? { watch: job.watch } : {}) })
        if (o.t === 'reply') return o.reply
        if (o.t === 'unknown') {
          // Without a session the entry cannot be retried safely: its fate is for the client to learn.
          this.counters.timeouts++
          return err(E.timeout)
        }
        // Not leader any more, dropped or refused: definitely not applied, so try again.
        await sleep(o.t === 'retry' ? 5 : 0)
      } else if (st.leader !== 0) {
        if (this.cfg.redirect) {
          const a = this.cfg.respAddr(st.leader)
          if (a) {
            this.counters.moved++
            return err(`MOVED ${job.key ? this.slotOf(job.key) : 0} ${hostPort(a)}`)
          }
        }
        if (this.forwarder) {
          this.counters.proxied++
          return this.forwarder.forward(job, deadline)
        }
        await sleep(20)
      } else {
        await sleep(10)
      }
      if (Date.now() >= deadline) {
        this.counters.clusterDown++
        return err(E.clusterDown)
      }
      now = Date.now()
    }
  }
}

/** host:port as Redis prints addresses (IPv6 hosts unbracketed, like Redis's MOVED). */
export function hostPort(a: PeerAddress): string {
  return `${a.host}:${a.port}`
}
