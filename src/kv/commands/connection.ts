// Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET READONLY READWRITE and CLIENT
// (enough of it for the handshakes of ioredis and node-redis, and for humans).
import { timingSafeEqual } from 'node:crypto'
import { E, OK, arr, bulk, bulkStr, err, int, status, type Reply } from '../reply.ts'
import { REDIS_VERSION } from './server-info.ts'
import { intArg, isReply, llArg, opt, text } from './args.ts'
import { cmd, m, reply, type ClientState, type Command, type Ctx } from './types.ts'

const NONE: [number, number, number] = [0, 0, 0]

/** Redis's name check: printable ASCII without spaces ('!' … '~'). */
function validName(b: Buffer): boolean {
  for (const c of b) if (c < 0x21 || c > 0x7e) return false
  return true
}

function passwordMatches(want: string, got: Buffer): boolean {
  const w = Buffer.from(want, 'utf8')
  return w.length === got.length && timingSafeEqual(w, got)
}

/** ACLAuthenticateUser for the one user we have, "default". */
function authenticate(ctx: Ctx, user: Buffer, pass: Buffer): boolean {
  if (user.toString('utf8') !== 'default') return false
  const want = ctx.svc.cfg.requirepass
  // Without requirepass the default user is "nopass": any password is accepted.
  return want === null || passwordMatches(want, pass)
}

function hello(ctx: Ctx, a: Buffer[]): Reply {
  let ver = 0
  let next = 1
  if (a.length >= 2) {
    const v = llArg(a[next++]!)
    if (isReply(v)) return err(E.protoNotInt)
    if (v < 2n || v > 3n) return err(E.noProto)
    ver = Number(v)
  }
  let user: Buffer | null = null
  let pass: Buffer | null = null
  let name: Buffer | null = null
  for (let j = next; j < a.length; j++) {
    const more = a.length - 1 - j
    const o = opt(a[j]!)
    if (o === 'auth' && more >= 2) {
      user = a[j + 1]!
      pass = a[j + 2]!
      j += 2
    } else if (o === 'setname' && more >= 1) {
      name = a[j + 1]!
      j++
    } else return err(`ERR Syntax error in HELLO option '${text(a[j]!)}'`)
  }
  if (user && pass) {
    if (!authenticate(ctx, user, pass)) return err(E.wrongPass)
    ctx.c.authenticated = true
  }
  if (!ctx.c.authenticated) {
    return err(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    )
  }
  if (name) {
    if (!validName(name)) return err(E.clientName)
    ctx.c.name = text(name)
  }
  if (ver) ctx.c.proto = ver as 2 | 3
  const svc = ctx.svc
  return {
    k: 'map',
    v: [
      [bulkStr('server'), bulkStr('redis')],
      [bulkStr('version'), bulkStr(REDIS_VERSION)],
      [bulkStr('proto'), int(ctx.c.proto)],
      [bulkStr('id'), int(ctx.c.id)],
      [bulkStr('mode'), bulkStr('cluster')],
      [bulkStr('role'), bulkStr(svc.isLeader() ? 'master' : 'replica')],
      [bulkStr('modules'), arr([])],
    ],
  }
}

function clientList(ctx: Ctx, a: Buffer[]): Reply {
  let clients: ClientState[] = [...ctx.svc.clients.values()]
  for (let i = 2; i < a.length; ) {
    const o = opt(a[i]!)
    if (o === 'type' && i + 1 < a.length) {
      const t = opt(a[i + 1]!)
      if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) return err(`ERR Unknown client type '${text(a[i + 1]!)}'`)
      if (t !== 'normal') clients = []
      i += 2
    } else if (o === 'id' && i + 1 < a.length) {
      const ids = new Set<number>()
      for (i++; i < a.length; i++) {
        const v = llArg(a[i]!)
        if (isReply(v) || v <= 0n) return err('ERR Invalid client ID')
        ids.add(Number(v))
      }
      clients = clients.filter((c) => ids.has(c.id))
    } else return err(E.syntax)
  }
  return { k: 'verbatim', v: clients.map((c) => `${c.describe()}\n`).join('') }
}

function onOff(a: Buffer[]): Reply {
  const o = opt(a[2]!)
  return o === 'on' || o === 'off' ? OK : err(E.syntax)
}

