// String commands (t_string.c): argument validation happens here, before anything is proposed,
// with Redis's checks in Redis's order; the data-dependent part is an op the machine applies.
import { parseLongDouble } from '../float.ts'
import { E, err, int, type Reply } from '../reply.ts'
import { LLONG_MAX, LLONG_MIN, clampNum, isReply, llArg, opt } from './args.ts'
import { cmd, m, read, reply, write, type Command, type Outcome } from './types.ts'

/**
 * An expire argument turned into an absolute time in ms (getExpireMillisecondsOrReply): not an
 * integer, ≤ 0 or overflowing → the command's error; relative units are added to `now`.
 */
export function expireAt(name: string, b: Buffer, seconds: boolean, relative: boolean, now: number): number | Reply {
  const v = llArg(b)
  if (isReply(v)) return v
  if (v <= 0n || (seconds && v > LLONG_MAX / 1000n)) return err(E.invalidExpire(name))
  let ms = seconds ? v * 1000n : v
  if (relative) ms += BigInt(now)
  // Redis detects the overflow of the addition as a non-positive result.
  if (ms > LLONG_MAX || ms <= 0n) return err(E.invalidExpire(name))
  return Number(ms)
}

interface ExpireOpt {
  kind: 'ex' | 'px' | 'exat' | 'pxat'
  arg: Buffer
}

interface StringFlags {
  nx: boolean
  xx: boolean
  get: boolean
  keepTtl: boolean
  persist: boolean
  expire: ExpireOpt | null
}

/** parseExtendedStringArgumentsOrReply: SET's and GETEX's options, with their exclusions. */
function parseFlags(argv: Buffer[], from: number, forSet: boolean): StringFlags | Reply {
  const f: StringFlags = { nx: false, xx: false, get: false, keepTtl: false, persist: false, expire: null }
  for (let j = from; j < argv.length; j++) {
    const o = opt(argv[j]!)
    const next = j + 1 < argv.length
    const ex = f.expire?.kind
    if (o === 'nx' && !f.xx && forSet) f.nx = true
    else if (o === 'xx' && !f.nx && forSet) f.xx = true
    else if (o === 'get' && forSet) f.get = true
    else if (o === 'keepttl' && !f.persist && !ex && forSet) f.keepTtl = true
    else if (o === 'persist' && !forSet && !ex && !f.keepTtl) f.persist = true
    else if ((o === 'ex' || o === 'px' || o === 'exat' || o === 'pxat') && !f.keepTtl && !f.persist && (!ex || ex === o) && next) {
      f.expire = { kind: o, arg: argv[++j]! }
    } else return err(E.syntax)
  }
  return f
}

function expireOf(name: string, e: ExpireOpt, now: number): number | Reply {
  return expireAt(name, e.arg, e.kind === 'ex' || e.kind === 'exat', e.kind === 'ex' || e.kind === 'px', now)
}

const ONE_OR_ZERO = (r: Reply): Reply => (r.k === 'status' ? int(1) : r.k === 'bulk' && r.v === null ? int(0) : r)

function incrBy(key: Buffer, by: bigint): Outcome {
  return write({ t: 'incr', key, by: by.toString() })
}

const K1: [number, number, number] = [1, 1, 1]

