// What Redis's processCommand does, in its order: look the command up (unknown command, unknown
// subcommand), check arity, check authentication, queue inside MULTI (errors here doom the
// transaction: EXECABORT), then run — and route the outcome: replies at once, reads through the
// read barrier (or stale in READONLY mode), writes to the leader (proposed here, proxied, or
// -MOVED), all ordered per connection by its gate.
import { E, err, status, type Reply } from '../reply.ts'
import type { WriteOp } from '../request.ts'
import type { KvService, LocalOutcome, Planned, Session } from '../service.ts'
import type { FwdPayload } from '../proxy.ts'
import { InternalClient } from '../resp/internal-client.ts'
import { opt, text } from './args.ts'
import type { ClientState, Command, CommandTable, Ctx, Outcome, Post } from './types.ts'

/** Commands that are run, not queued, inside MULTI. */
const TX_CONTROL = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset'])
const identity: Post = (r) => r
const QUEUED = status('QUEUED')

/** "'a' 'b' " — the start of the arguments, as Redis quotes them in "unknown command". */
function argsPreview(argv: Buffer[]): string {
  let s = ''
  for (let i = 1; i < argv.length && s.length < 128; i++) s += `'${text(argv[i]!).slice(0, 128 - s.length)}' `
  return s
}

function arityOk(c: Command, argc: number): boolean {
  return c.arity > 0 ? argc === c.arity : argc >= -c.arity
}

/** The first key of a command (for the slot of -MOVED), or null if it has none. */
export function firstKey(c: Command, argv: Uint8Array[]): Uint8Array | null {
  const i = c.keys[0]
  return i > 0 && i < argv.length ? argv[i]! : null
}

export class Dispatcher {
  constructor(
    readonly svc: KvService,
    readonly table: CommandTable,
  ) {}

  ctx(c: ClientState, now = Date.now()): Ctx {
    return { svc: this.svc, c, now, table: this.table }
  }

  /** The command argv names, or the error Redis gives (unknown command or subcommand, arity). */
  lookup(argv: Buffer[]): Command | Reply {
    const name = opt(argv[0]!)
    let c = this.table.get(name)
    if (!c) return err(E.unknown(text(argv[0]!).slice(0, 128), argsPreview(argv)))
    if (c.subs && argv.length >= 2) {
      const sub = c.subs.get(opt(argv[1]!))
      if (!sub) return err(E.unknownSub(text(argv[1]!).slice(0, 128), name.toUpperCase()))
      c = sub
    }
    if (!arityOk(c, argv.length)) return err(E.arity(c.name))
    return c
  }

  /** Runs one command of connection `c`: the reply, now or later. */
  execute(c: ClientState, argv: Buffer[]): Reply | Promise<Reply> {
    const found = this.lookup(argv)
    if ('k' in found) return this.reject(c, found)
    const cmd = found
    if (this.svc.cfg.requirepass !== null && !c.authenticated && !cmd.flags.includes('no_auth')) return this.reject(c, err(E.noAuth))
    if (c.multi && !TX_CONTROL.has(cmd.name)) {
      if (cmd.flags.includes('no_multi')) return this.reject(c, err(E.notInMulti))
      const moved = this.movedInMulti(cmd, argv)
      if (moved) return this.reject(c, moved)
      c.multi.push(argv)
      return QUEUED
    }
    const ctx = this.ctx(c)
    return this.perform(c, cmd, argv, ctx, cmd.run(ctx, argv))
  }

  /** An error while queuing dooms the transaction (EXEC answers EXECABORT). */
  private reject(c: ClientState, r: Reply): Reply {
    if (c.multi) c.multiDirty = true
    return r
  }

  /**
   * In redirect mode a follower sends keyed data commands of a transaction to the leader at queue
   * time, as Redis Cluster does (the transaction must run where the data is written).
   */
  private movedInMulti(cmd: Command, argv: Buffer[]): Reply | null {
    if (!this.svc.cfg.redirect || this.svc.isLeader()) return null
    const key = firstKey(cmd, argv)
    if (!key) return null
    const leader = this.svc.leaderId()
    const a = leader ? this.svc.cfg.respAddr(leader) : undefined
    if (!a) return err(E.clusterDown)
    return err(`MOVED ${this.svc.slotOf(key)} ${a.host}:${a.port}`)
  }

  perform(c: ClientState, cmd: Command, argv: Buffer[], ctx: Ctx, o: Outcome): Reply | Promise<Reply> {
    switch (o.t) {
      case 'reply':
        return o.reply
      case 'read': {
        const post = o.post ?? identity
        return c.gate.run('read', () => this.svc.read(o.op, c.readonlyMode)).then(post)
      }
      case 'write': {
        const first: Planned = { ops: [o.op], post: o.post ?? identity }
        return c.gate.run('write', () =>
          this.svc.submitWrite({
            lane: c.id,
            argvs: [argv],
            multi: false,
            now: ctx.now,
            // The first attempt reuses this plan; a retry on a new leader plans again with its clock.
            plan: (now) => (now === ctx.now ? first : this.planOne(argv, c, now)),
            key: firstKey(cmd, argv),
          }),
        )
      }
      case 'async':
        return c.gate.run(o.order, o.run)
    }
  }

  /** Plans one write command at time `now` (on the leader). */
  planOne(argv: Buffer[], c: ClientState, now: number): Planned {
    const found = this.lookup(argv)
    if ('k' in found) return { reply: found }
    const o = found.run(this.ctx(c, now), argv)
    if (o.t === 'reply') return { reply: o.reply }
    if (o.t === 'async') return { reply: err('ERR this command cannot be forwarded to the leader') }
    return { ops: [o.op], post: o.post ?? identity }
  }

  /**
   * Plans a transaction at time `now`: every queued command's op goes into one request (one log
   * entry), replies that need no data are slotted in around the machine's replies.
   */
  planMany(argvs: Buffer[][], c: ClientState, now: number): Planned {
    const ops: WriteOp[] = []
    const slots: ({ i: number; post: Post } | { reply: Reply })[] = []
    for (const argv of argvs) {
      const found = this.lookup(argv)
      if ('k' in found) {
        slots.push({ reply: found })
        continue
      }
      const o = found.run(this.ctx(c, now), argv)
      if (o.t === 'reply') slots.push({ reply: o.reply })
      else if (o.t === 'async') slots.push({ reply: err('ERR this command is not supported inside MULTI') })
      else {
        slots.push({ i: ops.length, post: o.post ?? identity })
        ops.push(o.op)
      }
    }
    const post = (r: Reply): Reply => {
      // A WATCHed key changed (null array) or the request failed as a whole: that is the answer.
      if (r.k !== 'array' || r.v === null) return r
      const got = r.v
      return { k: 'array', v: slots.map((s) => ('reply' in s ? s.reply : s.post(got[s.i] ?? err('ERR missing reply')))) }
    }
    return { ops, post }
  }

  /**
   * Runs a write forwarded by a follower's proxy (or re-run here after this node became leader),
   * planned under a fresh connection state: connection commands inside a forwarded transaction
   * were applied by the client's own connection, and must not touch the proxy's.
   */
  runForwarded(p: FwdPayload, session: Session): Promise<LocalOutcome> {
    const c = new InternalClient()
    const argvs = p.a.map((a) => a.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)))
    const plan = (now: number): Planned => (p.m ? this.planMany(argvs, c, now) : this.planOne(argvs[0]!, c, now))
    return this.svc.proposeLocal(plan, Date.now(), { multi: p.m, ...(p.w ? { watch: p.w } : {}), session })
  }
}
