// RESP on the wire, with raw sockets against a 3-node cluster: Redis's protocol errors (then the
// connection closes, and the node lives on), inline commands, pipelines whose replies come back in
// order although reads and writes complete at different times, RESP2/RESP3 switching, big values.
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { RespCluster, sleep } from './fixtures/helpers.ts'

/**
 * Sends bytes and collects the reply until the server closes, or until `until(reply)` holds and
 * then `settleMs` more pass (to see whether a close follows), or `timeoutMs` in all. No fixed
 * "quiet" waits: a loaded machine may take seconds to commit a write.
 */
function exchange(port: number, data: Buffer | string, until: (got: Buffer) => boolean, settleMs = 300, timeoutMs = 30_000): Promise<{ reply: string; closed: boolean; bytes: Buffer }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let settle: NodeJS.Timeout | null = null
    const done = (closed: boolean) => {
      clearTimeout(overall)
      if (settle) clearTimeout(settle)
      s.destroy()
      const bytes = Buffer.concat(chunks)
      resolve({ reply: bytes.toString('latin1'), closed, bytes })
    }
    const overall = setTimeout(() => done(false), timeoutMs)
    s.on('connect', () => s.write(data))
    s.on('data', (d) => {
      chunks.push(d)
      if (!settle && until(Buffer.concat(chunks))) settle = setTimeout(() => done(false), settleMs)
    })
    s.on('close', () => done(true))
    s.on('error', () => undefined)
  })
}

/** Until the reply has at least `n` bytes. */
const atLeast = (n: number) => (b: Buffer) => b.length >= n
/** Until the reply ends with `tail`. */
const endsWith = (tail: string) => (b: Buffer) => b.toString('latin1').endsWith(tail)

