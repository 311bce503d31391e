// Fuzzing the HTTP routes of a live node: random methods, keys (any bytes, percent-encoded),
// query strings, headers (preconditions, TTLs, content types and encodings, idempotency keys) and
// bodies. The node must never answer 500 (a healthy single node has no reason to say 503/504
// either), must answer malformed preconditions and TTLs with 400, and must survive every input
// without growing its memory with their number.
import fc from 'fast-check'
import t from 'tap'
import { Cluster } from '../cluster/fixtures/helpers.ts'
import { FUZZ_CONCURRENCY, FUZZ_RUNS, FUZZ_SEED, pool, RSS_GROWTH_LIMIT, rssBytes } from './support.ts'

interface Req {
  method: string
  path: string
  headers: Record<string, string>
  body: Buffer | null
  /** The answer is known to be a 400 (a malformed precondition or TTL). */
  bad: boolean
}

const key = fc.oneof(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 30 }).map((u) => Buffer.from(u).toString('latin1')))
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/)
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined })

const weird: fc.Arbitrary<Req> = fc
  .record({
    method: fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'PATCH', 'HEAD', 'OPTIONS'),
    key,
    rawPath: fc.boolean(),
    query: optional(fc.constantFrom('consistency=stale', 'consistency=bogus', 'ttl=5', 'ttl=-5', 'ttl=abc', 'px=100', 'redirect=1', 'redirect=maybe', 'x=1', '%zz')),
    ifMatch: optional(fc.oneof(fc.constantFrom('*', '"1"', '"0"', '"-3"', '"99999999999999999999"', 'W/"1"', '"1", "2"'), headerValue)),
    ifNoneMatch: optional(fc.constantFrom('*', '"1"', 'x')),
    ttl: optional(fc.oneof(fc.constantFrom('1', '0', '-1', '1e9', 'abc', ''), headerValue)),
    ctype: optional(fc.constantFrom('application/octet-stream', 'application/json', 'text/plain', 'text/plain; charset=utf-16', 'multipart/form-data; boundary=x', 'x/y', '')),
    cenc: optional(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus')),
    idem: optional(headerValue),
    body: optional(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(new Uint8Array(70_000).fill(0x61)), fc.string({ maxLength: 100 }).map((s) => new TextEncoder().encode(s)))),
  })
  .map((r) => {
    const headers: Record<string, string> = {}
    if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch
    if (r.ifNoneMatch !== undefined) headers['if-none-match'] = r.ifNoneMatch
    if (r.ttl !== undefined) headers['raftkv-ttl'] = r.ttl
    if (r.ctype !== undefined) headers['content-type'] = r.ctype
    if (r.cenc !== undefined) headers['content-encoding'] = r.cenc
    if (r.idem !== undefined) headers['idempotency-key'] = r.idem
    // A raw path keeps printable bytes, except those a URL gives meaning: / ? # %, and the
    // backslash, which a URL parser turns into a path separator (another route: a 404).
    const k = r.rawPath ? r.key.replace(/[^\x21-\x7e]|[/?#%\\]/g, '_') || 'k' : encodeURIComponent(r.key)
    const path = `/kv/${k}${r.query !== undefined ? `?${r.query}` : ''}`
    // Certainly malformed: a PUT with an If-Match that is not "*" or a quoted integer, nothing else
    // odd (an unsupported Content-Encoding, or an empty Content-Type — not a media type — is
    // refused first, with 415).
    const bad = r.method === 'PUT' && r.ifMatch === 'W/"1"' && r.ifNoneMatch === undefined && r.query === undefined && r.cenc === undefined && r.ctype !== ''
    const withBody = r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH'
    return { method: r.method, path, headers, body: withBody && r.body ? Buffer.from(r.body) : null, bad }
  })

/** Plain reads and writes of random keys and bodies (so that accepted requests are fuzzed too). */
const plain: fc.Arbitrary<Req> = fc
  .record({ method: fc.constantFrom('GET', 'PUT', 'DELETE'), key, body: fc.uint8Array({ maxLength: 2048 }) })
  .map((r) => ({ method: r.method, path: `/kv/${encodeURIComponent(r.key)}`, headers: { 'content-type': 'application/octet-stream' }, body: r.method === 'PUT' ? Buffer.from(r.body) : null, bad: false }))

const request = fc.oneof(weird, plain)

t.test('HTTP: random requests against a live node', async (t) => {
  const c = await Cluster.start(t, { nodes: 1, name: 'fuzz-http', logLevel: 'warn' })
  // Generous: starting a node under tsx takes long on a loaded 2-core machine.
  await c.waitForLeader(undefined, 90_000)
  const base = c.url(1)
  const pid = c.procs.get(1)!.pid
  const inputs = fc.sample(request, { numRuns: FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) })
  const fails: string[] = []
  const statuses = new Map<number, number>()
  let rss0 = 0
  await pool(inputs.length, FUZZ_CONCURRENCY, async (i) => {
    if (i === Math.min(200, inputs.length - 1)) rss0 = rssBytes(pid)
    const r = inputs[i]!
    let status: number
    let text: string
    try {
      const res = await fetch(base + r.path, { method: r.method, headers: r.headers, ...(r.body ? { body: r.body } : {}), signal: AbortSignal.timeout(10_000) })
      status = res.status
      text = await res.text()
    } catch (e) {
      // A client-side refusal (e.g. a header undici will not send) is not the node's doing.
      if (e instanceof TypeError && !String(e.cause ?? '').includes('ECONN')) return
      fails.push(`${r.method} ${r.path} ${JSON.stringify(r.headers)}: no answer (${(e as Error).message})`)
      return
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
    if (status >= 500) fails.push(`${r.method} ${r.path} ${JSON.stringify(r.headers)} → ${status} ${text.slice(0, 200)}`)
    if (r.bad && status !== 400) fails.push(`${r.method} ${r.path} ${JSON.stringify(r.headers)} → ${status}, want 400`)
  })
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok(c.procs.get(1)!.alive, 'the node never crashed')
  t.same(fails.slice(0, 10), [], 'no 5xx, and 400 for malformed preconditions')
  t.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, 'both accepted and rejected requests were exercised')
  const r = await fetch(`${base}/kv/after-fuzz`, { method: 'PUT', body: 'ok' })
  t.equal(r.status, 200, 'still serving writes')
  const growth = rssBytes(pid) - rss0
  t.ok(growth < RSS_GROWTH_LIMIT, `memory growth ${(growth / 1048576).toFixed(1)} MiB over ${inputs.length} requests`)
})
