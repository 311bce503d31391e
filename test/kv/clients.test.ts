// The Redis client libraries people use, against a 3-node cluster: ioredis 5 and 6 (6 opens with
// HELLO 3) and node-redis 4 and 6 (6 speaks RESP3), each standalone and in cluster mode (ioredis
// Cluster, node-redis createCluster), seeded with the leader and with a follower. Each does
// SET/GET/INCR, a MULTI/EXEC, a pipeline and an expiry round trip.
import t from 'tap'
import { Cluster as IoCluster5, Redis as IoRedis5 } from 'ioredis5'
import { Cluster as IoCluster6, Redis as IoRedis6 } from 'ioredis6'
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4'
import { createClient as createClient6, createCluster as createCluster6 } from 'redis6'
import { RespCluster, sleep } from './fixtures/helpers.ts'

/** The operations every client runs, in its own API; values come back as the client returns them. */
interface Driver {
  set(k: string, v: string): Promise<unknown>
  setPx(k: string, v: string, ms: number): Promise<unknown>
  get(k: string): Promise<string | null>
  incr(k: string): Promise<number>
  pttl(k: string): Promise<number>
  /** MULTI: SET k 10, INCR k, GET k → the replies. */
  tx(k: string): Promise<unknown[]>
  /** Pipeline: SET k a, APPEND k b, GET k → the replies. */
  pipe(k: string): Promise<unknown[]>
  /** The RESP version of the connection (from CLIENT INFO), where the client lets us ask. */
  resp(): Promise<string | null>
  close(): Promise<void>
}

type Ioredis = IoRedis5 | IoRedis6 | IoCluster5 | IoCluster6

function ioredisDriver(r: Ioredis, cluster: boolean): Driver {
  // ioredis answers pipelines and transactions as [error, reply] pairs.
  const unpair = (x: [Error | null, unknown][] | null) => (x ?? []).map(([e, v]) => (e ? e.message : v))
  return {
    set: (k, v) => r.set(k, v),
    setPx: (k, v, ms) => r.set(k, v, 'PX', ms),
    get: (k) => r.get(k),
    incr: (k) => r.incr(k),
    pttl: (k) => r.pttl(k),
    tx: async (k) => unpair(await r.multi().set(k, '10').incr(k).get(k).exec()),
    pipe: async (k) => unpair(await r.pipeline().set(k, 'a').append(k, 'b').get(k).exec()),
    resp: async () => (cluster ? null : (/resp=(\d)/.exec(String(await (r as IoRedis5).client('INFO')))?.[1] ?? null)),
    close: async () => void r.disconnect(),
  }
}

interface NodeRedisLike {
  set(k: string, v: string, o?: { PX: number }): Promise<unknown>
  get(k: string): Promise<unknown>
  incr(k: string): Promise<unknown>
  pTTL(k: string): Promise<unknown>
  sendCommand?: unknown
}

function nodeRedisDriver(c: NodeRedisLike, multi: () => { set(k: string, v: string): unknown }, close: () => Promise<unknown>, info: (() => Promise<unknown>) | null): Driver {
  type Chain = { set(k: string, v: string): Chain; incr(k: string): Chain; get(k: string): Chain; append(k: string, v: string): Chain; exec(): Promise<unknown[]>; execAsPipeline(): Promise<unknown[]> }
  return {
    set: (k, v) => c.set(k, v),
    setPx: (k, v, ms) => c.set(k, v, { PX: ms }),
    get: async (k) => (await c.get(k)) as string | null,
    incr: async (k) => Number(await c.incr(k)),
    pttl: async (k) => Number(await c.pTTL(k)),
    tx: (k) => (multi() as Chain).set(k, '10').incr(k).get(k).exec(),
    pipe: (k) => (multi() as Chain).set(k, 'a').append(k, 'b').get(k).execAsPipeline(),
    resp: async () => (info ? (/resp=(\d)/.exec(String(await info()))?.[1] ?? null) : null),
    close: async () => void (await close()),
  }
}

