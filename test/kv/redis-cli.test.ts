// A 3-node cluster driven by the real Redis tools: `redis-cli` for the whole command set with
// Redis's exact replies and error texts (recorded from redis-server 7.0, replayed on the leader and
// on a follower, whose writes are proxied), SCAN with `redis-cli --scan`, INFO/ROLE/CLUSTER,
// interactive redis-cli in a tmux pane (hints from COMMAND DOCS), and redis-benchmark.
import t from 'tap'
import { cli, RespCluster, run, skipTools, sleep, waitFor } from './fixtures/helpers.ts'
import { redisCliCases } from './fixtures/redis-cli-cases.ts'

t.test('redis-cli against a 3-node cluster', { skip: skipTools }, async (t) => {
  const rc = await RespCluster.start(t, { nodes: 3, name: 'kv-cli', logLevel: 'warn' })
  const leader = await rc.leader()
  const follower = await rc.follower()

  for (const [who, id] of [
    ['leader', leader],
    ['follower', follower],
  ] as const) {
    await t.test(`the command set on the ${who}: Redis's exact replies`, async (t) => {
      let mismatches = 0
      for (const [args, want] of redisCliCases) {
        const got = (await cli(rc.port(id), args)).stdout
        const cmd = args[0]!.toLowerCase()
        // Remaining times depend on how long the commands before took: compare with a margin.
        if ((cmd === 'ttl' || cmd === 'pttl') && /^\d+\n$/.test(want) && Number(want) > 0) {
          const margin = cmd === 'ttl' ? 5 : 5000
          const ok = Math.abs(Number(got) - Number(want)) <= margin
          if (!ok) mismatches++
          t.ok(ok, `${args.join(' ')} → ${got.trim()} (≈ ${want.trim()})`)
          continue
        }
        if (got !== want) mismatches++
        t.equal(got, want, args.join(' '))
      }
      t.equal(mismatches, 0, `all ${redisCliCases.length} replies as Redis gives them`)
    })
  }

  await t.test('keys, scan and the keyspace', async (t) => {
    const p = rc.port(leader)
    await cli(p, ['flushall'])
    const keys = Array.from({ length: 250 }, (_, i) => `user:${i}`)
    await cli(p, ['mset', ...keys.flatMap((k) => [k, 'v'])])
    await cli(p, ['set', 'other', 'x', 'ex', '1000'])
    t.equal((await cli(p, ['dbsize'])).stdout, '251\n')
    const scanned = (await cli(rc.port(follower), ['--scan', '--pattern', 'user:*'])).stdout.trim().split('\n')
    t.same([...new Set(scanned)].sort(), [...keys].sort(), 'redis-cli --scan (cursors parsed as numbers) visits every key on a follower')
    const all = (await cli(p, ['keys', 'user:1?'])).stdout.trim().split('\n')
    t.same(all, Array.from({ length: 10 }, (_, i) => `user:1${i}`), 'KEYS with a glob, in key order')
    t.equal((await cli(p, ['scan', '99999'])).stdout, 'ERR invalid cursor\n\n', 'an unknown cursor')
    const info = (await cli(p, ['info'])).stdout
    t.match(info, /\r\nloading:0\r\n/, 'INFO has loading:0')
    t.match(info, /# Replication\r\nrole:master\r\nconnected_slaves:2\r\n/, 'the leader is the master')
    t.match(info, /# Keyspace\r\ndb0:keys=251,expires=1,avg_ttl=0\r\n/, 'keyspace line')
    t.match(info, /# Raft\r\nraft_node_id:\d+\r\nraft_role:leader\r\nraft_leader_id:\d+/, 'raft section')
    for (const f of ['raft_term', 'raft_commit_index', 'raft_applied_index', 'raft_members:1,2,3', 'raft_fsync_count', 'raft_fsync_mean_ms']) t.match(info, f, `INFO raft has ${f}`)
    t.match((await cli(rc.port(follower), ['info', 'replication'])).stdout, /role:slave\r\nmaster_host:127\.0\.0\.1\r\nmaster_port:\d+\r\nmaster_link_status:up/)
    t.equal((await cli(rc.port(follower), ['role'])).stdout.split('\n')[0], 'slave')
    t.equal((await cli(p, ['role'])).stdout.split('\n')[0], 'master')
  })

  await t.test('CLUSTER: one shard owned by the leader', async (t) => {
    const slots = (await cli(rc.port(follower), ['cluster', 'slots'])).stdout.trim().split('\n')
    t.same(slots.slice(0, 4), ['0', '16383', '127.0.0.1', String(rc.port(leader))], 'slots 0–16383 on the leader')
    const nodes = (await cli(rc.port(leader), ['cluster', 'nodes'])).stdout.trim().split('\n')
    t.equal(nodes.length, 3)
    const masterLine = nodes.find((l) => l.includes('master'))!
    t.match(masterLine, new RegExp(`^[0-9a-f]{40} 127\\.0\\.0\\.1:${rc.port(leader)}@\\d+ myself,master - .* connected 0-16383$`))
    t.equal(nodes.filter((l) => / slave [0-9a-f]{40} /.test(l)).length, 2, 'two replicas of the master')
    const myid = (await cli(rc.port(leader), ['cluster', 'myid'])).stdout.trim()
    t.ok(masterLine.startsWith(myid), 'MYID names the master line')
    t.match((await cli(rc.port(follower), ['cluster', 'info'])).stdout, /cluster_state:ok\r?\ncluster_slots_assigned:16384/)
    const shards = (await cli(rc.port(follower), ['cluster', 'shards'])).stdout
    t.match(shards, /slots\n0\n16383\nnodes\n/)
  })

  await t.test('transactions through redis-cli (stdin), on the follower', async (t) => {
    const script = ['SET t 1', 'WATCH t', 'MULTI', 'INCR t', 'GET t', 'SET t a b', 'EXEC', 'WATCH t', 'SET t 5', 'MULTI', 'INCR t', 'EXEC', 'GET t', 'MULTI', 'SET t', 'EXEC'].join('\n')
    const out = (await cli(rc.port(follower), [], { input: script })).stdout
    t.equal(
      out,
      ['OK', 'OK', 'OK', 'QUEUED', 'QUEUED', 'QUEUED', '2', '2', 'ERR syntax error', '', 'OK', 'OK', 'OK', 'QUEUED', '', '5', 'OK', "ERR wrong number of arguments for 'set' command", '', 'EXECABORT Transaction discarded because of previous errors.', '', ''].join('\n'),
      'EXEC results, a WATCH abort (nil), EXECABORT after a queuing error',
    )
  })

  await t.test('interactive redis-cli in tmux: hints and a round trip', async (t) => {
    const session = `raftkv-${process.pid}-${Date.now()}`
    const tmux = (...a: string[]) => run('tmux', a)
    await tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '40', `redis-cli -p ${rc.port(follower)}`)
    t.teardown(() => void tmux('kill-session', '-t', session))
    const pane = async () => (await tmux('capture-pane', '-p', '-t', session)).stdout
    await waitFor('the redis-cli prompt', async () => (await pane()).includes(`127.0.0.1:${rc.port(follower)}>`), 10_000, 50)
    await tmux('send-keys', '-t', session, 'SET tmuxkey "hello world"', 'Enter')
    await waitFor('OK in the pane', async () => /SET tmuxkey "hello world"\nOK/.test(await pane()), 10_000, 50)
    t.pass('SET answered OK')
    await tmux('send-keys', '-t', session, 'SET ')
    const hint = 'SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]'
    await waitFor('the SET hint', async () => (await pane()).includes(hint), 10_000, 50)
    t.pass(`typing "SET " shows the hint built from COMMAND DOCS: ${hint}`)
    await tmux('send-keys', '-t', session, 'C-u')
    await tmux('send-keys', '-t', session, 'GET tmuxkey', 'Enter')
    await waitFor('the value in the pane', async () => /GET tmuxkey\n"hello world"/.test(await pane()), 10_000, 50)
    t.pass('GET shows "hello world"')
    await tmux('send-keys', '-t', session, 'FOO bar', 'Enter')
    await waitFor('the error in the pane', async () => (await pane()).includes("(error) ERR unknown command 'FOO', with args beginning with: 'bar'"), 10_000, 50)
    t.pass('errors are shown as redis-cli shows Redis errors')
  })

  await t.test('redis-benchmark against the leader: zero errors, exact counts', async (t) => {
    const p = rc.port(leader)
    await cli(p, ['flushall'])
    const r = await run('redis-benchmark', ['-p', String(p), '-t', 'set,get,incr,mset', '-n', '20000', '-c', '20', '-q', '--csv'], { timeoutMs: 300_000 })
    t.equal(r.code, 0, 'redis-benchmark exits 0')
    t.notMatch(r.stdout + r.stderr, /error/i, 'no error reported')
    const rows = new Map(
      r.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',').map((x) => x.replace(/"/g, '')))
        .map((c) => [c[0]!, Number(c[1])] as const),
    )
    for (const test of ['SET', 'GET', 'INCR', 'MSET (10 keys)']) t.ok((rows.get(test) ?? 0) > 0, `${test}: ${rows.get(test)} requests per second`)
    t.comment(`redis-benchmark -c 20: ${[...rows].map(([k, v]) => `${k} ${v.toFixed(0)}/s`).join(', ')}`)
    t.equal((await cli(p, ['get', 'counter:__rand_int__'])).stdout, '20000\n', 'every INCR applied exactly once')
    t.equal((await cli(rc.port(follower), ['get', 'counter:__rand_int__'])).stdout, '20000\n', 'and the follower agrees')
  })

  await t.test('active expiry reclaims keys on every replica', async (t) => {
    const p = rc.port(leader)
    await cli(p, ['flushall'])
    // One redis-cli run (a pipeline), so all 20 are written well within their 2 s.
    const script = Array.from({ length: 20 }, (_, i) => `SET exp:${i} v PX 2000`).join('\n') + '\nSET keeper v\n'
    await cli(p, [], { input: script })
    t.equal((await cli(p, ['dbsize'])).stdout, '21\n')
    await sleep(2100)
    t.equal((await cli(p, ['get', 'exp:0'])).stdout, '\n', 'an expired key reads as missing at once')
    for (const id of rc.ids) {
      await waitFor(`DBSIZE 1 on node ${id}`, async () => (await cli(rc.port(id), ['dbsize'])).stdout === '1\n', 10_000, 100)
    }
    t.pass('the leader proposed the deletions; every replica applied them')
    t.match((await cli(p, ['info', 'keyspace'])).stdout, /db0:keys=1,expires=0,avg_ttl=0/)
  })
})
