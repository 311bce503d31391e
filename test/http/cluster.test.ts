// The node-level REST behaviour against a real 3-node cluster: writes on followers (proxied, or 307
// to the leader), the probes, /metrics, the OpenAPI document and its UI, and — last, since it
// breaks the cluster — what a write gets when there is no leader.
import t from 'tap'
import { Cluster, waitFor } from '../cluster/fixtures/helpers.ts'
import { call, followersOf, kv, node } from './fixtures/rest.ts'

// A short request timeout keeps the no-leader cases quick. These cases name the leader they
// found at the start, so a long election timeout keeps it leading on a busy machine (a stalled
// process would otherwise lose leadership between two assertions).
const c = await Cluster.start(t, { nodes: 3, name: 'http-cluster', logLevel: 'warn', args: ['--request-timeout-ms', '1500', '--election-ms', '1000'] })
const { leader } = await c.waitForLeader()
const [f1, f2] = followersOf(c, leader) as [number, number]
const L = node(c, leader)
const F = node(c, f1)

t.test('writes on a follower are proxied to the leader', async (t) => {
  const r = await F.put(`${kv('proxied')}?ttl=60`, 'via follower')
  t.equal(r.status, 200, r.text)
  t.same(r.json, { ok: true })
  t.equal(r.headers.get('raftkv-leader'), String(leader), 'the leader answered')
  const got = await L.get(kv('proxied'))
  t.equal(got.text, 'via follower')
  t.ok(Number(got.headers.get('raftkv-ttl-ms')) > 50_000, 'the TTL travelled with it')
  t.same((await F.del(kv('proxied'))).json, { ok: true, deleted: 1 })
  t.equal((await L.get(kv('proxied'))).status, 404)
  // A bad request is refused by the follower itself, before any proxying.
  t.equal((await F.put(`${kv('proxied')}?ttl=abc`, 'x')).status, 400)
})

t.test('307 to the leader on request (?redirect=1 or Raftkv-Redirect: 1)', async (t) => {
  for (const [path, headers] of [
    [`${kv('redir')}?redirect=1`, {}],
    [kv('redir'), { 'raftkv-redirect': '1' }],
  ] as const) {
    const r = await F.put(path, 'v', headers)
    t.equal(r.status, 307, r.text)
    const loc = r.headers.get('location')!
    t.equal(loc, `${c.url(leader)}${path}`, 'Location: the same request on the leader')
    t.equal((await call(loc, 'PUT', { body: 'v', headers })).status, 200, 'following it writes')
  }
  t.equal((await F.del(`${kv('redir')}?redirect=1`)).status, 307)
  t.equal((await L.put(`${kv('redir')}?redirect=1`, 'w')).status, 200, 'the leader itself just writes')
  t.equal((await F.get(kv('redir'))).text, 'w', 'reads are never redirected')
})

t.test('probes: /livez, /health, /readyz', async (t) => {
  for (const id of c.ids) {
    const n = node(c, id)
    t.same((await n.get('/livez')).json, { ok: true })
    const h = await n.get('/health')
    t.same([h.status, h.json!['ok'], h.json!['leader']], [200, true, leader])
    const ready = await waitFor(`node ${id} ready`, async () => {
      const r = await n.get('/readyz')
      return r.status === 200 ? r : undefined
    })
    t.equal(ready.json!['ok'], true)
    t.equal(ready.json!['leader'], leader)
    t.ok((ready.json!['lag'] as number) <= 100)
  }
  const strict = await L.get('/readyz?maxLag=0')
  t.ok(strict.status === 200 || strict.status === 503, 'maxLag is honoured')
})

t.test('/metrics: etcd names under raftkv_, sane values', async (t) => {
  for (let i = 0; i < 5; i++) await L.put(kv(`m${i}`), 'x')
  const m = await L.get('/metrics')
  t.equal(m.status, 200)
  t.match(m.headers.get('content-type'), /^text\/plain/)
  const value = (name: string): number | undefined => {
    const line = m.text.split('\n').find((l) => l.startsWith(`${name} `))
    return line === undefined ? undefined : Number(line.slice(name.length + 1))
  }
  t.equal(value('raftkv_server_has_leader'), 1)
  t.equal(value('raftkv_server_is_leader'), 1)
  t.ok(value('raftkv_server_leader_changes_seen_total')! >= 1)
  const commit = value('raftkv_server_commit_index')!
  t.ok(commit >= 5, `commit index ${commit}`)
  t.equal(value('raftkv_server_proposals_committed_total'), commit)
  t.ok(value('raftkv_server_proposals_applied_total')! > 0)
  t.ok(value('raftkv_server_applied_index')! > 0)
  t.ok(value('raftkv_server_proposals_pending')! >= 0)
  t.equal(value('raftkv_server_proposals_failed_total'), 0)
  t.ok(value('raftkv_server_term')! >= 1)
  t.ok(value('raftkv_disk_wal_fsync_duration_seconds_count')! > 0, 'fsyncs observed')
  t.match(m.text, /raftkv_disk_wal_fsync_duration_seconds_bucket\{le="0.001"\}/)
  t.match(m.text, /raftkv_network_dropped_total\{reason="wire_badMac"\} 0/)
  t.match(m.text, /raftkv_network_dropped_total\{reason="tcp_backpressure"\} \d+/)
  t.ok(Number(/raftkv_network_sent_total\{transport="tcp"\} (\d+)/.exec(m.text)?.[1]) > 0, 'the leader sent frames')
  t.match(m.text, /raftkv_process_cpu_seconds_total/)
  const fm = await F.get('/metrics')
  t.match(fm.text, /^raftkv_server_is_leader 0$/m)
  t.match(fm.text, /^raftkv_server_has_leader 1$/m)
})

