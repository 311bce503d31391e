// A minimal RESP client connection for the harness: one command in flight, a timeout per command
// that destroys the connection (its reply could still arrive later, so the command's outcome is
// unknown), and no automatic reconnects or retries — a library that re-sends after a reconnect
// would turn one invocation into two.
import { connect, type Socket } from 'node:net'
import Parser from 'redis-parser'

export type RespValue = string | number | null | RespValue[] | RespError

/** An error reply (`-ERR …`): the server answered, with an error. */
export class RespError {
  constructor(readonly message: string) {}
}

/** The connection failed or timed out: the command may or may not have been executed. */
export class ConnLost extends Error {}

export class RespConn {
  private readonly parser: Parser
  private waiter: { resolve: (v: RespValue) => void; reject: (e: Error) => void } | null = null
  private dead: Error | null = null

  private constructor(private readonly sock: Socket) {
    this.parser = new Parser({
      returnReply: (r: unknown) => this.settle(r as RespValue),
      returnError: (e: Error) => this.settle(new RespError(e.message)),
      returnFatalError: (e: Error) => this.fail(new ConnLost(`protocol error: ${e.message}`)),
    })
    sock.on('data', (d: Buffer) => this.parser.execute(d))
    sock.on('error', (e) => this.fail(new ConnLost(e.message)))
    sock.on('close', () => this.fail(new ConnLost('connection closed')))
  }

  static connect(host: string, port: number, timeoutMs: number): Promise<RespConn> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port })
      sock.setNoDelay(true)
      const timer = setTimeout(() => {
        sock.destroy()
        reject(new ConnLost('connect timeout'))
      }, timeoutMs)
      sock.once('connect', () => {
        clearTimeout(timer)
        resolve(new RespConn(sock))
      })
      sock.once('error', (e) => {
        clearTimeout(timer)
        reject(new ConnLost(e.message))
      })
    })
  }

  get alive(): boolean {
    return this.dead === null
  }

  private settle(v: RespValue): void {
    const w = this.waiter
    this.waiter = null
    w?.resolve(v)
  }

  private fail(e: Error): void {
    if (!this.dead) this.dead = e
    this.sock.destroy()
    const w = this.waiter
    this.waiter = null
    w?.reject(e)
  }

  /** Sends one command and waits for its reply; ConnLost on timeout or a broken connection. */
  call(args: (string | Buffer)[], timeoutMs: number): Promise<RespValue> {
    if (this.dead) return Promise.reject(this.dead)
    if (this.waiter) return Promise.reject(new Error('one command in flight at a time'))
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ConnLost(`timeout after ${timeoutMs} ms`)), timeoutMs)
      this.waiter = {
        resolve: (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      this.sock.write(encodeCommand(args))
    })
  }

  close(): void {
    this.fail(new ConnLost('closed by the client'))
  }
}

export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}
