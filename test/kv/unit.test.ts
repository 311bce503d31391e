// The RESP service's pure parts, without processes: the request parser (Redis's framing and
// protocol errors), the reply writer (RESP2/RESP3), the glob matcher, INCRBYFLOAT's long double
// arithmetic, the read-barrier coalescing and the per-connection gate.
import t from 'tap'
import { ReadBarrier } from '../../src/kv/barrier.ts'
import { formatIncrFloat } from '../../src/kv/float.ts'
import { globMatch } from '../../src/kv/glob.ts'
import { RequestParser, ProtocolError, splitArgs } from '../../src/kv/resp/parser.ts'
import { Gate } from '../../src/kv/resp/gate.ts'
import { ReplyWriter } from '../../src/kv/resp/writer.ts'
import { arr, bulk, bulkStr, err, int, status, type Reply } from '../../src/kv/reply.ts'
import { keySlot } from '../../src/kv/commands/cluster.ts'

function parseAll(chunks: string[], auth = false): { cmds: string[][]; error: string | null } {
  const p = new RequestParser(() => auth)
  const cmds: string[][] = []
  try {
    for (const c of chunks) p.feed(Buffer.from(c, 'latin1'), (argv) => cmds.push(argv.map((a) => a.toString('latin1'))))
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e
    return { cmds, error: e.message }
  }
  return { cmds, error: null }
}

t.test('parser: multibulk, inline, pipelining and split reads', async (t) => {
  t.same(parseAll(['*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n']).cmds, [['ECHO', 'abc']])
  t.same(parseAll(['PING\r\nECHO  "a b"  \'c\'\n']).cmds, [['PING'], ['ECHO', 'a b', 'c']], 'inline, quoted, bare LF')
  const whole = '*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET k\r\n'
  for (let cut = 1; cut < whole.length; cut++) {
    t.same(parseAll([whole.slice(0, cut), whole.slice(cut)]).cmds, [['PING'], ['SET', 'k', 'hello'], ['GET', 'k']], `split at ${cut}`)
  }
  t.same(parseAll(['*-5\r\n*0\r\n\r\n\r\nPING\r\n']).cmds, [['PING']], 'empty and negative counts are skipped, like Redis')
  const big = 'x'.repeat(300_000)
  const chunks = [`*2\r\n$4\r\nECHO\r\n$${big.length}\r\n`]
  for (let i = 0; i < big.length; i += 65536) chunks.push(big.slice(i, i + 65536))
  chunks.push('\r\n')
  t.same(parseAll(chunks).cmds[0]![1]!.length, big.length, 'a bulk arriving in many reads')
})