export const stringCommands: Command[] = [
  cmd('get', m(2, 'readonly fast', K1, 'read string fast', 'string', 'Get the value of a key', '1.0.0'), (_c, a) => read({ t: 'get', key: a[1]! })),

  cmd('set', m(-3, 'write denyoom', K1, 'write string slow', 'string', 'Set the string value of a key', '1.0.0'), (c, a) => {
    const f = parseFlags(a, 3, true)
    if (isReply(f)) return reply(f)
    let at: number | undefined
    if (f.expire) {
      const x = expireOf('set', f.expire, c.now)
      if (isReply(x)) return reply(x)
      at = x
    }
    return write({
      t: 'set',
      key: a[1]!,
      value: a[2]!,
      ...(f.nx ? { cond: 'nx' as const } : f.xx ? { cond: 'xx' as const } : {}),
      ...(f.get ? { get: true } : {}),
      ...(at !== undefined ? { expireAt: at } : {}),
      ...(f.keepTtl ? { keepTtl: true } : {}),
    })
  }),

  cmd('setnx', m(3, 'write denyoom fast', K1, 'write string fast', 'string', 'Set the value of a key, only if the key does not exist', '1.0.0'), (_c, a) =>
    write({ t: 'set', key: a[1]!, value: a[2]!, cond: 'nx' }, ONE_OR_ZERO),
  ),

  cmd('setex', m(4, 'write denyoom', K1, 'write string slow', 'string', 'Set the value and expiration of a key', '2.0.0'), (c, a) => {
    const at = expireAt('setex', a[2]!, true, true, c.now)
    return isReply(at) ? reply(at) : write({ t: 'set', key: a[1]!, value: a[3]!, expireAt: at })
  }),

  cmd('psetex', m(4, 'write denyoom', K1, 'write string slow', 'string', 'Set the value and expiration in milliseconds of a key', '2.6.0'), (c, a) => {
    const at = expireAt('psetex', a[2]!, false, true, c.now)
    return isReply(at) ? reply(at) : write({ t: 'set', key: a[1]!, value: a[3]!, expireAt: at })
  }),

  cmd('getset', m(3, 'write denyoom fast', K1, 'write string fast', 'string', 'Set the string value of a key and return its old value', '1.0.0'), (_c, a) =>
    write({ t: 'set', key: a[1]!, value: a[2]!, get: true }),
  ),

  cmd('getdel', m(2, 'write fast', K1, 'write string fast', 'string', 'Get the value of a key and delete the key', '6.2.0'), (_c, a) => write({ t: 'getdel', key: a[1]! })),

  cmd('getex', m(-2, 'write fast', K1, 'write string fast', 'string', 'Get the value of a key and optionally set its expiration', '6.2.0'), (c, a) => {
    const f = parseFlags(a, 2, false)
    if (isReply(f)) return reply(f)
    if (f.persist) return write({ t: 'getex', key: a[1]!, persist: true })
    if (!f.expire) return read({ t: 'get', key: a[1]! })
    const at = expireOf('getex', f.expire, c.now)
    // Redis looks the key up before validating the time: a missing key answers nil either way.
    if (isReply(at)) return read({ t: 'get', key: a[1]! }, (r) => (r.k === 'bulk' && r.v === null ? r : at))
    return write({ t: 'getex', key: a[1]!, expireAt: at })
  }),

  cmd('mget', m(-2, 'readonly fast', [1, -1, 1], 'read string fast', 'string', 'Get the values of all the given keys', '1.0.0', 'request_policy:multi_shard'), (_c, a) =>
    read({ t: 'mget', keys: a.slice(1) }),
  ),

  cmd('mset', m(-3, 'write denyoom', [1, -1, 2], 'write string slow', 'string', 'Set multiple keys to multiple values', '1.0.1', 'request_policy:multi_shard response_policy:all_succeeded'), (_c, a) =>
    a.length % 2 === 0 ? reply(err(E.arity('mset'))) : write({ t: 'mset', kvs: a.slice(1) }),
  ),

  cmd('msetnx', m(-3, 'write denyoom', [1, -1, 2], 'write string slow', 'string', 'Set multiple keys to multiple values, only if none of the keys exist', '1.0.1', 'request_policy:multi_shard response_policy:agg_min'), (_c, a) =>
    a.length % 2 === 0 ? reply(err(E.arity('msetnx'))) : write({ t: 'mset', kvs: a.slice(1), nx: true }),
  ),

  cmd('incr', m(2, 'write denyoom fast', K1, 'write string fast', 'string', 'Increment the integer value of a key by one', '1.0.0'), (_c, a) => incrBy(a[1]!, 1n)),
  cmd('decr', m(2, 'write denyoom fast', K1, 'write string fast', 'string', 'Decrement the integer value of a key by one', '1.0.0'), (_c, a) => incrBy(a[1]!, -1n)),
  cmd('incrby', m(3, 'write denyoom fast', K1, 'write string fast', 'string', 'Increment the integer value of a key by the given amount', '1.0.0'), (_c, a) => {
    const by = llArg(a[2]!)
    return isReply(by) ? reply(by) : incrBy(a[1]!, by)
  }),
  cmd('decrby', m(3, 'write denyoom fast', K1, 'write string fast', 'string', 'Decrement the integer value of a key by the given number', '1.0.0'), (_c, a) => {
    const by = llArg(a[2]!)
    if (isReply(by)) return reply(by)
    if (by === LLONG_MIN) return reply(err(E.decrOverflow))
    return incrBy(a[1]!, -by)
  }),
  cmd('incrbyfloat', m(3, 'write denyoom fast', K1, 'write string fast', 'string', 'Increment the float value of a key by the given amount', '2.6.0'), (_c, a) => {
    const s = a[2]!.toString('latin1')
    if (parseLongDouble(s) === undefined) return reply(err(E.notFloat))
    return write({ t: 'incrf', key: a[1]!, by: s })
  }),

  cmd('append', m(3, 'write denyoom fast', K1, 'write string fast', 'string', 'Append a value to a key', '2.0.0'), (_c, a) => write({ t: 'append', key: a[1]!, value: a[2]! })),
  cmd('strlen', m(2, 'readonly fast', K1, 'read string fast', 'string', 'Get the length of the value stored in a key', '2.2.0'), (_c, a) => read({ t: 'strlen', key: a[1]! })),

  ...['getrange', 'substr'].map((name) =>
    cmd(name, m(4, 'readonly', K1, 'read string slow', 'string', 'Get a substring of the string stored at a key', name === 'substr' ? '1.0.0' : '2.4.0'), (_c, a) => {
      const start = llArg(a[2]!)
      if (isReply(start)) return reply(start)
      const end = llArg(a[3]!)
      if (isReply(end)) return reply(end)
      return read({ t: 'getrange', key: a[1]!, start: clampNum(start), end: clampNum(end) })
    }),
  ),

  cmd('setrange', m(4, 'write denyoom', K1, 'write string slow', 'string', 'Overwrite part of a string at key starting at the specified offset', '2.2.0'), (_c, a) => {
    const off = llArg(a[2]!)
    if (isReply(off)) return reply(off)
    if (off < 0n) return reply(err(E.offsetRange))
    // Offsets past 512 MB fail in the machine with "string exceeds maximum allowed size".
    return write({ t: 'setrange', key: a[1]!, offset: clampNum(off), value: a[3]! })
  }),
]

