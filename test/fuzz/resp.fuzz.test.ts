// Fuzzing the RESP path of a live node: property-based commands (random names, arities, binary
// keys and values) and a mutation fuzzer over the wire bytes (bit flips, truncation, splicing,
// huge bulk and multibulk lengths, nested arrays, inline garbage). The node must answer every
// well-formed command, answer malformed input with Redis's exact protocol error texts and then
// close that connection, never crash, never hang (a fresh PING answers after every batch), and not
// grow its memory with the number of inputs.
import fc from 'fast-check'
import t from 'tap'
import { Cluster } from '../cluster/fixtures/helpers.ts'
import { ConnLost, encodeCommand, RespConn, RespError, type RespValue } from '../jepsen/resp-conn.ts'
import { exchange, FUZZ_CONCURRENCY, FUZZ_RUNS, FUZZ_SEED, pool, RSS_GROWTH_LIMIT, rssBytes } from './support.ts'

const COMMANDS = [
  'get', 'set', 'mget', 'mset', 'del', 'exists', 'incr', 'decr', 'incrby', 'incrbyfloat', 'append', 'strlen', 'getrange', 'setrange', 'getdel', 'getex',
  'getset', 'setnx', 'setex', 'psetex', 'expire', 'pexpire', 'ttl', 'pttl', 'persist', 'type', 'keys', 'scan', 'rename', 'dbsize', 'multi', 'exec',
  'discard', 'watch', 'unwatch', 'ping', 'echo', 'hello', 'select', 'client', 'info', 'time', 'role', 'command', 'cluster', 'msetnx', 'unlink',
]

/**
 * Redis's protocol errors (networking.c), as the node must send them before closing. Checked on
 * the UTF-8 decoding of the reply: for "got '%c'" with a byte ≥ 0x80 Redis sends the raw byte and
 * the node that character UTF-8 encoded (a known, harmless deviation: one code point either way).
 */
const PROTOCOL_ERROR = /^-ERR Protocol error: (invalid multibulk length|invalid bulk length|expected '\$', got '[\s\S]'|unbalanced quotes in request|too big inline request|too big mbulk count string|too big bulk count string)\r\n$/u

const bytes = fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u))
const word = fc.stringMatching(/^[a-z0-9]{1,8}$/)
const arg = fc.oneof(word.map((s) => Buffer.from(s)), bytes, fc.constantFrom(Buffer.from('-1'), Buffer.from('9223372036854775808'), Buffer.from('1e400'), Buffer.from('NX'), Buffer.from('EX'), Buffer.from('GET')))
const command = fc.tuple(fc.oneof(fc.constantFrom(...COMMANDS), fc.constantFrom(...COMMANDS).map((c) => c.toUpperCase())), fc.array(arg, { maxLength: 5 }))

/** Raw inputs: a valid command mutated, or one of the classic malformed shapes. */
const mutated = fc.oneof(
  fc.tuple(command, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 })).map(([[c, a], flips]) => {
    const b = encodeCommand([c, ...a])
    for (const [at, bit] of flips) b[at % b.length]! ^= 1 << bit
    return b
  }),
  fc.tuple(command, fc.nat()).map(([[c, a], cut]) => {
    const b = encodeCommand([c, ...a])
    return b.subarray(0, cut % b.length)
  }),
  fc.tuple(fc.constantFrom('*1\r\n$', '*2\r\n$3\r\nget\r\n$', '*'), fc.constantFrom('999999999999', '536870913', '-7', '99999999999999999999', 'x', '')).map(([pre, n]) => Buffer.from(`${pre}${n}\r\n`)),
  fc.integer({ min: 1, max: 40 }).map((depth) => Buffer.from(`${'*1\r\n'.repeat(depth)}$4\r\nPING\r\n`)),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((u) => Buffer.concat([Buffer.from(u), Buffer.from('\r\n')])),
  fc.constantFrom(Buffer.from('"unbalanced\r\n'), Buffer.from(`${'x'.repeat(70_000)}`), Buffer.from(`*${'9'.repeat(70_000)}`)),
)

