// COMMAND DOCS arguments, from Redis-style synopses. redis-cli (7.0+) builds its interactive hints
// from COMMAND DOCS: typing `SET ` shows `key value [NX|XX] [GET] [EX seconds|…]` only if the
// server describes SET's arguments. The synopses below are written the way Redis documents them;
// `parseSynopsis` turns one into the argument tree COMMAND DOCS returns, and redis-cli renders
// that tree back into the same text.
//
// Notation: `[x]` optional, `(x)` group, `a|b` one of, `x...` repeated, an UPPERCASE word is a
// token (followed by a value, it names that value: `EX seconds`), `name:type` sets a type.
import { arr, bulkStr, status, type Reply } from '../reply.ts'

export interface DocArg {
  name: string
  type: string
  token?: string
  flags: string[]
  arguments?: DocArg[]
}

export const SYNTAX: Record<string, string> = {
  get: 'key',
  set: 'key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]',
  setnx: 'key value',
  setex: 'key seconds value',
  psetex: 'key milliseconds value',
  getset: 'key value',
  getdel: 'key',
  getex: 'key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]',
  mget: 'key...',
  mset: '(key value)...',
  msetnx: '(key value)...',
  incr: 'key',
  decr: 'key',
  incrby: 'key increment',
  decrby: 'key decrement',
  incrbyfloat: 'key increment:double',
  append: 'key value',
  strlen: 'key',
  getrange: 'key start end',
  substr: 'key start end',
  setrange: 'key offset value',
  del: 'key...',
  unlink: 'key...',
  exists: 'key...',
  touch: 'key...',
  expire: 'key seconds [NX|XX|GT|LT]',
  pexpire: 'key milliseconds [NX|XX|GT|LT]',
  expireat: 'key unix-time-seconds [NX|XX|GT|LT]',
  pexpireat: 'key unix-time-milliseconds [NX|XX|GT|LT]',
  ttl: 'key',
  pttl: 'key',
  expiretime: 'key',
  pexpiretime: 'key',
  persist: 'key',
  type: 'key',
  keys: 'pattern',
  scan: 'cursor [MATCH pattern] [COUNT count] [TYPE type]',
  rename: 'key newkey',
  renamenx: 'key newkey',
  flushdb: '[ASYNC|SYNC]',
  flushall: '[ASYNC|SYNC]',
  ping: '[message]',
  echo: 'message',
  hello: '[protover [AUTH username password] [SETNAME clientname]]',
  auth: '[username] password',
  select: 'index',
  watch: 'key...',
  info: '[section...]',
  'client|setname': 'connection-name',
  'client|list': '[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id...]',
  'client|setinfo': '(LIB-NAME libname|LIB-VER libver)',
  'client|no-evict': '(ON|OFF)',
  'client|no-touch': '(ON|OFF)',
  'command|info': '[command-name...]',
  'command|docs': '[command-name...]',
  'command|list': '[FILTERBY (MODULE module-name|ACLCAT category|PATTERN pattern)]',
  'command|getkeys': 'command arg...',
  'config|get': 'parameter...',
  'config|set': '(parameter value)...',
  'cluster|keyslot': 'key:string',
}

const KEY_NAMES = new Set(['key', 'newkey', 'source', 'destination'])
const INT_NAMES = new Set(['seconds', 'milliseconds', 'offset', 'start', 'end', 'count', 'increment', 'decrement', 'cursor', 'client-id', 'protover', 'index'])

function typeOf(name: string): string {
  if (KEY_NAMES.has(name)) return 'key'
  if (INT_NAMES.has(name)) return 'integer'
  if (name.startsWith('unix-time')) return 'unix-time'
  if (name === 'pattern') return 'pattern'
  return 'string'
}

const isToken = (w: string): boolean => /^[A-Z][A-Z0-9-]*$/.test(w)

