// One client connection: bytes in → commands → replies out, in pipeline order even when some
// replies come later than others (a per-connection queue of reply slots, written from its head).
// Memory stays bounded: a bulk is at most 512 MB (the parser), and when too many replies are
// pending or the socket's output backs up, reading pauses until they drain.
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Dispatcher } from '../commands/dispatch.ts'
import type { ClientState } from '../commands/types.ts'
import { err, type Reply } from '../reply.ts'
import type { KvService } from '../service.ts'
import { Gate } from './gate.ts'
import { ProtocolError, RequestParser } from './parser.ts'
import { ReplyWriter, type Proto } from './writer.ts'

/** Pause reading beyond this many unanswered commands, or this much unsent output. */
const MAX_PENDING = 10_000
const MAX_OUTPUT = 64 * 1024 * 1024

interface Slot {
  reply: Reply | null
  proto: Proto
}

let nextId = 1

export class Connection implements ClientState {
  readonly id = nextId++
  name = ''
  proto: Proto = 2
  authenticated: boolean
  readonlyMode = false
  libName = ''
  libVer = ''
  multi: Buffer[][] | null = null
  multiDirty = false
  watches: ClientState['watches'] = []
  peer = false
  closeAfterReply = false
  readonly gate = new Gate()
  private readonly parser: RequestParser
  private readonly writer = new ReplyWriter()
  private readonly slots: Slot[] = []
  private closing = false
  private paused = false
  private drainScheduled = false
  private readonly createdAt = Date.now()
  private lastAt = Date.now()
  private lastCmd = 'NULL'
  private readonly addr: string
  private readonly laddr: string

  constructor(
    private readonly sock: Socket,
    private readonly d: Dispatcher,
    private readonly svc: KvService,
    private readonly log: Logger,
  ) {
    this.authenticated = svc.cfg.requirepass === null
    this.parser = new RequestParser(() => this.svc.cfg.requirepass !== null && !this.authenticated)
    this.addr = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? 0}`
    this.laddr = `${sock.localAddress ?? '?'}:${sock.localPort ?? 0}`
    sock.setNoDelay(true)
    sock.on('data', (b: Buffer) => this.onData(b))
    sock.on('drain', () => this.maybeResume())
    sock.on('error', (e) => this.log.debug({ err: e, client: this.id }, 'client connection error'))
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return
    try {
      this.parser.feed(chunk, (argv) => this.command(argv))
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.svc.stats.protocolErrors++
      // Past the query buffer limit Redis drops the client without a word.
      if (e.message === '') {
        this.sock.destroy()
        return
      }
      this.log.debug({ client: this.id, addr: this.addr, error: e.message }, 'protocol error; closing the connection')
      this.push(err(`ERR ${e.message}`))
      this.closing = true
    }
    this.drain()
    if (!this.paused && (this.slots.length > MAX_PENDING || this.sock.writableLength > MAX_OUTPUT)) {
      this.paused = true
      this.sock.pause()
    }
  }

  private command(argv: Buffer[]): void {
    // After QUIT or a protocol error nothing more is read, as in Redis.
    if (this.closing) return
    this.svc.stats.commandsProcessed++
    this.lastAt = Date.now()
    this.lastCmd = argv[0]!.toString('latin1').toLowerCase()
    let r: Reply | Promise<Reply>
    try {
      r = this.d.execute(this, argv)
    } catch (e) {
      this.log.error({ err: e, cmd: this.lastCmd }, 'command failed')
      r = err(`ERR internal error: ${(e as Error).message}`)
    }
    if (r instanceof Promise) {
      // The reply's protocol is the one in force when the command ran (HELLO may switch later).
      const slot: Slot = { reply: null, proto: this.proto }
      this.slots.push(slot)
      r.then(
        (v) => {
          slot.reply = v
          this.drainSoon()
        },
        (e: unknown) => {
          this.log.error({ err: e, cmd: this.lastCmd }, 'command failed')
          slot.reply = err(`ERR internal error: ${(e as Error).message}`)
          this.drainSoon()
        },
      )
    } else this.push(r)
    if (this.closeAfterReply) this.closing = true
  }

  private push(r: Reply): void {
    if (this.slots.length === 0) this.writer.write(r, this.proto)
    else this.slots.push({ reply: r, proto: this.proto })
  }

  /**
   * Replies resolved by one Raft apply arrive together: write them all at the end of this turn of
   * the event loop, in one socket write, not one write (one syscall) per reply.
   */
  private drainSoon(): void {
    if (this.drainScheduled) return
    this.drainScheduled = true
    setImmediate(() => {
      this.drainScheduled = false
      this.drain()
    })
  }

  /** Writes the replies that are ready at the head of the queue, then flushes. */
  private drain(): void {
    while (this.slots.length > 0 && this.slots[0]!.reply !== null) {
      const s = this.slots.shift()!
      this.writer.write(s.reply!, s.proto)
    }
    const out = this.writer.take()
    if (this.sock.destroyed) return
    if (out.length === 1) this.sock.write(out[0]!)
    else if (out.length > 1) {
      this.sock.cork()
      for (const b of out) this.sock.write(b)
      this.sock.uncork()
    }
    if (this.closing && this.slots.length === 0) this.sock.end()
    this.maybeResume()
  }

  private maybeResume(): void {
    if (this.paused && this.slots.length < MAX_PENDING / 10 && this.sock.writableLength < MAX_OUTPUT / 4) {
      this.paused = false
      this.sock.resume()
    }
  }

  reset(): void {
    this.multi = null
    this.multiDirty = false
    this.watches = []
    this.proto = 2
    this.name = ''
    this.readonlyMode = false
    this.authenticated = this.svc.cfg.requirepass === null
  }

  describe(): string {
    const now = Date.now()
    const flags = `${this.multi ? 'x' : ''}${this.readonlyMode ? 'r' : ''}` || 'N'
    return [
      `id=${this.id}`,
      `addr=${this.addr}`,
      `laddr=${this.laddr}`,
      'fd=-1',
      `name=${this.name}`,
      `age=${Math.floor((now - this.createdAt) / 1000)}`,
      `idle=${Math.floor((now - this.lastAt) / 1000)}`,
      `flags=${flags}`,
      'db=0 sub=0 psub=0 ssub=0',
      `multi=${this.multi ? this.multi.length : -1}`,
      `qbuf=${this.parser.buffered}`,
      'qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0',
      `obl=0 oll=${this.slots.length}`,
      `omem=${this.sock.writableLength}`,
      'tot-mem=0 events=r',
      `cmd=${this.lastCmd}`,
      'user=default redir=-1',
      `resp=${this.proto}`,
      `lib-name=${this.libName}`,
      `lib-ver=${this.libVer}`,
    ].join(' ')
  }
}
