// A follower's writes go to the leader through this proxy: a few pooled RESP connections
// ("lanes") to the leader's RESP address, each carrying `RAFTKV.FWD <client> <seq> <ack> <payload>`
// and parsing the leader's replies with redis-parser.
//
// Each lane is one deduplication session (a client id for the lane's lifetime, a sequence number
// per write): after a lost connection, a leader change or an unknown outcome, the lane re-sends
// the same (client, seq), and the state machine answers a retry of an applied write with the
// first reply instead of applying it twice. A client connection always uses the same lane, so its
// writes reach the leader — and the log — in the order it sent them.
import { createHmac, randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { pack, unpack } from './pack.ts'
import Parser from 'redis-parser'
import type { Logger } from 'pino'
import type { NodeId } from '../raft/types.ts'
import type { PeerAddress } from '../transport/transport.ts'
import { E, err, type Reply } from './reply.ts'
import type { Forwarder, KvService, LocalOutcome, Session, WriteJob } from './service.ts'

const LANES = 4
/** How long to wait before re-sending after a failure (a new leader needs an election or so). */
const RETRY_MS = 20

/** What travels in RAFTKV.FWD: the commands, whether they are one transaction, its WATCH list. */
export interface FwdPayload {
  a: Uint8Array[][]
  m: boolean
  w?: [Uint8Array, number][]
}

export function encodePayload(p: FwdPayload): Uint8Array {
  return pack(p)
}

export function decodePayload(b: Uint8Array): FwdPayload | undefined {
  try {
    const v = unpack(b) as Partial<FwdPayload>
    if (!Array.isArray(v.a) || !v.a.every((x) => Array.isArray(x) && x.length > 0 && x.every((y) => y instanceof Uint8Array))) return undefined
    if (typeof v.m !== 'boolean') return undefined
    return v as FwdPayload
  } catch {
    return undefined
  }
}

export function encodeReply(r: Reply): Uint8Array {
  return pack(r)
}

/** The proof a peer gives in RAFTKV.PEER: an HMAC of its id under the cluster secret. */
export function peerProof(secret: string | null, id: NodeId): string {
  return createHmac('sha256', secret ?? '').update(`raftkv-resp-peer:${id}`).digest('hex')
}

function frame(args: (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : Buffer.from(a.buffer, a.byteOffset, a.byteLength)
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

interface Pending {
  seq: number
  payload: Uint8Array
  deadline: number
  /** Sent at least once without a definite answer: it may have been proposed. */
  uncertain: boolean
  state: 'queued' | 'sent' | 'local'
  resolve: (r: Reply) => void
  timer: NodeJS.Timeout
  lastError: string
}

/**
 * Whether a request without an answer may have been proposed: it was seen to be (uncertain), or it
 * is on the wire to the leader or running here right now. A request still written to a socket may
 * reach the leader and commit after we give up on it (found by the fault harness: a follower paused
 * past the deadline answered -CLUSTERDOWN for a write the leader had applied), so only one that is
 * queued and was never uncertain definitely did not happen.
 */
function mayHaveBeenProposed(p: Pending): boolean {
  return p.uncertain || p.state !== 'queued'
}

type Expect = { t: 'hello' } | { t: 'fwd'; seq: number }

export interface ProxyDeps {
  svc: KvService
  log: Logger
  /** Runs a forwarded request on this node, when it has become the leader itself. */
  local: (payload: FwdPayload, session: Session) => Promise<LocalOutcome>
  respAddr: (id: NodeId) => PeerAddress | undefined
  selfId: NodeId
  password: string | null
  secret: string | null
}

class Lane {
  readonly client: string
  private seq = 0
  private readonly pending = new Map<number, Pending>()
  private sock: Socket | null = null
  private target: NodeId = 0
  private expect: Expect[] = []
  private retryTimer: NodeJS.Timeout | null = null
  private closed = false

  constructor(
    private readonly d: ProxyDeps,
    index: number,
  ) {
    // One session per lane and process lifetime; a restart starts a new one.
    this.client = `fwd:${d.selfId}:${randomBytes(6).toString('hex')}:${index}`
  }

  forward(payload: Uint8Array, deadline: number): Promise<Reply> {
    return new Promise<Reply>((resolve) => {
      const seq = ++this.seq
      const p: Pending = {
        seq,
        payload,
        deadline,
        uncertain: false,
        state: 'queued',
        resolve,
        lastError: '',
        timer: setTimeout(() => this.expire(seq), Math.max(0, deadline - Date.now())),
      }
      this.pending.set(seq, p)
      this.pump()
    })
  }

  /** The lowest sequence without an answer: the leader may forget replies below it. */
  private ack(): number {
    for (const s of this.pending.keys()) return s
    return this.seq + 1
  }

  private finish(p: Pending, r: Reply): void {
    if (!this.pending.delete(p.seq)) return
    clearTimeout(p.timer)
    p.resolve(r)
  }

  private expire(seq: number): void {
    const p = this.pending.get(seq)
    if (!p) return
    // May it have been proposed? Then its outcome is unknown, never a definite failure.
    this.finish(p, err(mayHaveBeenProposed(p) ? E.timeout : p.lastError || E.clusterDown))
  }

  /** Sends every queued request to wherever the leader is now. */
  private pump(): void {
    if (this.closed) return
    const st = this.d.svc.node.status()
    const leader = st.leader
    if (leader === 0) return this.later()
    if (leader === this.d.selfId) {
      // This node leads now: run the queued requests here, under the same session.
      this.dropSocket()
      for (const p of this.pending.values()) if (p.state === 'queued') this.runLocal(p)
      return
    }
    if (!this.sock || this.target !== leader) {
      if (!this.open(leader)) return this.later()
    }
    for (const p of this.pending.values()) {
      if (p.state !== 'queued') continue
      p.state = 'sent'
      this.expect.push({ t: 'fwd', seq: p.seq })
      this.sock!.write(frame(['RAFTKV.FWD', this.client, String(p.seq), String(this.ack()), p.payload]))
    }
  }

  private runLocal(p: Pending): void {
    const payload = decodePayload(p.payload)
    if (!payload) return this.finish(p, err('ERR proxy: undecodable payload'))
    p.state = 'local'
    this.d
      .local(payload, { client: this.client, seq: p.seq, ack: this.ack() })
      .then((o) => this.outcome(p, o))
      .catch((e: unknown) => {
        this.d.log.warn({ err: e }, 'local execution of a forwarded write failed')
        p.uncertain = true
        this.requeue(p)
      })
  }

  private outcome(p: Pending, o: LocalOutcome): void {
    if (o.t === 'reply') return this.finish(p, o.reply)
    if (o.t === 'unknown') p.uncertain = true
    this.requeue(p)
  }

  private requeue(p: Pending): void {
    if (!this.pending.has(p.seq)) return
    p.state = 'queued'
    this.later()
  }

  private later(): void {
    if (this.retryTimer || this.closed) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.pump()
    }, RETRY_MS)
  }

  private open(leader: NodeId): boolean {
    this.dropSocket()
    const addr = this.d.respAddr(leader)
    if (!addr) return false
    const sock = connect({ host: addr.host, port: addr.port, noDelay: true })
    this.sock = sock
    this.target = leader
    this.expect = []
    const parser = new Parser({
      returnBuffers: true,
      returnReply: (r: unknown) => this.onReply(sock, r, null),
      returnError: (e: Error) => this.onReply(sock, null, e.message),
      returnFatalError: (e: Error) => {
        this.d.log.warn({ err: e }, 'proxy: unparsable reply from the leader')
        sock.destroy()
      },
    })
    // Until the connection is established nothing written has left this process: a write queued
    // on a connection that never opened certainly did not reach the leader.
    let connected = false
    sock.on('connect', () => (connected = true))
    sock.on('data', (b: Buffer) => parser.execute(b))
    sock.on('error', (e) => this.d.log.debug({ err: e, leader }, 'proxy connection error'))
    sock.on('close', () => this.onClose(sock, connected))
    // Authenticate as a client would, then as a peer; replies come back in this order.
    if (this.d.password !== null) {
      this.expect.push({ t: 'hello' })
      sock.write(frame(['AUTH', this.d.password]))
    }
    this.expect.push({ t: 'hello' })
    sock.write(frame(['RAFTKV.PEER', String(this.d.selfId), peerProof(this.d.secret, this.d.selfId)]))
    return true
  }

  private onReply(sock: Socket, r: unknown, error: string | null): void {
    if (sock !== this.sock) return
    const x = this.expect.shift()
    if (!x) return
    if (x.t === 'hello') {
      if (error !== null) {
        this.d.log.warn({ error }, 'proxy: the leader refused this peer')
        for (const p of this.pending.values()) p.lastError = `ERR proxy to the leader refused: ${error}`
        sock.destroy()
      }
      return
    }
    const p = this.pending.get(x.seq)
    if (!p || p.state !== 'sent') return
    if (error === null) {
      if (!(r instanceof Buffer)) return this.finish(p, err('ERR proxy: unexpected reply from the leader'))
      let reply: Reply
      try {
        reply = unpack(r) as Reply
      } catch {
        return this.finish(p, err('ERR proxy: undecodable reply from the leader'))
      }
      return this.finish(p, reply)
    }
    if (error.startsWith('RAFTKV.NOTLEADER') || error.startsWith('RAFTKV.RETRY')) return this.requeue(p)
    if (error.startsWith('RAFTKV.UNKNOWN')) {
      p.uncertain = true
      return this.requeue(p)
    }
    // A definite refusal by the leader (it did not propose): pass it on.
    this.finish(p, err(error))
  }

  private onClose(sock: Socket, connected: boolean): void {
    if (sock !== this.sock) return
    this.sock = null
    this.target = 0
    this.expect = []
    for (const p of this.pending.values()) {
      if (p.state !== 'sent') continue
      // The request may have reached the leader: from now on its outcome may be unknown.
      if (connected) p.uncertain = true
      p.state = 'queued'
    }
    if (this.pending.size > 0) this.later()
  }

  private dropSocket(): void {
    const s = this.sock
    if (!s) return
    // Dropped on purpose (a new leader): anything sent on it may have arrived.
    this.onClose(s, !s.connecting)
    s.destroy()
  }

  close(): void {
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.dropSocket()
    for (const p of [...this.pending.values()]) this.finish(p, err(mayHaveBeenProposed(p) ? E.timeout : E.clusterDown))
  }
}

export class LeaderProxy implements Forwarder {
  private readonly lanes: Lane[]

  constructor(d: ProxyDeps) {
    this.lanes = Array.from({ length: LANES }, (_, i) => new Lane(d, i))
  }

  forward(job: WriteJob, deadline: number): Promise<Reply> {
    const payload = encodePayload({ a: job.argvs, m: job.multi, ...(job.watch ? { w: job.watch } : {}) })
    return this.lanes[job.lane % LANES]!.forward(payload, deadline)
  }

  close(): void {
    for (const l of this.lanes) l.close()
  }
}
