// Keyspace commands (db.c, expire.c): DEL, EXISTS, the EXPIRE family, TTLs, TYPE, KEYS, SCAN,
// RANDOMKEY, RENAME, DBSIZE, FLUSHDB/FLUSHALL.
import { randomBytes } from 'node:crypto'
import { E, arr, bulkStr, err, type Reply } from '../reply.ts'
import { LLONG_MAX, LLONG_MIN, isReply, llArg, opt, text } from './args.ts'
import { cmd, m, read, reply, write, type Command, type Outcome } from './types.ts'

const K1: [number, number, number] = [1, 1, 1]
const KALL: [number, number, number] = [1, -1, 1]

type ExpireCond = 'nx' | 'xx' | 'gt' | 'lt'

/** EXPIRE's NX/XX/GT/LT (parseExtendedExpireArgumentsOrReply). */
function expireCond(argv: Buffer[]): ExpireCond | undefined | Reply {
  let nx = false
  let xx = false
  let gt = false
  let lt = false
  for (let j = 3; j < argv.length; j++) {
    const o = opt(argv[j]!)
    if (o === 'nx') nx = true
    else if (o === 'xx') xx = true
    else if (o === 'gt') gt = true
    else if (o === 'lt') lt = true
    else return err(E.unsupportedOption(text(argv[j]!)))
  }
  if ((nx && xx) || (nx && gt) || (nx && lt)) return err(E.expireFlags)
  if (gt && lt) return err(E.expireGtLt)
  return nx ? 'nx' : xx ? 'xx' : gt ? 'gt' : lt ? 'lt' : undefined
}

/** expireGenericCommand: flags first, then the time, then the overflow checks, all before lookup. */
function expire(name: string, seconds: boolean, relative: boolean) {
  return (c: { now: number }, a: Buffer[]): Outcome => {
    const cond = expireCond(a)
    if (isReply(cond)) return reply(cond)
    const w = llArg(a[2]!)
    if (isReply(w)) return reply(w)
    let when = w
    if (seconds) {
      if (when > LLONG_MAX / 1000n || when < LLONG_MIN / 1000n) return reply(err(E.invalidExpire(name)))
      when *= 1000n
    }
    const base = relative ? BigInt(c.now) : 0n
    if (when > LLONG_MAX - base) return reply(err(E.invalidExpire(name)))
    when += base
    return write({ t: 'expire', key: a[1]!, at: Number(when), ...(cond ? { cond } : {}) })
  }
}

function ttl(ms: boolean, abs: boolean) {
  return (_c: unknown, a: Buffer[]): Outcome => read({ t: 'ttl', key: a[1]!, ms, abs })
}

function flush(name: string) {
  return (_c: unknown, a: Buffer[]): Outcome => {
    // FLUSHDB/FLUSHALL [ASYNC|SYNC]: both are applied in the log entry; the mode is only checked.
    if (a.length > 2) return reply(err(E.syntax))
    if (a.length === 2 && opt(a[1]!) !== 'sync' && opt(a[1]!) !== 'async') return reply(err(E.syntax))
    void name
    return write({ t: 'flush' })
  }
}

/** The SCAN command; the reply's cursor names the last key examined (see cursors.ts). */
const scan: Command['run'] = (c, a) => {
  const cur = a[1]!.toString('latin1')
  let after: Uint8Array | null
  if (/^[0-9]+$/.test(cur) && /^0+$/.test(cur)) after = null
  else {
    const k = /^[0-9]+$/.test(cur) ? c.svc.cursors.resolve(cur.replace(/^0+/, '')) : undefined
    if (!k) return reply(err(E.invalidCursor))
    after = k
  }
  let count = 10
  let match: Uint8Array | null = null
  let type: string | null = null
  for (let i = 2; i < a.length; ) {
    const o = opt(a[i]!)
    const more = a.length - i >= 2
    if (o === 'count' && more) {
      const n = llArg(a[i + 1]!)
      if (isReply(n)) return reply(n)
      if (n < 1n) return reply(err(E.syntax))
      count = Number(n > 1_000_000_000n ? 1_000_000_000n : n)
    } else if (o === 'match' && more) {
      const p = a[i + 1]!
      match = p.length === 1 && p[0] === 0x2a ? null : p
    } else if (o === 'type' && more) {
      type = text(a[i + 1]!)
    } else return reply(err(E.syntax))
    i += 2
  }
  return read({ t: 'scan', after, count, match, type }, (r: Reply): Reply => {
    if (r.k !== 'array' || !r.v || r.v.length !== 2) return r
    const last = r.v[0]!
    const next = last.k === 'bulk' && last.v ? c.svc.cursors.issue(last.v) : '0'
    return arr([bulkStr(next), r.v[1]!])
  })
}

