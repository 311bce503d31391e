// The observe routes on real fastify servers: /rpc-log filters and input checks, the SSE stream
// (filters, status events, resuming with Last-Event-ID), the HTTP request hooks, and a trace merged
// across three members that ask each other over loopback.
import { get, type IncomingMessage } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { encodeRequest } from '../../src/kv/request.ts'
import type { RpcLogPage, RpcRecord, Trace } from '../../src/observe/json.ts'
import { Observer } from '../../src/observe/observer.ts'
import { observePlugin } from '../../src/observe/routes.ts'
import { MsgType } from '../../src/raft/types.ts'
import { entries, fakeStatus, msg } from './helpers.ts'

const enc = new TextEncoder()

interface Member {
  app: FastifyInstance
  obs: Observer
  url: string
}

/** A member: an observer, the plugin, and a stand-in for the node's PUT /kv route. */
async function member(id: number, urls: Map<number, string>, opts: { leader?: number } = {}): Promise<Member> {
  const obs = new Observer(id, 1000)
  const app = Fastify()
  const st = fakeStatus({ id, role: opts.leader === id ? 'leader' : 'follower', leader: opts.leader ?? 1 })
  obs.attach(() => st)
  let index = 10
  app.put<{ Params: { key: string } }>('/kv/:key', async (req) => {
    // Like http.ts: the proposal happens synchronously in the handler.
    obs.events.onPropose(++index, 2, encodeRequest({ now: Date.now(), ops: [{ t: 'set', key: enc.encode(req.params.key), value: enc.encode('v') }] }))
    return { ok: true }
  })
  await app.register(observePlugin, { node: { status: () => st }, observer: obs, peerHttp: (n) => urls.get(n) ?? null, electionMs: 150, heartbeatMs: 20, localControl: null })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const a = app.server.address()
  const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
  urls.set(id, url)
  return { app, obs, url }
}

t.test('GET /rpc-log: filters and bad input', async (t) => {
  const m = await member(1, new Map())
  t.teardown(() => m.app.close())
  const log = m.obs.log
  log.send(msg(MsgType.Append, 1, 2, 2, { index: 4, logTerm: 2, entries: entries(5, 1, 2) }))
  log.send(msg(MsgType.Heartbeat, 1, 3, 2, { ctx: 1 }))
  log.receive(msg(MsgType.AppendResp, 2, 1, 2, { index: 5 }))
  log.record({ dir: 'recv', peer: 3, type: MsgType.HeartbeatResp, term: 2, index: 0, ctx: 1 })
  const q = async (qs: string): Promise<RpcLogPage> => (await m.app.inject({ url: `/rpc-log${qs}` })).json<RpcLogPage>()
  t.equal((await q('')).records.length, 4)
  t.same((await q('?type=Append,AppendResp')).records.map((r) => r.type), ['Append', 'AppendResp'])
  t.same((await q('?peer=3')).records.map((r) => r.type), ['Heartbeat', 'HeartbeatResp'])
  t.same((await q('?kind=recv')).records.map((r) => r.type), ['AppendResp', 'HeartbeatResp'])
  t.same((await q('?path=kernel')).records.map((r) => r.path), ['kernel'])
  t.same((await q('?since=1&limit=2')).records.map((r) => r.seq), [2, 3])
  t.same((await q('?limit=1')).records.map((r) => r.seq), [4])
  const page = await q('')
  t.same([page.node, page.first, page.last, page.size], [1, 1, 4, 1000])
  t.ok(page.clock.wall > 0 && page.clock.mono > 0)
  for (const bad of ['?type=Bogus', '?type=Append,', '?limit=0', '?limit=100000', '?peer=-1', '?since=abc', '?kind=nope', '?path=both']) {
    const r = await m.app.inject({ url: `/rpc-log${bad}` })
    t.equal(r.statusCode, 400, `400 for ${bad}`)
  }
  t.equal((await m.app.inject({ url: '/trace/not$an$id' })).statusCode, 400, 'bad request id')
  t.equal((await m.app.inject({ url: '/trace/h1.99' })).statusCode, 404, 'unknown request')
  t.equal((await m.app.inject({ url: '/trace' })).statusCode, 400, 'trace needs a key')
  t.equal((await m.app.inject({ url: '/rpc-log/resolve' })).statusCode, 400, 'resolve needs id or key')
  t.equal((await m.app.inject({ url: '/rpc-log/slice?index=0' })).statusCode, 400)
  const st = (await m.app.inject({ url: '/observe/status' })).json<{ id: number; progress: unknown[]; rpcLog: { total: number } }>()
  t.match(st, { id: 1, rpcLog: { total: 4 } })
  t.equal(st.progress.length, 3)
  t.equal((await m.app.inject({ url: '/rpc-log' })).headers['access-control-allow-origin'], '*', 'CORS for the visualizer')
})

