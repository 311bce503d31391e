// The real transport: fixed-size control messages over UDP (what the XDP path answers), and
// length-prefixed frames over TCP for appends, snapshots and forwarded reads. Every malformed
// input is counted and dropped; nothing a peer sends can throw out of a socket handler.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { MsgType, type Message, type NodeId, type SnapshotMeta } from '../raft/types.ts'
import { decodeDataMessage, encodeAppend, encodeReadIndex, encodeSnapshotChunk } from './datamsg.ts'
import { FrameDecoder } from './frame.ts'
import { decodeControl, encodeControl, isControlType, newWireCounters, type WireCounters } from './wire.ts'
import { HELLO_SIZE, HelloVerifier, encodeHello, helloKey } from './hello.ts'
import type { PeerResolver, SnapshotStream, Transport } from './transport.ts'

export interface NetTransportOptions {
  id: NodeId
  clusterId: number
  /** SipHash key for control messages; null runs without authentication (development only). */
  key: Uint8Array | null
  /** Where to listen (UDP and TCP share the port number). */
  host: string
  port: number
  peers: PeerResolver
  log: Logger
  /** Bytes queued on one peer connection beyond which appends are dropped (Raft resends). */
  maxQueuedBytes?: number
}

export interface TransportCounters {
  wire: WireCounters
  misaddressed: number
  udpSent: number
  udpReceived: number
  tcpFramesSent: number
  tcpFramesReceived: number
  tcpBadFrames: number
  /** Inbound connections refused at the handshake (no or a wrong cluster secret, unknown peer, replay). */
  tcpBadHello: number
  tcpDroppedBackpressure: number
  tcpConnects: number
}

/** How long an inbound data connection may take to present its hello. */
const HELLO_TIMEOUT_MS = 1000
const RECONNECT_MIN_MS = 20
/** A snapshot stream with no progress for this long is abandoned (the leader retries later). */
const SNAPSHOT_STALL_MS = 30_000
const RECONNECT_MAX_MS = 1000

/** One outbound TCP connection to a peer, reconnecting with backoff; never blocks the others. */
class PeerLink {
  private sock: Socket | null = null
  private connected = false
  private backoff = RECONNECT_MIN_MS
  private retryTimer: NodeJS.Timeout | null = null
  private pending: Buffer[] = []
  private pendingBytes = 0
  private closed = false
  private corked = false

  constructor(
    private readonly id: NodeId,
    private readonly t: NetTransport,
  ) {}

  write(frame: Buffer): void {
    if (this.closed) return
    if (this.connected && this.sock) {
      if (this.sock.writableLength > this.t.maxQueuedBytes) {
        // A slow or dead peer: drop rather than buffer without bound; Raft will resend.
        this.t.counters.tcpDroppedBackpressure++
        return
      }
      // Every frame for this peer written in the same tick (one Ready's appends, commit updates,
      // read-index messages) leaves in one writev: one syscall per peer per turn, not per frame.
      if (!this.corked) {
        const s = this.sock
        this.corked = true
        s.cork()
        process.nextTick(() => {
          this.corked = false
          s.uncork()
        })
      }
      this.sock.write(frame)
      this.t.counters.tcpFramesSent++
      return
    }
    if (this.pendingBytes + frame.length > this.t.maxQueuedBytes) {
      this.t.counters.tcpDroppedBackpressure++
      return
    }
    this.pending.push(frame)
    this.pendingBytes += frame.length
    this.ensureConnecting()
  }

  private ensureConnecting(): void {
    if (this.sock || this.retryTimer || this.closed) return
    const addr = this.t.peers(this.id)
    if (!addr) {
      this.pending = []
      this.pendingBytes = 0
      return
    }
    const s = connect({ host: addr.host, port: addr.port })
    this.sock = s
    s.setNoDelay(true)
    s.on('connect', () => {
      this.connected = true
      this.backoff = RECONNECT_MIN_MS
      this.t.counters.tcpConnects++
      s.write(this.t.hello(this.id))
      for (const f of this.pending) s.write(f)
      this.t.counters.tcpFramesSent += this.pending.length
      this.pending = []
      this.pendingBytes = 0
    })
    // Peers only ever send us data on their own connections; ignore anything coming back.
    s.on('data', () => undefined)
    s.on('error', () => undefined)
    s.on('close', () => {
      this.sock = null
      this.connected = false
      if (this.closed) return
      // Frames queued while down are stale by the time we reconnect: Raft resends what matters.
      this.pending = []
      this.pendingBytes = 0
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null
        if (this.pending.length > 0) this.ensureConnecting()
      }, this.backoff)
      this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS)
    })
  }

  close(): void {
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.sock?.destroy()
  }
}