function multibulk(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

t.test('the RESP protocol on a 3-node cluster', async (t) => {
  const rc = await RespCluster.start(t, { nodes: 3, name: 'kv-proto', logLevel: 'warn' })
  const leader = await rc.leader()
  const follower = await rc.follower()

  await t.test("malformed input: Redis's error, then the connection closes, and the node lives on", async (t) => {
    const cases: [string, string][] = [
      ['*abc\r\n', "-ERR Protocol error: invalid multibulk length\r\n"],
      ['*3000000000\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
      ['*1\r\n*1\r\n$4\r\nPING\r\n', "-ERR Protocol error: expected '$', got '*'\r\n"],
      ['*1\r\n:1\r\n', "-ERR Protocol error: expected '$', got ':'\r\n"],
      ['*1\r\n$-1\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
      ['*1\r\n$99999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
      ['*1\r\n$536870913\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
      ['PING "unbalanced\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
      ['x'.repeat(70_000), '-ERR Protocol error: too big inline request\r\n'],
      ['PING\r\n*1\r\n$3\r\nfoo\r\n*1\r\n:1\r\n', "+PONG\r\n-ERR unknown command 'foo', with args beginning with: \r\n-ERR Protocol error: expected '$', got ':'\r\n"],
    ]
    for (const id of [leader, follower]) {
      for (const [input, want] of cases) {
        const r = await exchange(rc.port(id), input, atLeast(want.length))
        t.equal(r.reply, want, `node ${id}: ${JSON.stringify(input.slice(0, 40))}`)
        t.ok(r.closed, 'and the connection is closed')
      }
      // Random binary garbage, in quantity.
      const r = await exchange(rc.port(id), randomBytes(200_000), () => false)
      t.ok(r.closed, `node ${id}: 200 KB of random bytes end in a closed connection`)
      t.equal((await exchange(rc.port(id), 'PING\r\n', endsWith('+PONG\r\n'), 0)).reply, '+PONG\r\n', `node ${id} still answers`)
      t.ok(rc.c.procs.get(id)!.alive, `node ${id} is alive`)
    }
    const r = await exchange(rc.port(leader), '*-5\r\n*0\r\n\r\nPING\r\n', endsWith('+PONG\r\n'), 500)
    t.same([r.reply, r.closed], ['+PONG\r\n', false], 'negative and zero counts are skipped as Redis skips them')
  })

  await t.test('pipelines: replies in order, each command seeing the ones before it', async (t) => {
    for (const id of [leader, follower]) {
      const k = `pipe-${id}`
      const cmds = [
        multibulk('SET', k, '1'),
        multibulk('GET', k),
        multibulk('INCR', k),
        `GET ${k}\r\n`,
        'PING\r\n',
        multibulk('HELLO', '3'),
        multibulk('GET', 'no-such-key'),
        multibulk('HELLO', '2'),
        multibulk('GET', 'no-such-key'),
        multibulk('DEL', k),
        multibulk('GET', k),
      ]
      const r = await exchange(rc.port(id), Buffer.concat(cmds.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))), endsWith(':1\r\n$-1\r\n'), 0)
      t.match(
        r.reply,
        /^\+OK\r\n\$1\r\n1\r\n:2\r\n\$1\r\n2\r\n\+PONG\r\n%7\r\n.*\r\n_\r\n\*14\r\n.*\r\n\$-1\r\n:1\r\n\$-1\r\n$/s,
        `node ${id}: SET, GET, INCR, GET, PING, HELLO 3, GET (RESP3 null), HELLO 2, GET (RESP2 null), DEL, GET`,
      )
      // 1,000 increments in one write: replies :1 … :1000, in order.
      const n = `count-${id}`
      const many = Array.from({ length: 1000 }, () => `INCR ${n}\r\n`).join('')
      const want = Array.from({ length: 1000 }, (_, i) => `:${i + 1}\r\n`).join('')
      const r2 = await exchange(rc.port(id), many, atLeast(want.length), 0)
      t.equal(r2.reply, want, `node ${id}: 1,000 pipelined INCRs answered in order`)
    }
  })

  await t.test('big values round-trip byte for byte (leader and proxied)', async (t) => {
    for (const id of [leader, follower]) {
      const v = randomBytes(5 * 1024 * 1024)
      const r = await exchange(rc.port(id), Buffer.concat([multibulk('SET', 'big', v), multibulk('GET', 'big'), multibulk('STRLEN', 'big')]), endsWith(`\r\n:${v.length}\r\n`), 0)
      const head = `+OK\r\n$${v.length}\r\n`
      t.equal(r.reply.slice(0, head.length), head, `node ${id}: SET then GET header`)
      t.ok(r.bytes.subarray(head.length, head.length + v.length).equals(v), `node ${id}: 5 MB back intact`)
      t.equal(r.reply.slice(head.length + v.length), `\r\n:${v.length}\r\n`)
    }
  })

  await t.test('RESP3 types after HELLO 3', async (t) => {
    const r = await exchange(rc.port(follower), Buffer.concat([multibulk('HELLO', '3'), multibulk('CLUSTER', 'INFO'), multibulk('CONFIG', 'GET', 'save'), multibulk('COMMAND', 'INFO', 'get')]), endsWith('~0\r\n'), 0)
    t.match(r.reply, /^%7\r\n/, 'HELLO answers a map')
    t.match(r.reply, /\r\n=\d+\r\ntxt:cluster_state:ok\r\n/, 'CLUSTER INFO is verbatim text')
    t.match(r.reply, /%1\r\n\$4\r\nsave\r\n\$0\r\n\r\n/, 'CONFIG GET is a map')
    t.match(r.reply, /\*10\r\n\$3\r\nget\r\n:2\r\n~2\r\n\+readonly\r\n\+fast\r\n/, 'COMMAND INFO flags are a set')
  })

  await t.test('QUIT answers, then closes', async (t) => {
    const r = await exchange(rc.port(follower), 'SET q 1\r\nQUIT\r\nPING\r\n', () => false)
    t.same([r.reply, r.closed], ['+OK\r\n+OK\r\n', true])
    await sleep(10)
  })
})