t.test('the RPC log can be off: the routes say so', async (t) => {
  const app = Fastify()
  await app.register(observePlugin, { node: { status: () => fakeStatus() }, observer: null, peerHttp: () => null, electionMs: 150, heartbeatMs: 20, localControl: null })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/rpc-log' })).statusCode, 404)
  t.equal((await app.inject({ url: '/observe/status' })).statusCode, 200)
})

interface Sse {
  events: { event: string; data: string; id?: string }[]
  res: IncomingMessage
  close(): void
}

function openSse(url: string, headers: Record<string, string> = {}): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, (res) => {
      const out: Sse = { events: [], res, close: () => req.destroy() }
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        buf += d
        let k: number
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, k)
          buf = buf.slice(k + 2)
          const ev: { event: string; data: string; id?: string } = { event: 'message', data: '' }
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7)
            else if (line.startsWith('data: ')) ev.data += line.slice(6)
            else if (line.startsWith('id: ')) ev.id = line.slice(4)
          }
          if (!block.startsWith(':')) out.events.push(ev)
        }
      })
      res.on('error', () => undefined)
      resolve(out)
    })
    req.on('error', reject)
  })
}

async function until<T>(what: string, fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('GET /rpc-log/stream: live records with filters, status events, resume after Last-Event-ID', async (t) => {
  const m = await member(1, new Map())
  t.teardown(() => m.app.close())
  const log = m.obs.log
  log.send(msg(MsgType.Heartbeat, 1, 2, 2, { ctx: 1 })) // before the stream: not sent without backlog
  const s = await openSse(`${m.url}/rpc-log/stream?type=Append&status=true`)
  t.equal(s.res.headers['content-type'], 'text/event-stream; charset=utf-8')
  t.equal(s.res.headers['access-control-allow-origin'], '*')
  await until('hello', () => s.events.find((e) => e.event === 'hello'))
  log.send(msg(MsgType.Heartbeat, 1, 2, 2, { ctx: 2 }))
  log.send(msg(MsgType.Append, 1, 2, 2, { index: 1, entries: entries(2, 3, 2) }))
  const rpc = await until('an rpc event', () => s.events.find((e) => e.event === 'rpc'))
  const recs = JSON.parse(rpc.data) as RpcRecord[]
  t.same(recs.map((r) => [r.type, r.n]), [['Append', 3]], 'only the Append')
  t.match(rpc.id, /^[0-9a-z]+:3$/, 'the event id is this run and the log position reached')
  const st = await until('a status event', () => s.events.find((e) => e.event === 'status'))
  t.match(JSON.parse(st.data), { id: 1, electionTimeoutMs: 150 })
  s.close()

  // A reconnecting EventSource sends the last id it saw: the stream goes on from there.
  log.send(msg(MsgType.Append, 1, 3, 2, { index: 4, entries: entries(5, 1, 2) }))
  const again = await openSse(`${m.url}/rpc-log/stream?type=Append`, { 'last-event-id': rpc.id! })
  const next = await until('the missed Append', () => again.events.find((e) => e.event === 'rpc'))
  t.same((JSON.parse(next.data) as RpcRecord[]).map((r) => [r.seq, r.peer]), [[4, 3]])
  again.close()

  const back = await openSse(`${m.url}/rpc-log/stream?backlog=2`)
  const b = await until('backlog', () => back.events.find((e) => e.event === 'rpc'))
  t.same((JSON.parse(b.data) as RpcRecord[]).map((r) => r.seq), [3, 4], 'backlog: the newest records first')
  back.close()
  // After a restart the log starts over: an id from the old run starts the stream afresh.
  const old = await openSse(`${m.url}/rpc-log/stream?type=Append`, { 'last-event-id': 'zz:3' })
  log.send(msg(MsgType.Append, 1, 2, 2, { index: 5, entries: entries(6, 1, 2) }))
  const fresh = await until('records despite a stale cursor', () => old.events.find((e) => e.event === 'rpc'))
  t.same((JSON.parse(fresh.data) as RpcRecord[]).map((r) => r.seq), [5], 'no backlog asked, so only what is new')
  old.close()
  t.equal((await m.app.inject({ url: '/rpc-log/stream?max=0' })).statusCode, 400)
})

t.test('the stream skips ahead when it cannot keep up, and says so', async (t) => {
  const m = await member(1, new Map())
  t.teardown(() => m.app.close())
  const s = await openSse(`${m.url}/rpc-log/stream?max=10`)
  await until('hello', () => s.events.find((e) => e.event === 'hello'))
  for (let i = 0; i < 500; i++) {
    m.obs.log.send(msg(MsgType.Heartbeat, 1, 2, 2, { ctx: i }))
    if (i === 100) m.obs.log.receive(msg(MsgType.Vote, 3, 1, 3, { index: 9, logTerm: 2 }))
  }
  const gap = await until('a gap', () => s.events.find((e) => e.event === 'gap'))
  t.match(JSON.parse(gap.data), { reason: 'rate', lost: 500 - 10 })
  const kept = await until('the vote, kept through the skip', () => s.events.find((e) => e.event === 'rpc' && e.data.includes('"Vote"')))
  t.same((JSON.parse(kept.data) as RpcRecord[]).map((r) => r.type), ['Vote'], 'only the notable record of the skipped stretch')
  s.close()
})

t.test('HTTP writes: arrival, proposal and reply are logged, and the reply names the request', async (t) => {
  const m = await member(1, new Map())
  t.teardown(() => m.app.close())
  const r = await m.app.inject({ method: 'PUT', url: '/kv/apple', payload: 'x', headers: { 'content-type': 'text/plain' } })
  t.equal(r.headers['x-raftkv-request'], 'h1.1')
  const g = await m.app.inject({ url: '/rpc-log' })
  const recs = g.json<RpcLogPage>().records
  t.same(recs.map((x) => x.kind), ['arrive', 'propose', 'reply'])
  t.match(recs[1], { req: 1, reqs: ['h1.1'], keys: ['apple'], index: 11 })
  t.match(recs[2], { req: 1, status: 200 })
  t.equal((await m.app.inject({ url: '/kv/apple' })).headers['x-raftkv-request'], undefined, 'reads are not tagged')
})

t.test('GET /trace/:id merges every member’s slice over HTTP', async (t) => {
  const urls = new Map<number, string>()
  const ms = [await member(1, urls, { leader: 1 }), await member(2, urls, { leader: 1 }), await member(3, urls, { leader: 1 })]
  t.teardown(() => Promise.all(ms.map((m) => m.app.close())))
  const [a, b, c] = ms.map((m) => m.obs) as [Observer, Observer, Observer]
  // Timeline of one write on leader 1: propose, Append to 2 and 3, acks, commit, apply.
  const put = await ms[0]!.app.inject({ method: 'PUT', url: '/kv/melon', payload: 'x', headers: { 'content-type': 'text/plain' } })
  const id = put.headers['x-raftkv-request'] as string
  const app = msg(MsgType.Append, 1, 2, 2, { index: 10, logTerm: 2, commit: 10, entries: entries(11, 1, 2) })
  const app3 = { ...app, to: 3 }
  a.events.onSend(app)
  a.events.onSend(app3)
  b.events.onReceive(app)
  c.events.onReceive(app3)
  const ack = msg(MsgType.AppendResp, 2, 1, 2, { index: 11 })
  b.events.onSend(ack)
  a.events.onReceive(ack)
  a.log.event(5, 2, 11, 10, 0, 0) // commit on the leader
  const hb = msg(MsgType.Heartbeat, 1, 2, 2, { index: 11, logTerm: 2, commit: 11, ctx: 5 })
  a.events.onSend(hb)
  b.events.onReceive(hb)
  b.log.event(6, 2, 11, 10, 0, 0) // apply on 2
  // Ask a follower: it finds the proposal on the leader and gathers everyone's part.
  const r = await ms[1]!.app.inject({ url: `/trace/${id}` })
  t.equal(r.statusCode, 200, 'trace found')
  const trace = r.json<Trace>()
  t.match(trace, { id: 'h1.1', index: 11, term: 2, proposer: 1, keys: ['melon'] })
  t.same(trace.answered.sort(), [1, 2, 3])
  t.ok(trace.events.some((e) => e.node === 3 && e.kind === 'recv' && e.type === 'Append'), 'S3 received it')
  t.ok(trace.events.find((e) => e.node === 1 && e.kind === 'send' && e.peer === 2)?.pair, 'send paired with its receive')
  t.not(trace.committedAt, null)
  t.same(trace.appliedOn, [2])
  const byKey = await ms[2]!.app.inject({ url: '/trace?key=melon' })
  t.equal(byKey.json<Trace>().index, 11, 'found by key from another member')
  const members = (await ms[2]!.app.inject({ url: '/cluster/members' })).json<{ members: { id: number; url: string }[] }>()
  t.same(members.members.map((x) => x.id), [1, 2, 3])
  const all = (await ms[0]!.app.inject({ url: '/cluster/status' })).json<{ members: { id: number; ok: boolean }[] }>()
  t.same(all.members.map((x) => x.ok), [true, true, true])
  const offs = (await ms[0]!.app.inject({ url: '/cluster/offsets' })).json<{ offsets: { node: number }[] }>()
  t.equal(offs.offsets.length, 3)
  // A member that is down: the trace still comes, naming it.
  await ms[2]!.app.close()
  const partial = (await ms[1]!.app.inject({ url: `/trace/${id}` })).json<Trace>()
  t.same(partial.missing, [3])
})
