// The key-value REST routes against a real 3-node cluster: CRUD round trips, TTLs, listing with
// paging, compare-and-set, idempotent retries, and a 400 for every kind of bad input.
import t from 'tap'
import { Cluster, sleep } from '../cluster/fixtures/helpers.ts'
import { followersOf, kv, node, pool } from './fixtures/rest.ts'

const c = await Cluster.start(t, { nodes: 3, name: 'http-kv', logLevel: 'warn' })
const { leader } = await c.waitForLeader()
const L = node(c, leader)
const F = node(c, followersOf(c, leader)[0]!)

t.test('CRUD round trips', async (t) => {
  const put = await L.put(kv('greeting'), 'hello')
  t.equal(put.status, 200)
  t.same(put.json, { ok: true })
  const got = await L.get(kv('greeting'))
  t.equal(got.status, 200)
  t.equal(got.text, 'hello')
  t.equal(got.headers.get('content-type'), 'application/octet-stream')
  const rev = got.headers.get('raftkv-revision')
  t.match(rev, /^[1-9]\d*$/)
  t.equal(got.headers.get('etag'), `"${rev}"`)
  t.equal(got.headers.get('raftkv-ttl-ms'), null, 'no expiry, no TTL header')

  // The body is the value byte for byte, whatever the content type says.
  const json = '{"not": "parsed"}'
  t.equal((await L.put(kv('as json'), json, { 'content-type': 'application/json' })).status, 200)
  t.equal((await L.get(kv('as json'))).text, json)
  const bin = Uint8Array.of(0, 255, 1, 128, 10)
  t.equal((await L.put(kv('bin/ä ry'), bin)).status, 200)
  t.same([...(await L.get(kv('bin/ä ry'))).body], [...bin])
  t.equal((await L.put(kv('empty'), '')).status, 200)
  const empty = await L.get(kv('empty'))
  t.equal(empty.status, 200)
  t.equal(empty.body.length, 0)

  // Overwrite moves the revision forward.
  t.equal((await L.put(kv('greeting'), 'hi')).status, 200)
  const again = await L.get(kv('greeting'))
  t.equal(again.text, 'hi')
  t.ok(Number(again.headers.get('raftkv-revision')) > Number(rev))

  // Reads on a follower: linearizable by default, stale on request (after it has applied).
  t.equal((await F.get(kv('greeting'))).text, 'hi')
  const st = await c.status(leader)
  await c.waitApplied(st!.commit)
  t.equal((await F.get(`${kv('greeting')}?consistency=stale`)).text, 'hi')

  const del = await L.del(kv('greeting'))
  t.same(del.json, { ok: true, deleted: 1 })
  const gone = await L.get(kv('greeting'))
  t.equal(gone.status, 404)
  t.same(gone.json, { error: 'not found' })
  t.same((await L.del(kv('greeting'))).json, { ok: true, deleted: 0 }, 'deleting a missing key deletes nothing')
})

t.test('TTL: query seconds, query milliseconds, header; expired keys are gone', async (t) => {
  t.equal((await L.put(`${kv('ttl/px')}?px=400`, 'a')).status, 200)
  t.equal((await L.put(`${kv('ttl/s')}?ttl=1`, 'b')).status, 200)
  t.equal((await L.put(kv('ttl/h'), 'c', { 'raftkv-ttl': '1' })).status, 200)
  t.equal((await L.put(`${kv('ttl/long')}?ttl=3600`, 'd')).status, 200)
  const px = await L.get(kv('ttl/px'))
  t.equal(px.text, 'a')
  const left = Number(px.headers.get('raftkv-ttl-ms'))
  t.ok(left > 0 && left <= 400, `ttl left ${left} ms`)
  const list = await L.get('/kv?prefix=ttl/')
  const items = (list.json!['items'] as { key: string; ttlMs: number | null }[]).map((i) => [i.key, i.ttlMs !== null && i.ttlMs > 0])
  t.same(items, [['ttl/h', true], ['ttl/long', true], ['ttl/px', true], ['ttl/s', true]])
  await sleep(1300)
  for (const k of ['ttl/px', 'ttl/s', 'ttl/h']) t.equal((await L.get(kv(k))).status, 404, `${k} expired`)
  t.equal((await L.get(kv('ttl/long'))).status, 200)
  t.same(((await L.get('/kv?prefix=ttl/')).json!['items'] as { key: string }[]).map((i) => i.key), ['ttl/long'], 'listing skips expired keys')
})

