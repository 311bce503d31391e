// --requirepass (NOAUTH before AUTH, Redis's limits for unauthenticated clients, a follower's
// write proxy authenticating to the leader, the internal forwarding command refused to clients),
// then --redirect: a follower answers writes with -MOVED, which `redis-cli -c` follows.
import { connect } from 'node:net'
import t from 'tap'
import { cli, RespCluster, skipTools, waitFor } from './fixtures/helpers.ts'

const PASS = 's3cret'

/**
 * Sends `data` and collects the reply until the server closes or the reply holds `replies`
 * complete replies (counted by their first lines; enough for the short replies used here), then
 * waits `settleMs` to see whether a close follows.
 */
function exchange(port: number, data: string, replies: number, settleMs = 200): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(data))
    let out = ''
    let settle: NodeJS.Timeout | null = null
    const overall = setTimeout(() => finish(false), 30_000)
    const finish = (closed: boolean) => {
      clearTimeout(overall)
      if (settle) clearTimeout(settle)
      s.destroy()
      resolve({ reply: out, closed })
    }
    s.on('data', (d) => {
      out += d.toString('latin1')
      if (!settle && countReplies(out) >= replies) settle = setTimeout(() => finish(false), settleMs)
    })
    s.on('close', () => finish(true))
    s.on('error', () => undefined)
  })
}

/** Complete top-level replies in `s` (simple strings, errors, integers, bulks, maps of bulks). */
function countReplies(s: string): number {
  let n = 0
  let i = 0
  const line = (): string | null => {
    const e = s.indexOf('\r\n', i)
    if (e < 0) return null
    const l = s.slice(i, e)
    i = e + 2
    return l
  }
  const one = (): boolean => {
    const l = line()
    if (l === null) return false
    const t = l[0]
    if (t === '$') {
      const len = Number(l.slice(1))
      if (len < 0) return true
      if (s.length < i + len + 2) return false
      i += len + 2
      return true
    }
    if (t === '*' || t === '%') {
      const k = Number(l.slice(1)) * (t === '%' ? 2 : 1)
      for (let j = 0; j < k; j++) if (!one()) return false
      return true
    }
    return true
  }
  while (i < s.length && one()) n++
  return n
}

t.test('requirepass and redirect mode', { skip: skipTools }, async (t) => {
  const rc = await RespCluster.start(t, { nodes: 3, name: 'kv-auth', logLevel: 'warn', auth: PASS })
  const leader = await rc.leader()
  const follower = await rc.follower()

  await t.test('authentication', async (t) => {
    const p = rc.port(follower)
    t.equal((await cli(p, ['get', 'k'])).stdout, 'NOAUTH Authentication required.\n\n', 'NOAUTH before AUTH')
    t.equal((await cli(p, ['ping'])).stdout, 'NOAUTH Authentication required.\n\n')
    t.equal((await cli(p, ['auth', 'wrong'])).stdout, 'WRONGPASS invalid username-password pair or user is disabled.\n\n')
    t.equal((await cli(p, ['auth', 'nobody', PASS])).stdout, 'WRONGPASS invalid username-password pair or user is disabled.\n\n')
    const seq = (await exchange(p, `GET k\r\nAUTH ${PASS}\r\nSET k v\r\nGET k\r\n`, 4)).reply
    t.equal(seq, '-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n$1\r\nv\r\n', 'AUTH, then a proxied write and a read on the follower')
    t.equal((await cli(p, ['get', 'k'], { auth: PASS })).stdout, 'v\n', 'redis-cli -a')
    t.match((await exchange(p, `HELLO 3 AUTH default ${PASS}\r\nGET k\r\n`, 2)).reply, /^%7\r\n.*\$1\r\nv\r\n$/s, 'HELLO 3 AUTH default <pass>')
    t.match((await exchange(p, 'HELLO 3\r\n', 1)).reply, /^-NOAUTH HELLO must be called with the client already authenticated/, 'HELLO without AUTH')
    const r = await exchange(p, '*11\r\n', 1)
    t.same([r.reply, r.closed], ['-ERR Protocol error: unauthenticated multibulk length\r\n', true], 'unauthenticated: at most 10 arguments')
    const r2 = await exchange(p, '*1\r\n$16385\r\n', 1)
    t.same([r2.reply, r2.closed], ['-ERR Protocol error: unauthenticated bulk length\r\n', true], 'unauthenticated: bulks up to 16 KB')
  })

  await t.test('the forwarding command is for peers only', async (t) => {
    const p = rc.port(leader)
    t.equal((await exchange(p, `AUTH ${PASS}\r\nRAFTKV.FWD c 1 1 x\r\n`, 2)).reply, '+OK\r\n-ERR RAFTKV.FWD is only accepted from cluster peers\r\n')
    t.equal((await exchange(p, `AUTH ${PASS}\r\nRAFTKV.PEER 2 forged\r\n`, 2)).reply, '+OK\r\n-ERR peer 2 rejected\r\n')
    t.equal((await exchange(p, 'RAFTKV.PEER 2 forged\r\n', 1)).reply, '-NOAUTH Authentication required.\r\n', 'and nothing before AUTH')
    t.notMatch((await cli(p, ['command', 'list'], { auth: PASS })).stdout, /raftkv/i, 'not listed by COMMAND')
  })

  await t.test('redirect mode: -MOVED to the leader, followed by redis-cli -c', async (t) => {
    // Restart one follower in redirect mode.
    await rc.c.kill(follower, 'SIGTERM')
    rc.c.spawn(follower, ['--redirect'])
    await rc.ready()
    const l = await rc.leader()
    const f = rc.ids.find((id) => id !== l && id === follower) ?? rc.ids.find((id) => id !== l)!
    t.ok(f === follower, 'the restarted node follows')
    const p = rc.port(follower)
    const slot = (await cli(p, ['cluster', 'keyslot', 'moved-key'], { auth: PASS })).stdout.trim()
    t.equal((await cli(p, ['set', 'moved-key', 'v'], { auth: PASS })).stdout, `MOVED ${slot} 127.0.0.1:${rc.port(l)}\n\n`, '-MOVED <slot of the key> <leader>')
    const c = await cli(p, ['set', 'moved-key', 'v'], { auth: PASS, cluster: true })
    t.equal(c.stdout, 'OK\n', 'redis-cli -c follows the redirection')
    t.equal((await cli(p, ['get', 'moved-key'], { auth: PASS })).stdout, 'v\n', 'reads are served by the follower (linearizable)')
    const interactive = await cli(p, [], { auth: PASS, cluster: true, input: 'SET a 1\nINCR a\nGET a\n' })
    t.equal(interactive.stdout, `-> Redirected to slot [${(await cli(p, ['cluster', 'keyslot', 'a'], { auth: PASS })).stdout.trim()}] located at 127.0.0.1:${rc.port(l)}\nOK\n2\n2\n`, 'redis-cli -c with commands on stdin: redirected once, then at the leader')
    const tx = (await exchange(p, `AUTH ${PASS}\r\nMULTI\r\nSET x 1\r\nEXEC\r\n`, 4)).reply
    t.match(tx, new RegExp(`^\\+OK\\r\\n\\+OK\\r\\n-MOVED \\d+ 127\\.0\\.0\\.1:${rc.port(l)}\\r\\n-EXECABORT Transaction discarded because of previous errors\\.\\r\\n$`), 'inside MULTI the write is redirected at once')
    await waitFor('the value on the redirect follower', async () => (await cli(p, ['get', 'a'], { auth: PASS })).stdout === '2\n')
  })
})