/** Parses a synopsis into COMMAND DOCS arguments. */
export function parseSynopsis(s: string): DocArg[] {
  const toks = s.match(/\.\.\.|[[\]()|]|[^\s[\]()|.]+(?:\.(?!\.\.)[^\s[\]()|.]*)*/g) ?? []
  let i = 0
  const group = (items: DocArg[]): DocArg =>
    items.length === 1 ? items[0]! : { name: items.map((a) => a.name).join('_'), type: 'block', flags: [], arguments: items }
  // A sequence of items up to `|` or a closing bracket.
  const seq = (): DocArg[] => {
    const out: DocArg[] = []
    let pendingToken: string | null = null
    const push = (a: DocArg): void => {
      if (pendingToken !== null) {
        a.token = pendingToken
        pendingToken = null
      }
      out.push(a)
    }
    while (i < toks.length && toks[i] !== '|' && toks[i] !== ']' && toks[i] !== ')') {
      const t = toks[i++]!
      if (t === '...') {
        const last = out[out.length - 1]
        if (last) last.flags.push('multiple')
      } else if (t === '[' || t === '(') {
        const alts = alternatives(t === '[' ? ']' : ')')
        const a = alts.length > 1 ? { name: alts.map((x) => x.name).join('_'), type: 'oneof', flags: [], arguments: alts } : alts[0]!
        if (t === '[') a.flags.push('optional')
        push(a)
      } else if (isToken(t)) {
        // A token names the value after it; alone (or before another token) it is a pure token.
        const next = toks[i]
        if (next !== undefined && next !== '|' && next !== ']' && next !== ')' && next !== '...' && !isToken(next)) {
          if (pendingToken !== null) push({ name: pendingToken.toLowerCase(), type: 'pure-token', flags: [] })
          pendingToken = t
        } else push({ name: t.toLowerCase(), type: 'pure-token', token: t, flags: [] })
      } else {
        const [name, type] = t.split(':') as [string, string | undefined]
        push({ name, type: type ?? typeOf(name), flags: [] })
      }
    }
    return out
  }
  const alternatives = (close: string): DocArg[] => {
    const alts: DocArg[] = [group(seq())]
    while (toks[i] === '|') {
      i++
      alts.push(group(seq()))
    }
    if (toks[i] === close) i++
    return alts
  }
  return seq()
}

function argReply(a: DocArg): Reply {
  const v: [Reply, Reply][] = [
    [bulkStr('name'), bulkStr(a.name)],
    [bulkStr('type'), bulkStr(a.type)],
  ]
  if (a.token !== undefined) v.push([bulkStr('token'), bulkStr(a.token)])
  if (a.flags.length > 0) v.push([bulkStr('flags'), { k: 'set', v: a.flags.map(status) }])
  if (a.arguments) v.push([bulkStr('arguments'), arr(a.arguments.map(argReply))])
  return { k: 'map', v }
}

const cache = new Map<string, Reply | null>()

/** The `arguments` of a command's COMMAND DOCS entry, or null if it takes none. */
export function docArguments(name: string): Reply | null {
  let r = cache.get(name)
  if (r === undefined) {
    const s = SYNTAX[name]
    r = s ? arr(parseSynopsis(s).map(argReply)) : null
    cache.set(name, r)
  }
  return r
}

/** How redis-cli renders arguments as a hint (cliAddArgument), to check the synopses round-trip. */
export function renderHint(args: DocArg[]): string {
  const one = (a: DocArg): string => {
    const token = a.token !== undefined ? (a.type === 'pure-token' ? a.token : `${a.token} `) : ''
    let rep = ''
    if (a.type === 'oneof') rep = (a.arguments ?? []).map(one).join('|')
    else if (a.type === 'block') rep = (a.arguments ?? []).map(one).join(' ')
    else if (a.type !== 'pure-token') rep = a.name
    let s = token + rep
    if (a.flags.includes('multiple')) s += ` [${rep} ...]`
    return a.flags.includes('optional') ? `[${s}]` : s
  }
  return args.map(one).join(' ')
}