t.test('RESP: generated and mutated commands against a live node', async (t) => {
  const c = await Cluster.start(t, { nodes: 1, name: 'fuzz-resp', logLevel: 'warn' })
  // Generous: starting a node under tsx takes long on a loaded 2-core machine.
  await c.waitForLeader(undefined, 90_000)
  const host = '127.0.0.1'
  const port = c.respPort(1)
  const pid = c.procs.get(1)!.pid
  const ping = async (): Promise<boolean> => {
    const conn = await RespConn.connect(host, port, 2000)
    try {
      return (await conn.call(['PING'], 2000)) === 'PONG'
    } finally {
      conn.close()
    }
  }
  t.ok(await ping(), 'PONG before')

  // Well-formed commands: every one gets an answer; unknown ones and bad arities the exact texts.
  const conns = await Promise.all(Array.from({ length: 4 }, () => RespConn.connect(host, port, 2000)))
  const cmdRuns = Math.max(50, Math.floor(FUZZ_RUNS / 2))
  let i = 0
  await fc.assert(
    fc.asyncProperty(command, fc.boolean(), fc.array(word, { maxLength: 3 }), async ([name, args], unknown, uargs) => {
      const slot = i++ % conns.length
      if (!conns[slot]!.alive) conns[slot] = await RespConn.connect(host, port, 2000)
      const conn = conns[slot]!
      if (unknown) {
        const r = await conn.call([`zz${name}`, ...uargs], 5000)
        const expect = `ERR unknown command 'zz${name}', with args beginning with: ${uargs.map((a) => `'${a}' `).join('')}`
        return r instanceof RespError && r.message === expect
      }
      // QUIT/RESET/HELLO change the connection: fine, but then reconnect. A HELLO 3 that succeeds
      // switches the connection to RESP3, whose first reply is a map (`%`) this RESP2 client
      // cannot read: that failure, and only that one, is the right answer.
      const toResp3 = name.toLowerCase() === 'hello' && args[0]?.toString() === '3'
      let r: RespValue
      try {
        r = await conn.call([name, ...args], 5000)
      } catch (e) {
        if (toResp3 && e instanceof ConnLost && e.message.includes('"%"')) return true
        throw e
      }
      if (r instanceof RespError && r.message.startsWith('ERR wrong number of arguments')) return r.message === `ERR wrong number of arguments for '${name.toLowerCase()}' command`
      return true
    }),
    { numRuns: cmdRuns, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
  )
  for (const k of conns) k.close()
  t.pass(`${cmdRuns} generated commands answered`)
  t.ok(await ping(), 'PONG after the generated commands')
  const rssAfterWarmup = rssBytes(pid)

  // Mutated bytes: replies are well-formed; a protocol error is Redis's exact text and closes.
  const inputs = fc.sample(mutated, { numRuns: FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) })
  const badErrors: string[] = []
  let protocolErrors = 0
  const batch = 500
  for (let start = 0; start < inputs.length; start += batch) {
    await pool(Math.min(batch, inputs.length - start), FUZZ_CONCURRENCY, async (j) => {
      const input = inputs[start + j]!
      const ex = await exchange(host, port, input, 150, (d) => d.includes('-ERR Protocol error'))
      if (ex.refused) throw new Error('the node refused a connection')
      const text = ex.data.toString('utf8')
      const perr = text.lastIndexOf('-ERR Protocol error')
      if (perr >= 0) {
        protocolErrors++
        if (!PROTOCOL_ERROR.test(text.slice(perr))) badErrors.push(JSON.stringify(text.slice(perr, perr + 120)))
        else if (!ex.closed) badErrors.push(`connection left open after ${JSON.stringify(text.slice(perr, perr + 80))}`)
      }
    })
    if (!c.procs.get(1)!.alive) break
    t.ok(await ping(), `PONG after ${Math.min(start + batch, inputs.length)} mutated inputs`, { diagnostic: false })
  }
  t.ok(c.procs.get(1)!.alive, 'the node never crashed')
  t.same(badErrors.slice(0, 10), [], 'protocol errors use Redis texts and close the connection')
  t.ok(protocolErrors > 0, `protocol errors were exercised (${protocolErrors} of ${inputs.length})`)
  const growth = rssBytes(pid) - rssAfterWarmup
  t.ok(growth < RSS_GROWTH_LIMIT, `memory growth ${(growth / 1048576).toFixed(1)} MiB over ${inputs.length} inputs`)
})