const clientSubs: Command[] = [
  cmd('client|id', m(2, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Returns the client ID for the current connection', '5.0.0'), (c) => reply(int(c.c.id))),
  cmd('client|setname', m(3, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Set the current connection name', '2.6.9'), (c, a) => {
    if (!validName(a[2]!)) return reply(err(E.clientName))
    c.c.name = text(a[2]!)
    return reply(OK)
  }),
  cmd('client|getname', m(2, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Get the current connection name', '2.6.9'), (c) =>
    reply(c.c.name ? bulkStr(c.c.name) : bulk(null)),
  ),
  cmd('client|info', m(2, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Returns information about the current client connection.', '6.2.0', 'nondeterministic_output'), (c) =>
    reply({ k: 'verbatim', v: `${c.c.describe()}\n` }),
  ),
  cmd('client|list', m(-2, 'admin noscript loading stale', NONE, 'admin slow dangerous connection', 'connection', 'Get the list of client connections', '2.4.0', 'nondeterministic_output'), (c, a) =>
    reply(clientList(c, a)),
  ),
  cmd('client|setinfo', m(4, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Set client or connection specific info', '7.2.0'), (c, a) => {
    const attr = opt(a[2]!)
    if (attr !== 'lib-name' && attr !== 'lib-ver') return reply(err(`ERR Unrecognized option '${text(a[2]!)}'`))
    if (!validName(a[3]!) && a[3]!.length > 0) return reply(err(`ERR ${attr} cannot contain spaces, newlines or special characters.`))
    if (attr === 'lib-name') c.c.libName = text(a[3]!)
    else c.c.libVer = text(a[3]!)
    return reply(OK)
  }),
  cmd('client|no-evict', m(3, 'admin noscript loading stale', NONE, 'admin slow dangerous connection', 'connection', 'Set client eviction mode for the current connection', '7.0.0'), (_c, a) => reply(onOff(a))),
  cmd('client|no-touch', m(3, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.', '7.2.0'), (_c, a) =>
    reply(onOff(a)),
  ),
  cmd('client|getredir', m(2, 'noscript loading stale', NONE, 'slow connection', 'connection', 'Get tracking notifications redirection client ID if any', '6.0.0'), () => reply(int(-1))),
  cmd('client|help', m(2, 'loading stale', NONE, 'slow connection', 'connection', 'Show helpful text about the different subcommands', '5.0.0'), () =>
    reply(
      arr(
        [
          'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
          'GETNAME',
          '    Return the name of the current connection.',
          'ID',
          '    Return the ID of the current connection.',
          'INFO',
          '    Return information about the current client connection.',
          'LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]',
          '    Return information about client connections.',
          'SETNAME <name>',
          '    Assign the name <name> to the current connection.',
          'SETINFO <LIB-NAME|LIB-VER> <value>',
          '    Set client library name and version.',
          'HELP',
          '    Print this help.',
        ].map(status),
      ),
    ),
  ),
]

export const connectionCommands: Command[] = [
  cmd('ping', m(-1, 'fast', NONE, 'fast connection', 'connection', 'Ping the server', '1.0.0', 'request_policy:all_shards response_policy:all_succeeded'), (_c, a) => {
    if (a.length > 2) return reply(err(E.arity('ping')))
    return reply(a.length === 2 ? bulk(a[1]!) : status('PONG'))
  }),
  cmd('echo', m(2, 'loading stale fast', NONE, 'fast connection', 'connection', 'Echo the given string', '1.0.0'), (_c, a) => reply(bulk(a[1]!))),
  cmd('hello', m(-1, 'noscript loading stale fast no_auth allow_busy', NONE, 'fast connection', 'connection', 'Handshake with Redis', '6.0.0'), (c, a) => reply(hello(c, a))),
  cmd('auth', m(-2, 'noscript loading stale fast no_auth allow_busy', NONE, 'fast connection', 'connection', 'Authenticate to the server', '1.0.0'), (c, a) => {
    if (a.length > 3) return reply(err(E.syntax))
    if (a.length === 2 && c.svc.cfg.requirepass === null) return reply(err(E.noPassSet))
    const user = a.length === 2 ? Buffer.from('default') : a[1]!
    const pass = a[a.length - 1]!
    if (!authenticate(c, user, pass)) return reply(err(E.wrongPass))
    c.c.authenticated = true
    return reply(OK)
  }),
  cmd('select', m(2, 'loading stale fast', NONE, 'fast connection', 'connection', 'Change the selected database for the current connection', '1.0.0'), (_c, a) => {
    const id = intArg(a[1]!)
    if (isReply(id)) return reply(id)
    return reply(id === 0 ? OK : err(E.dbIndex))
  }),
  cmd('quit', m(-1, 'noscript loading stale fast no_auth allow_busy', NONE, 'fast connection', 'connection', 'Close the connection', '1.0.0'), (c) => {
    c.c.closeAfterReply = true
    return reply(OK)
  }),
  cmd('reset', m(1, 'noscript loading stale fast no_auth allow_busy', NONE, 'fast connection', 'connection', 'Reset the connection', '6.2.0'), (c) => {
    c.c.reset()
    return reply(status('RESET'))
  }),
  cmd('readonly', m(1, 'loading stale fast', NONE, 'fast connection', 'cluster', 'Enables read queries for a connection to a cluster replica node', '3.0.0'), (c) => {
    c.c.readonlyMode = true
    return reply(OK)
  }),
  cmd('readwrite', m(1, 'loading stale fast', NONE, 'fast connection', 'cluster', 'Disables read queries for a connection to a cluster replica node', '3.0.0'), (c) => {
    c.c.readonlyMode = false
    return reply(OK)
  }),
  {
    ...cmd('client', m(-2, '', NONE, 'slow', 'connection', 'A container for client connection commands', '2.4.0'), () => reply(err(E.arity('client')))),
    subs: new Map(clientSubs.map((s) => [s.name.slice('client|'.length), s])),
  },
]