t.test('listing: prefix, limit, cursor paging over 250 keys', async (t) => {
  const keys = Array.from({ length: 250 }, (_, i) => `list/k${String(i).padStart(3, '0')}`)
  await pool([...keys].reverse(), 16, async (k) => {
    const r = await L.put(kv(k), `v-${k}`)
    if (r.status !== 200) throw new Error(`PUT ${k}: ${r.status} ${r.text}`)
  })
  await L.put(kv('list0'), 'outside the prefix')
  await L.put(kv('lisu'), 'outside too')
  await L.put(kv('list/zbin'), Uint8Array.of(0xff, 0xfe))

  const seen: string[] = []
  let cursor: string | null = null
  const sizes: number[] = []
  do {
    const q: string = `/kv?prefix=list/&limit=100${cursor ? `&cursor=${cursor}` : ''}`
    const r = await L.get(q)
    t.equal(r.status, 200, q)
    const items = r.json!['items'] as { key: string; value: string; rev: number; ttlMs: number | null; encoding?: string }[]
    sizes.push(items.length)
    for (const i of items) {
      seen.push(i.key)
      if (i.key === 'list/zbin') t.same([i.value, i.encoding], [Buffer.from([0xff, 0xfe]).toString('base64'), 'base64'], 'a non-UTF-8 value is base64')
      else t.same([i.value, i.encoding, i.ttlMs, i.rev > 0], [`v-${i.key}`, undefined, null, true])
    }
    cursor = r.json!['cursor'] as string | null
  } while (cursor !== null && sizes.length < 10)
  t.same(sizes, [100, 100, 51])
  t.same(seen, [...keys, 'list/zbin'], 'every key once, in order')

  const def = await L.get('/kv?prefix=list/')
  t.equal((def.json!['items'] as unknown[]).length, 100, 'default limit 100')
  t.type(def.json!['cursor'], 'string')
  const one = await L.get('/kv?prefix=list/k249&limit=1')
  t.same(one.json, { items: [{ key: 'list/k249', value: 'v-list/k249', rev: (one.json!['items'] as { rev: number }[])[0]!.rev, ttlMs: null }], cursor: null })
  t.same((await L.get('/kv?prefix=nothing-here')).json, { items: [], cursor: null })
  const st = await c.status(leader)
  await c.waitApplied(st!.commit)
  const stale = await F.get('/kv?prefix=list/&limit=1000&consistency=stale')
  t.equal((stale.json!['items'] as unknown[]).length, 251, 'stale listing on a follower')
  const lin = await F.get('/kv?prefix=list/&limit=1000')
  t.equal((lin.json!['items'] as unknown[]).length, 251, 'linearizable listing on a follower')
})

t.test('compare-and-set: create-only, If-Match revisions, 412 with the current revision', async (t) => {
  const k = kv('cas/a')
  const created = await L.put(k, 'v1', { 'if-none-match': '*' })
  t.equal(created.status, 200)
  const r1 = created.json!['rev'] as number
  t.ok(r1 > 0)
  t.equal(created.headers.get('etag'), `"${r1}"`)
  t.equal((await L.get(k)).headers.get('etag'), `"${r1}"`, 'the revision the write returned is the one reads see')

  const dup = await L.put(k, 'v1b', { 'if-none-match': '*' })
  t.equal(dup.status, 412)
  t.same(dup.json, { error: 'precondition failed', rev: r1 })
  t.equal(dup.headers.get('raftkv-revision'), String(r1))
  t.equal((await L.put(k, 'x', { 'if-match': '0' })).status, 412, 'If-Match: 0 is create-only too')

  const upd = await L.put(k, 'v2', { 'if-match': `"${r1}"` })
  t.equal(upd.status, 200)
  const r2 = upd.json!['rev'] as number
  t.ok(r2 > r1)
  const stale = await L.put(k, 'v3', { 'if-match': `"${r1}"` })
  t.equal(stale.status, 412)
  t.same(stale.json, { error: 'precondition failed', rev: r2 })
  t.equal(stale.headers.get('etag'), `"${r2}"`)
  t.equal((await L.get(k)).text, 'v2', 'a failed CAS changes nothing')
  t.equal((await L.put(k, 'v3', { 'if-match': String(r2) })).status, 200, 'an unquoted revision works too')
  const r3 = Number((await L.get(k)).headers.get('raftkv-revision'))

  t.equal((await L.del(k, { 'if-match': `"${r1}"` })).status, 412)
  t.same((await L.del(k, { 'if-match': `"${r3}"` })).json, { ok: true, deleted: 1 })
  t.equal((await L.get(k)).status, 404)

  // If-Match: * — the key must exist.
  t.same((await L.put(kv('cas/star'), 'x', { 'if-match': '*' })).json, { error: 'precondition failed', rev: 0 })
  t.equal((await L.get(kv('cas/star'))).status, 404)
  await L.put(kv('cas/star'), 'x')
  t.same((await L.put(kv('cas/star'), 'y', { 'if-match': '*' })).json, { ok: true })
  t.equal((await L.get(kv('cas/star'))).text, 'y')
  t.same((await L.del(kv('cas/star'), { 'if-match': '*' })).json, { ok: true, deleted: 1 })
  t.equal((await L.del(kv('cas/star'), { 'if-match': '*' })).status, 412)

  // CAS through a follower (proxied): same answers, headers relayed.
  const viaF = await F.put(kv('cas/f'), 'one', { 'if-none-match': '*' })
  t.equal(viaF.status, 200)
  t.equal(viaF.headers.get('etag'), `"${viaF.json!['rev']}"`)
  const conflict = await F.put(kv('cas/f'), 'two', { 'if-none-match': '*' })
  t.equal(conflict.status, 412)
  t.equal(conflict.json!['rev'], viaF.json!['rev'])
})