export class NetTransport implements Transport {
  onMessage: (m: Message) => void = () => undefined
  onSnapshotChunk: (m: Message, meta: SnapshotMeta, chunk: Uint8Array, last: boolean, stream: SnapshotStream) => void | Promise<void> = () => undefined
  readonly counters: TransportCounters = {
    wire: newWireCounters(),
    misaddressed: 0,
    udpSent: 0,
    udpReceived: 0,
    tcpFramesSent: 0,
    tcpFramesReceived: 0,
    tcpBadFrames: 0,
    tcpBadHello: 0,
    tcpDroppedBackpressure: 0,
    tcpConnects: 0,
  }
  readonly maxQueuedBytes: number
  readonly peers: PeerResolver
  private readonly udp: UdpSocket
  private readonly tcp: Server
  private readonly links = new Map<NodeId, PeerLink>()
  private readonly inbound = new Set<Socket>()
  /** Numbers inbound connections, so the node can tell concurrent snapshot streams apart. */
  private streamSeq = 0

  private readonly helloKey: Buffer | null
  private readonly verifier: HelloVerifier

  private constructor(
    private readonly o: NetTransportOptions,
    udp: UdpSocket,
    tcp: Server,
  ) {
    this.udp = udp
    this.tcp = tcp
    this.peers = o.peers
    this.helloKey = helloKey(o.key)
    this.verifier = new HelloVerifier(this.helloKey, o.clusterId, o.id, (id) => o.peers(id) !== undefined)
    this.maxQueuedBytes = o.maxQueuedBytes ?? 64 << 20
  }