async function connectDriver(kind: string, mode: 'standalone' | 'cluster', port: number): Promise<Driver> {
  const host = '127.0.0.1'
  switch (kind) {
    case 'ioredis 5':
      if (mode === 'cluster') return ioredisDriver(new IoCluster5([{ host, port }]), true)
      return ioredisDriver(new IoRedis5({ host, port }), false)
    case 'ioredis 6':
      if (mode === 'cluster') return ioredisDriver(new IoCluster6([{ host, port }]), true)
      return ioredisDriver(new IoRedis6({ host, port }), false)
    case 'node-redis 4': {
      if (mode === 'cluster') {
        const c = createCluster4({ rootNodes: [{ socket: { host, port } }] })
        await c.connect()
        return nodeRedisDriver(c, () => c.multi(), () => c.quit(), null)
      }
      const c = createClient4({ socket: { host, port } })
      await c.connect()
      return nodeRedisDriver(c, () => c.multi(), () => c.quit(), () => c.sendCommand(['CLIENT', 'INFO']))
    }
    case 'node-redis 6': {
      if (mode === 'cluster') {
        const c = createCluster6({ rootNodes: [{ socket: { host, port } }], RESP: 3 })
        await c.connect()
        return nodeRedisDriver(c, () => c.multi(), async () => c.destroy(), null)
      }
      const c = createClient6({ socket: { host, port }, RESP: 3 })
      await c.connect()
      return nodeRedisDriver(c, () => c.multi(), async () => c.destroy(), () => c.sendCommand(['CLIENT', 'INFO']))
    }
  }
  throw new Error(`unknown client ${kind}`)
}

t.test('Redis client libraries against a 3-node cluster', async (t) => {
  const rc = await RespCluster.start(t, { nodes: 3, name: 'kv-clients', logLevel: 'warn' })
  const leader = await rc.leader()
  const follower = await rc.follower()
  const expectResp: Record<string, string> = { 'ioredis 5': '2', 'ioredis 6': '3', 'node-redis 4': '2', 'node-redis 6': '3' }

  for (const kind of ['ioredis 5', 'ioredis 6', 'node-redis 4', 'node-redis 6']) {
    for (const mode of ['standalone', 'cluster'] as const) {
      for (const [who, id] of [
        ['leader', leader],
        ['follower', follower],
      ] as const) {
        await t.test(`${kind}, ${mode}, seeded with the ${who}`, async (t) => {
          const d = await connectDriver(kind, mode, rc.port(id))
          t.teardown(() => d.close())
          // Keys in one hash slot, so cluster clients may pipeline and transact them together.
          const p = `{${kind}-${mode}-${who}}`
          t.equal(await d.set(`${p}:s`, 'value'), 'OK', 'SET')
          t.equal(await d.get(`${p}:s`), 'value', 'GET reads it back')
          t.equal(await d.get(`${p}:missing`), null, 'GET of a missing key is null')
          t.equal(await d.incr(`${p}:n`), 1, 'INCR')
          t.equal(await d.incr(`${p}:n`), 2, 'INCR again')
          t.same(await d.tx(`${p}:tx`), ['OK', 11, '11'], 'MULTI SET/INCR/GET EXEC')
          t.same(await d.pipe(`${p}:pipe`), ['OK', 2, 'ab'], 'pipeline SET/APPEND/GET')
          t.equal(await d.setPx(`${p}:ttl`, 'soon gone', 400), 'OK', 'SET … PX 400')
          const pttl = await d.pttl(`${p}:ttl`)
          t.ok(pttl > 0 && pttl <= 400, `PTTL ${pttl}`)
          await sleep(600)
          t.equal(await d.get(`${p}:ttl`), null, 'expired')
          const resp = await d.resp()
          if (resp !== null) t.equal(resp, expectResp[kind], `the connection speaks RESP${expectResp[kind]}`)
        })
      }
    }
  }

  await t.test('ioredis Cluster reading from replicas (READONLY, stale reads)', async (t) => {
    const c = new IoCluster5([{ host: '127.0.0.1', port: rc.port(leader) }], { scaleReads: 'slave' })
    t.teardown(() => void c.disconnect())
    t.equal(await c.set('replica-read', 'x'), 'OK')
    // A replica may lag a little behind the leader: stale reads converge.
    let v: string | null = null
    for (let i = 0; i < 50 && v !== 'x'; i++) {
      v = await c.get('replica-read')
      if (v !== 'x') await sleep(20)
    }
    t.equal(v, 'x', 'the replica serves the value')
  })
})