t.test('Idempotency-Key: a retried write is applied once and gets the first reply', async (t) => {
  // A create-only CAS: applied twice it would fail the second time (412); deduplicated it succeeds again.
  const idem = { 'if-none-match': '*', 'idempotency-key': `cas-${Date.now()}` }
  const first = await L.put(kv('idem/cas'), 'first', idem)
  t.equal(first.status, 200)
  const retry = await L.put(kv('idem/cas'), 'first', idem)
  t.equal(retry.status, 200, 'the retry gets the first reply, not a conflict')
  t.same(retry.json, first.json, 'same revision')
  const viaFollower = await F.put(kv('idem/cas'), 'first', idem)
  t.same([viaFollower.status, viaFollower.json], [200, first.json], 'a retry through a follower too')
  t.equal((await L.put(kv('idem/cas'), 'other', { 'if-none-match': '*' })).status, 412, 'without the key it conflicts')

  // A plain write retried after another write: the retry must not overwrite the later value.
  const k2 = { 'idempotency-key': `set-${Date.now()}` }
  t.equal((await L.put(kv('idem/set'), 'A', k2)).status, 200)
  t.equal((await L.put(kv('idem/set'), 'B')).status, 200)
  t.equal((await L.put(kv('idem/set'), 'A', k2)).status, 200)
  t.equal((await L.get(kv('idem/set'))).text, 'B', 'the retried write was not applied again')

  // A delete retried after the key was recreated does not delete it.
  const k3 = { 'idempotency-key': `del-${Date.now()}` }
  t.same((await L.del(kv('idem/set'), k3)).json, { ok: true, deleted: 1 })
  await L.put(kv('idem/set'), 'C')
  t.same((await L.del(kv('idem/set'), k3)).json, { ok: true, deleted: 1 }, 'the first reply')
  t.equal((await L.get(kv('idem/set'))).text, 'C')
})

t.test('bad input is a 400 with a message', async (t) => {
  const long = 'k'.repeat(4097)
  const cases: [string, string, Record<string, string>?][] = [
    ['GET', '/kv?limit=abc'],
    ['GET', '/kv?limit=0'],
    ['GET', '/kv?limit=5000'],
    ['GET', '/kv?limit=1.5'],
    ['GET', '/kv?cursor=not*base64'],
    ['GET', '/kv?consistency=eventual'],
    ['GET', '/kv/x?consistency=eventual'],
    ['PUT', '/kv/x?ttl=-1'],
    ['PUT', '/kv/x?ttl=abc'],
    ['PUT', '/kv/x?ttl=0'],
    ['PUT', '/kv/x?px=-5'],
    ['PUT', '/kv/x?ttl=1&px=1000'],
    ['PUT', '/kv/x', { 'raftkv-ttl': 'abc' }],
    ['PUT', '/kv/x', { 'raftkv-ttl': '-1' }],
    ['PUT', '/kv/x?ttl=5', { 'raftkv-ttl': '5' }],
    ['PUT', '/kv/'],
    ['GET', '/kv/'],
    ['DELETE', '/kv/'],
    ['PUT', `/kv/${long}`],
    ['GET', `/kv/${long}`],
    ['PUT', '/kv/x', { 'if-match': 'abc' }],
    ['PUT', '/kv/x', { 'if-match': 'W/"3"' }],
    ['PUT', '/kv/x', { 'if-match': '"3' }],
    ['PUT', '/kv/x', { 'if-match': '-1' }],
    ['DELETE', '/kv/x', { 'if-match': 'abc' }],
    ['PUT', '/kv/x', { 'if-none-match': '"3"' }],
    ['PUT', '/kv/x', { 'if-match': '"3"', 'if-none-match': '*' }],
    ['PUT', '/kv/x', { 'idempotency-key': 'x'.repeat(201) }],
    ['PUT', '/kv/x?redirect=maybe'],
    ['DELETE', '/kv/x', { 'raftkv-ttl': '5' }],
    ['GET', '/readyz?maxLag=abc'],
  ]
  for (const [method, path, headers] of cases) {
    const r = await (method === 'GET' ? L.get(path, headers ? { headers } : {}) : method === 'PUT' ? L.put(path, 'v', headers) : L.del(path, headers))
    t.equal(r.status, 400, `${method} ${path.slice(0, 40)} ${JSON.stringify(headers ?? {})}: ${r.text.slice(0, 120)}`)
    t.type(r.json?.['message'], 'string')
    t.equal(r.json?.['error'], 'Bad Request')
  }
  t.equal((await L.get(kv('x'))).status, 404, 'none of them wrote anything')
})