t.test('parser: Redis protocol errors', async (t) => {
  const cases: [string, string][] = [
    ['*abc\r\n', 'Protocol error: invalid multibulk length'],
    ['*3000000000\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n*1\r\n', "Protocol error: expected '$', got '*'"],
    ['*1\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$99999999999\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'Protocol error: invalid bulk length'],
    ['PING "abc\r\n', 'Protocol error: unbalanced quotes in request'],
    ['ECHO "a"b\r\n', 'Protocol error: unbalanced quotes in request'],
    ['x'.repeat(70_000), 'Protocol error: too big inline request'],
    [`*${'1'.repeat(70_000)}`, 'Protocol error: too big mbulk count string'],
  ]
  for (const [input, want] of cases) t.equal(parseAll([input]).error, want, JSON.stringify(input.slice(0, 30)))
  t.equal(parseAll(['*11\r\n'], true).error, 'Protocol error: unauthenticated multibulk length')
  t.equal(parseAll(['*1\r\n$16385\r\n'], true).error, 'Protocol error: unauthenticated bulk length')
  t.same(parseAll(['PING\r\n*1\r\n:1\r\n']).cmds, [['PING']], 'commands before the error are delivered')
})

t.test('inline quoting (sdssplitargs)', async (t) => {
  const s = (x: string) => splitArgs(Buffer.from(x, 'latin1'))?.map((b) => b.toString('latin1')) ?? null
  t.same(s('set "a\\x41\\n" \'it\\\'s\''), ['set', 'aA\n', "it's"])
  t.same(s('  '), [])
  t.equal(s('"abc'), null)
  t.equal(s("'abc"), null)
})

t.test('writer: RESP2 and RESP3', async (t) => {
  const enc = (r: Reply, p: 2 | 3) => {
    const w = new ReplyWriter()
    w.write(r, p)
    return Buffer.concat(w.take()).toString('latin1')
  }
  t.equal(enc(status('OK'), 2), '+OK\r\n')
  t.equal(enc(err('ERR a\r\nb'), 2), '-ERR a  b\r\n', 'errors are one line')
  t.equal(enc(int(5n), 3), ':5\r\n')
  t.equal(enc(bulk(null), 2), '$-1\r\n')
  t.equal(enc(bulk(null), 3), '_\r\n')
  t.equal(enc({ k: 'array', v: null }, 2), '*-1\r\n')
  t.equal(enc({ k: 'map', v: [[bulkStr('a'), int(1)]] }, 2), '*2\r\n$1\r\na\r\n:1\r\n')
  t.equal(enc({ k: 'map', v: [[bulkStr('a'), int(1)]] }, 3), '%1\r\n$1\r\na\r\n:1\r\n')
  t.equal(enc({ k: 'bool', v: true }, 2), ':1\r\n')
  t.equal(enc({ k: 'bool', v: true }, 3), '#t\r\n')
  t.equal(enc({ k: 'double', v: 1.5 }, 3), ',1.5\r\n')
  t.equal(enc({ k: 'double', v: Infinity }, 2), '$3\r\ninf\r\n')
  t.equal(enc({ k: 'verbatim', v: 'x' }, 3), '=5\r\ntxt:x\r\n')
  t.equal(enc({ k: 'set', v: [status('a')] }, 3), '~1\r\n+a\r\n')
  t.equal(enc(arr([bulk(Buffer.alloc(20_000, 0x61)), int(1)]), 2).length, 20_000 + 2 + 8 + 4 + 4, 'big values pass through')
})

t.test('glob matching like Redis (stringmatchlen)', async (t) => {
  const m = (p: string, s: string) => globMatch(Buffer.from(p), Buffer.from(s))
  t.ok(m('*', 'anything'))
  t.ok(m('h?llo', 'hello'))
  t.notOk(m('h?llo', 'hllo'))
  t.ok(m('h*llo', 'heeeello'))
  t.ok(m('h[ae]llo', 'hallo'))
  t.notOk(m('h[^e]llo', 'hello'))
  t.ok(m('h[a-b]llo', 'hbllo'))
  t.ok(m('h[b-a]llo', 'hallo'), 'reversed range')
  t.ok(m('a\\*b', 'a*b'))
  t.notOk(m('a\\*b', 'axb'))
  t.ok(m('user:*:name', 'user:42:name'))
  t.notOk(m('a*a*a*a*a*a*a*a*b', 'a'.repeat(50)), 'no blow-up on a pathological pattern')
})

t.test('INCRBYFLOAT computes like an 80-bit long double (values from redis-server 7.0)', async (t) => {
  const cases: [string, string, string | null][] = [
    ['10.5', '0.1', '10.6'],
    ['0.1', '0.2', '0.3'],
    ['1e20', '1', '100000000000000000000'],
    ['3.0', '1.5e-5', '3.000015'],
    ['-5', '5', '0'],
    ['123456789012345678901234567890', '0.5', '123456789012345678899921813504'],
    ['0', '1e-20', '0'],
    ['5.0e3', '200', '5200'],
    ['1', 'inf', null],
  ]
  for (const [a, b, want] of cases) t.equal(formatIncrFloat(a, b), want, `${a} + ${b}`)
})

t.test('cluster key slots (CRC16, hash tags)', async (t) => {
  t.equal(keySlot(Buffer.from('foo')), 12182)
  t.equal(keySlot(Buffer.from('{user1}.a')), keySlot(Buffer.from('user1')))
  t.equal(keySlot(Buffer.from('a{}b')), keySlot(Buffer.from('a{}b')), 'an empty tag hashes the whole key')
})

t.test('read barrier: concurrent reads share a round', async (t) => {
  let rounds = 0
  let release: (() => void)[] = []
  const b = new ReadBarrier(() => {
    rounds++
    return new Promise<void>((r) => release.push(r))
  })
  const first = b.wait()
  const waiting = Array.from({ length: 100 }, () => b.wait())
  t.equal(rounds, 1, 'one round in flight')
  release.shift()!()
  await first
  await new Promise((r) => setImmediate(r))
  t.equal(rounds, 2, 'the reads that came during the first round share the second')
  release.shift()!()
  await Promise.all(waiting)
  t.equal(rounds, 2)
  release = []
})

t.test('gate: reads wait for earlier writes, writes for earlier reads', async (t) => {
  const g = new Gate()
  const log: string[] = []
  const task = (name: string, ms: number) => () => new Promise<string>((r) => setTimeout(() => (log.push(name), r(name)), ms))
  const all = [g.run('write', task('w1', 30)), g.run('write', task('w2', 5)), g.run('read', task('r1', 1)), g.run('read', task('r2', 1)), g.run('write', task('w3', 1))]
  await Promise.all(all)
  t.same(log.slice(0, 2).sort(), ['w1', 'w2'], 'consecutive writes run together')
  t.same(log.slice(2, 4).sort(), ['r1', 'r2'], 'reads after both writes')
  t.equal(log[4], 'w3', 'the last write after the reads')
})
