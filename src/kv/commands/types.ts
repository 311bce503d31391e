// What a command is: its Redis metadata (arity, flags, key positions — what COMMAND INFO reports
// and what the dispatcher checks) and a `run` that turns arguments into an Outcome: a reply at
// once, a read op, a write op, or some asynchronous work. Commands never touch Raft themselves:
// the dispatcher decides where an op runs (leader, proxy, inside EXEC's log entry).
import type { Reply } from '../reply.ts'
import type { ReadOp, WriteOp } from '../request.ts'
import type { KvService } from '../service.ts'
import type { Gate } from '../resp/gate.ts'

/** Shapes the machine's reply of an op into the command's reply (e.g. SETNX's OK/nil → 1/0). */
export type Post = (r: Reply) => Reply

/** How an async outcome is ordered against the connection's other commands. */
export type Order = 'read' | 'write' | 'exclusive'

export type Outcome =
  | { t: 'reply'; reply: Reply }
  | { t: 'read'; op: ReadOp; post?: Post }
  | { t: 'write'; op: WriteOp; post?: Post }
  | { t: 'async'; run: () => Promise<Reply>; order: Order }

/** The connection state commands may read and change (the RESP connection implements it). */
export interface ClientState {
  readonly id: number
  name: string
  proto: 2 | 3
  authenticated: boolean
  /** READONLY: reads are served from local state without a read barrier. */
  readonlyMode: boolean
  libName: string
  libVer: string
  /** MULTI's queue (null outside a transaction) and whether a queuing error doomed it. */
  multi: Buffer[][] | null
  multiDirty: boolean
  /** WATCHed keys with the revision each had (read after a barrier; resolved later). */
  watches: Promise<[Uint8Array, number] | Reply>[]
  /** Whether this connection proved to be a cluster peer (RAFTKV.PEER). */
  peer: boolean
  /** Orders this connection's asynchronous commands (see gate.ts). */
  readonly gate: Gate
  /** Close once the replies so far are written (QUIT). */
  closeAfterReply: boolean
  /** A line of CLIENT LIST / CLIENT INFO for this connection. */
  describe(): string
  /** RESET: back to a fresh connection's state (auth depends on requirepass). */
  reset(): void
}

export interface Ctx {
  svc: KvService
  c: ClientState
  /** The clock of this command: writes planned with it fix absolute expiry times. */
  now: number
  /** All commands (COMMAND, EXEC, RAFTKV.FWD need the table). */
  table: CommandTable
}

export interface Command {
  /** Lower case; subcommands are 'container|sub' like Redis's full names. */
  name: string
  arity: number
  flags: string[]
  /** First key, last key (negative: from the end), step; 0 0 0 for keyless commands. */
  keys: [number, number, number]
  acl: string[]
  tips?: string[]
  group: string
  summary: string
  since: string
  /** Not shown by COMMAND (internal RAFTKV.* commands). */
  hidden?: boolean
  run(ctx: Ctx, argv: Buffer[]): Outcome
  subs?: Map<string, Command>
}

export type CommandTable = ReadonlyMap<string, Command>

export const reply = (r: Reply): Outcome => ({ t: 'reply', reply: r })
export const read = (op: ReadOp, post?: Post): Outcome => (post ? { t: 'read', op, post } : { t: 'read', op })
export const write = (op: WriteOp, post?: Post): Outcome => (post ? { t: 'write', op, post } : { t: 'write', op })
export const later = (run: () => Promise<Reply>, order: Order = 'exclusive'): Outcome => ({ t: 'async', run, order })

type Meta = Omit<Command, 'run' | 'subs' | 'name'>

/** Builds a command from its metadata (as Redis 7.0's COMMAND INFO reports it) and its handler. */
export function cmd(name: string, meta: Meta, run: Command['run']): Command {
  return { name, ...meta, run }
}

/** Metadata shorthand: arity, flags, keys, acl categories, group, summary, since. */
export function m(arity: number, flags: string, keys: [number, number, number], acl: string, group: string, summary: string, since: string, tips?: string): Meta {
  return {
    arity,
    flags: flags ? flags.split(' ') : [],
    keys,
    acl: acl ? acl.split(' ').map((a) => `@${a}`) : [],
    group,
    summary,
    since,
    ...(tips ? { tips: tips.split(' ') } : {}),
  }
}