  static async listen(o: NetTransportOptions): Promise<NetTransport> {
    const udp = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false })
    const tcp = createServer()
    const t = new NetTransport(o, udp, tcp)
    udp.on('message', (buf) => t.onDatagram(buf))
    udp.on('error', (e) => o.log.error({ err: e }, 'udp socket error'))
    tcp.on('connection', (s) => t.onConnection(s))
    tcp.on('error', (e) => o.log.error({ err: e }, 'tcp server error'))
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(o.port, o.host, () => {
        udp.off('error', reject)
        resolve()
      })
    })
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(o.port, o.host, () => {
        tcp.off('error', reject)
        resolve()
      })
    })
    return t
  }

  send(m: Message): void {
    try {
      if (isControlType(m.type)) {
        const addr = this.peers(m.to)
        if (!addr) return
        // dgram keeps a reference until the packet is handed to the kernel: a fresh buffer each time.
        const buf = encodeControl(m, this.o.clusterId, this.o.key)
        this.udp.send(buf, addr.port, addr.host)
        this.counters.udpSent++
        return
      }
      let frame: Buffer
      if (m.type === MsgType.Append) frame = encodeAppend(m, this.o.clusterId)
      else if (m.type === MsgType.ReadIndex || m.type === MsgType.ReadIndexResp) frame = encodeReadIndex(m, this.o.clusterId)
      else return
      this.link(m.to).write(frame)
    } catch (e) {
      this.o.log.error({ err: e, type: m.type, to: m.to }, 'cannot encode message')
    }
  }

  async sendSnapshot(m: Message, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const addr = this.peers(m.to)
    if (!addr) throw new Error(`no address for node ${m.to}`)
    const s = connect({ host: addr.host, port: addr.port })
    // Every wait below also ends when the connection dies (an error, a reset, the peer killed):
    // a write to a destroyed socket never drains, and the caller must hear of the failure.
    let failure: Error | null = null
    s.on('error', (e) => {
      failure = e
    })
    const closed = new Promise<never>((_, reject) => s.once('close', () => reject(failure ?? new Error('connection closed'))))
    closed.catch(() => undefined)
    // A peer that stops reading (paused, partitioned) must not hold the stream open forever.
    s.setTimeout(SNAPSHOT_STALL_MS, () => s.destroy(new Error(`snapshot stream stalled for ${SNAPSHOT_STALL_MS} ms`)))
    try {
      await Promise.race([new Promise<void>((resolve) => s.once('connect', resolve)), closed])
      s.write(this.hello(m.to))
      let offset = 0
      const it = chunks[Symbol.asyncIterator]()
      let cur = await it.next()
      while (!cur.done) {
        const next = await it.next()
        const data = cur.value
        const frame = encodeSnapshotChunk(m, this.o.clusterId, { meta, offset, total: 0, last: next.done === true, data })
        offset += data.length
        if (s.destroyed) await closed
        // Respect backpressure: a snapshot may be far larger than memory wants to hold.
        if (!s.write(frame)) await Promise.race([new Promise<void>((resolve) => s.once('drain', resolve)), closed])
        this.counters.tcpFramesSent++
        cur = next
      }
      await Promise.race([new Promise<void>((resolve) => s.end(resolve)), closed])
      if (failure) throw failure
    } finally {
      s.destroy()
    }
  }

  private link(id: NodeId): PeerLink {
    let l = this.links.get(id)
    if (!l) {
      l = new PeerLink(id, this)
      this.links.set(id, l)
    }
    return l
  }

  private onDatagram(buf: Buffer): void {
    this.counters.udpReceived++
    const m = decodeControl(buf, this.o.clusterId, this.o.key, this.counters.wire)
    if (!m) return
    if (!this.peers(m.from) || m.from === this.o.id) {
      this.counters.wire.unknownPeer++
      return
    }
    if (m.to !== this.o.id) {
      this.counters.misaddressed++
      return
    }
    this.onMessage(m)
  }

  /** The handshake that opens every outbound data connection (see hello.ts). */
  hello(to: NodeId): Buffer {
    return encodeHello(this.helloKey, this.o.clusterId, this.o.id, to)
  }

  private onConnection(s: Socket): void {
    this.inbound.add(s)
    s.setNoDelay(true)
    // Nothing is decoded until the peer proved it holds the cluster secret.
    let peer: NodeId = 0
    let helloBuf = Buffer.alloc(0)
    // A connection that never completes its hello must not hold a socket forever.
    const helloTimer = setTimeout(() => {
      if (peer !== 0 || s.destroyed) return
      this.counters.tcpBadHello++
      this.o.log.warn({ reason: 'no hello in time', peer: s.remoteAddress }, 'data connection refused at the handshake')
      s.destroy()
    }, HELLO_TIMEOUT_MS)
    helloTimer.unref()
    const streamId = ++this.streamSeq
    // Chunks of one snapshot must be handled strictly in order, even though handling is async.
    let chain: Promise<void> = Promise.resolve()
    const dec = new FrameDecoder((kind, payload) => {
      const r = decodeDataMessage(kind, payload, this.o.clusterId)
      if (!r.ok) {
        this.counters.tcpBadFrames++
        this.o.log.warn({ code: r.error.code, msg: r.error.message, peer: s.remoteAddress }, 'bad data frame; closing connection')
        s.destroy()
        return
      }
      const { msg, chunk } = r.value
      if (msg.from !== peer || msg.to !== this.o.id) {
        this.counters.misaddressed++
        return
      }
      this.counters.tcpFramesReceived++
      if (chunk) {
        const data = chunk.data.slice()
        const stream: SnapshotStream = { id: streamId, offset: chunk.offset }
        chain = chain.then(() => this.onSnapshotChunk(msg, chunk.meta, data, chunk.last, stream)).catch(() => undefined)
        return
      }
      // Entries outlive the socket chunk they arrived in: copy so the log does not pin it.
      for (const e of msg.entries) e.data = e.data.slice()
      this.onMessage(msg)
    })
    s.on('data', (chunk: Buffer) => {
      let d = chunk
      if (peer === 0) {
        helloBuf = Buffer.concat([helloBuf, d])
        if (helloBuf.length < HELLO_SIZE) return
        const h = this.verifier.verify(helloBuf.subarray(0, HELLO_SIZE))
        if (!h.ok) {
          this.counters.tcpBadHello++
          this.o.log.warn({ reason: h.reason, peer: s.remoteAddress }, 'data connection refused at the handshake')
          s.destroy()
          return
        }
        peer = h.from
        clearTimeout(helloTimer)
        d = helloBuf.subarray(HELLO_SIZE)
        helloBuf = Buffer.alloc(0)
        if (d.length === 0) return
      }
      const err = dec.push(d)
      if (err && !s.destroyed) {
        this.counters.tcpBadFrames++
        this.o.log.warn({ code: err.code, msg: err.message, peer: s.remoteAddress }, 'bad data stream; closing connection')
        s.destroy()
      }
    })
    s.on('error', () => undefined)
    s.on('close', () => this.inbound.delete(s))
  }

  close(): void {
    for (const l of this.links.values()) l.close()
    for (const s of this.inbound) s.destroy()
    try {
      this.udp.close()
    } catch {
      // already closed
    }
    this.tcp.close()
  }
}