t.test('the OpenAPI document covers every route, and /docs serves the UI', async (t) => {
  const r = await L.get('/docs/json')
  t.equal(r.status, 200)
  const doc = r.json as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, { responses?: Record<string, unknown>; parameters?: { in: string; name: string }[]; requestBody?: unknown }>> }
  t.match(doc.openapi, /^3\.\d+\.\d+$/)
  t.equal(doc.info.title, 'raftkv')
  t.type(doc.info.version, 'string')
  const want: Record<string, string[]> = {
    '/kv/{key}': ['get', 'put', 'delete'],
    '/kv': ['get'],
    '/status': ['get'],
    '/health': ['get'],
    '/livez': ['get'],
    '/readyz': ['get'],
    '/metrics': ['get'],
  }
  const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options'])
  for (const [path, ops] of Object.entries(want)) {
    for (const op of ops) t.ok(doc.paths[path]?.[op], `${op.toUpperCase()} ${path} documented`)
  }
  // Structure: every operation has responses with a description; path parameters are declared.
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [op, o] of Object.entries(item)) {
      if (!methods.has(op)) continue
      const codes = Object.keys(o.responses ?? {})
      t.ok(codes.length > 0 && codes.every((k) => /^[1-5]\d\d$|^default$/.test(k)), `${op} ${path} has responses`)
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((x) => x[1])) {
        t.ok(o.parameters?.some((p) => p.in === 'path' && p.name === name), `${op} ${path} declares {${name}}`)
      }
    }
  }
  const put = doc.paths['/kv/{key}']!['put']!
  t.ok(put.parameters?.some((p) => p.in === 'header' && p.name === 'if-match'), 'If-Match documented')
  t.ok(put.parameters?.some((p) => p.in === 'query' && p.name === 'ttl'), 'ttl documented')
  t.ok(put.requestBody, 'the raw body documented')
  t.ok(doc.paths['/kv/{key}']!['put']!.responses!['412'], '412 documented')
  t.ok(doc.paths['/kv']!['get']!.parameters?.some((p) => p.name === 'cursor'), 'cursor documented')

  const ui = await call(`${c.url(leader)}/docs/`, 'GET')
  t.equal(ui.status, 200)
  t.match(ui.headers.get('content-type'), /text\/html/)
  t.match(ui.text, /swagger/i)
})

t.test('no leader: 503 when nothing was proposed, never a definite error for a write that may commit', async (t) => {
  await c.kill(f1)
  await c.kill(f2)
  // The old leader may still be leading for a moment (a write then cannot commit: 504), or it has
  // stepped down (503): anything but a success or a definite failure is wrong.
  const early = await L.put(kv('lost'), 'x')
  t.ok(early.status === 504 || early.status === 503, `${early.status} ${early.text}`)
  if (early.status === 504) t.same([early.json!['error'], early.json!['outcome']], ['not committed yet', 'unknown'])
  await waitFor('the leader steps down', async () => (await L.get('/health')).status === 503)
  const h = await L.get('/health')
  t.same([h.json!['ok'], h.json!['leader']], [false, 0])
  const ready = await L.get('/readyz')
  t.same([ready.status, ready.json!['reason']], [503, 'no raft leader'])
  const redirected = await L.put(`${kv('lost')}?redirect=1`, 'x')
  t.same([redirected.status, redirected.json!['error']], [503, 'no raft leader'])
  const proxied = await L.put(kv('lost'), 'x')
  t.same([proxied.status, proxied.json!['error']], [503, 'no raft leader'], 'proxy gave up without reaching anyone')
  t.equal((await L.get(kv('lost'))).status, 503, 'a linearizable read cannot be confirmed')
  t.equal((await L.get(`${kv('lost')}?consistency=stale`)).status, 404, 'a stale read answers locally')
  const m = await L.get('/metrics')
  t.match(m.text, /^raftkv_server_has_leader 0$/m)
})