export const keyCommands: Command[] = [
  cmd('del', m(-2, 'write', KALL, 'keyspace write slow', 'generic', 'Delete a key', '1.0.0', 'request_policy:multi_shard response_policy:agg_sum'), (_c, a) => write({ t: 'del', keys: a.slice(1) })),
  cmd('unlink', m(-2, 'write fast', KALL, 'keyspace write fast', 'generic', 'Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.', '4.0.0', 'request_policy:multi_shard response_policy:agg_sum'), (_c, a) =>
    write({ t: 'del', keys: a.slice(1) }),
  ),
  cmd('exists', m(-2, 'readonly fast', KALL, 'keyspace read fast', 'generic', 'Determine if a key exists', '1.0.0', 'request_policy:multi_shard response_policy:agg_sum'), (_c, a) => read({ t: 'exists', keys: a.slice(1) })),
  cmd('touch', m(-2, 'readonly fast', KALL, 'keyspace read fast', 'generic', 'Alters the last access time of a key(s). Returns the number of existing keys specified.', '3.2.1', 'request_policy:multi_shard response_policy:agg_sum'), (_c, a) =>
    read({ t: 'exists', keys: a.slice(1) }),
  ),
  cmd('expire', m(-3, 'write fast', K1, 'keyspace write fast', 'generic', "Set a key's time to live in seconds", '1.0.0'), expire('expire', true, true)),
  cmd('pexpire', m(-3, 'write fast', K1, 'keyspace write fast', 'generic', "Set a key's time to live in milliseconds", '2.6.0'), expire('pexpire', false, true)),
  cmd('expireat', m(-3, 'write fast', K1, 'keyspace write fast', 'generic', 'Set the expiration for a key as a UNIX timestamp', '1.2.0'), expire('expireat', true, false)),
  cmd('pexpireat', m(-3, 'write fast', K1, 'keyspace write fast', 'generic', 'Set the expiration for a key as a UNIX timestamp specified in milliseconds', '2.6.0'), expire('pexpireat', false, false)),
  cmd('ttl', m(2, 'readonly fast', K1, 'keyspace read fast', 'generic', 'Get the time to live for a key in seconds', '1.0.0', 'nondeterministic_output'), ttl(false, false)),
  cmd('pttl', m(2, 'readonly fast', K1, 'keyspace read fast', 'generic', 'Get the time to live for a key in milliseconds', '2.6.0', 'nondeterministic_output'), ttl(true, false)),
  cmd('expiretime', m(2, 'readonly fast', K1, 'keyspace read fast', 'generic', 'Get the expiration Unix timestamp for a key', '7.0.0'), ttl(false, true)),
  cmd('pexpiretime', m(2, 'readonly fast', K1, 'keyspace read fast', 'generic', 'Get the expiration Unix timestamp for a key in milliseconds', '7.0.0'), ttl(true, true)),
  cmd('persist', m(2, 'write fast', K1, 'keyspace write fast', 'generic', 'Remove the expiration from a key', '2.2.0'), (_c, a) => write({ t: 'persist', key: a[1]! })),
  cmd('type', m(2, 'readonly fast', K1, 'keyspace read fast', 'generic', 'Determine the type stored at key', '1.0.0'), (_c, a) => read({ t: 'type', key: a[1]! })),
  cmd('keys', m(2, 'readonly', [0, 0, 0], 'keyspace read slow dangerous', 'generic', 'Find all keys matching the given pattern', '1.0.0', 'request_policy:all_shards nondeterministic_output_order'), (_c, a) =>
    read({ t: 'keys', pattern: a[1]! }),
  ),
  cmd('scan', m(-2, 'readonly', [0, 0, 0], 'keyspace read slow', 'generic', 'Incrementally iterate the keys space', '2.8.0', 'nondeterministic_output request_policy:special'), scan),
  cmd('randomkey', m(1, 'readonly', [0, 0, 0], 'keyspace read slow', 'generic', 'Return a random key from the keyspace', '1.0.0', 'request_policy:all_shards nondeterministic_output'), () =>
    read({ t: 'randomkey', seed: randomBytes(8) }),
  ),
  cmd('rename', m(3, 'write', [1, 2, 1], 'keyspace write slow', 'generic', 'Rename a key', '1.0.0'), (_c, a) => write({ t: 'rename', src: a[1]!, dst: a[2]! })),
  cmd('renamenx', m(3, 'write fast', [1, 2, 1], 'keyspace write fast', 'generic', 'Rename a key, only if the new key does not exist', '1.0.0'), (_c, a) => write({ t: 'rename', src: a[1]!, dst: a[2]!, nx: true })),
  cmd('dbsize', m(1, 'readonly fast', [0, 0, 0], 'keyspace read fast', 'server', 'Return the number of keys in the selected database', '1.0.0', 'request_policy:all_shards response_policy:agg_sum'), () => read({ t: 'dbsize' })),
  cmd('flushdb', m(-1, 'write', [0, 0, 0], 'keyspace write slow dangerous', 'server', 'Remove all keys from the current database', '1.0.0', 'request_policy:all_shards response_policy:all_succeeded'), flush('flushdb')),
  cmd('flushall', m(-1, 'write', [0, 0, 0], 'keyspace write slow dangerous', 'server', 'Remove all keys from all databases', '1.0.0', 'request_policy:all_shards response_policy:all_succeeded'), flush('flushall')),
]
