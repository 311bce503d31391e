// Acknowledged means committed: writes a client saw OK for — sent to the leader directly, or to a
// follower that proxies them — survive kill -9 of the leader, and a linearizable read on the new
// leader (and, after it restarts and catches up, on the old one) sees every one of them. During
// the failover a client sees only "not committed yet" (-TIMEOUT) or "no leader" (-CLUSTERDOWN),
// never another error for a write that may have committed.
import t from 'tap'
import { Redis } from 'ioredis5'
import { RespCluster, sleep, waitFor } from './fixtures/helpers.ts'

class Writer {
  readonly acked = new Map<string, string>()
  readonly errors = new Map<string, number>()
  private running = true
  readonly done: Promise<void>

  constructor(
    readonly r: Redis,
    prefix: string,
  ) {
    this.done = (async () => {
      for (let i = 0; this.running; i++) {
        const k = `${prefix}:${i}`
        const v = `${i}-${Math.random().toString(36).slice(2)}`
        try {
          if ((await r.set(k, v)) === 'OK') this.acked.set(k, v)
        } catch (e) {
          const m = (e as Error).message.split(' ')[0]!
          this.errors.set(m, (this.errors.get(m) ?? 0) + 1)
          await sleep(20)
        }
      }
    })()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.done
  }
}

/** Reads every key through `r` (MGET in chunks) and returns the mismatches. */
async function mismatches(r: Redis, want: Map<string, string>): Promise<string[]> {
  const keys = [...want.keys()]
  const bad: string[] = []
  for (let i = 0; i < keys.length; i += 200) {
    const chunk = keys.slice(i, i + 200)
    const got = await r.mget(...chunk)
    chunk.forEach((k, j) => {
      if (got[j] !== want.get(k)) bad.push(`${k}: got ${got[j]}, want ${want.get(k)}`)
    })
  }
  return bad
}

t.test('acknowledged writes survive kill -9 of the leader', async (t) => {
  const rc = await RespCluster.start(t, { nodes: 3, name: 'kv-durable', logLevel: 'warn' })
  const leader = await rc.leader()
  const follower = await rc.follower()
  const other = rc.ids.find((id) => id !== leader && id !== follower)!
  const opts = { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50, lazyConnect: true }
  const direct = new Redis({ port: rc.port(leader), ...opts })
  const viaFollower = new Redis({ port: rc.port(follower), ...opts })
  const reader = new Redis({ port: rc.port(other), ...opts })
  t.teardown(() => {
    direct.disconnect()
    viaFollower.disconnect()
    reader.disconnect()
  })
  await Promise.all([direct.connect(), viaFollower.connect(), reader.connect()])

  // One write, acknowledged, then the leader dies at once.
  t.equal(await direct.set('last-word', 'committed'), 'OK')
  const w1 = new Writer(direct, 'direct')
  const w2 = new Writer(viaFollower, 'proxied')
  await waitFor('writes flowing', () => w1.acked.size > 30 && w2.acked.size > 30, 30_000)
  const exit = await rc.c.kill(leader, 'SIGKILL')
  t.equal(exit.signal, 'SIGKILL', `killed leader ${leader} with ${w1.acked.size} direct and ${w2.acked.size} proxied writes acknowledged`)

  const after = w2.acked.size
  await waitFor('proxied writes flowing again through the new leader', () => w2.acked.size > after + 30, 30_000)
  await w1.stop()
  await w2.stop()
  const newLeader = await rc.leader()
  t.not(newLeader, leader, `node ${newLeader} leads now`)
  t.comment(`proxied writes: ${w2.acked.size} acknowledged; errors seen: ${JSON.stringify(Object.fromEntries(w2.errors))}`)
  const allowed = new Set(['TIMEOUT', 'CLUSTERDOWN'])
  t.same([...w2.errors.keys()].filter((e) => !allowed.has(e)), [], 'a proxied write is only ever answered "not committed yet" or "no leader"')

  const want = new Map([['last-word', 'committed'], ...w1.acked, ...w2.acked])
  const onNewLeader = new Redis({ port: rc.port(newLeader), ...opts })
  t.teardown(() => onNewLeader.disconnect())
  await onNewLeader.connect()
  t.same(await mismatches(onNewLeader, want), [], `all ${want.size} acknowledged writes read back (linearizably) from the new leader`)
  t.same(await mismatches(reader, want), [], 'and from the other node')

  // The old leader comes back, catches up, and serves the same reads.
  rc.c.spawn(leader)
  await rc.ready()
  const back = new Redis({ port: rc.port(leader), ...opts })
  t.teardown(() => back.disconnect())
  await back.connect()
  t.same(await mismatches(back, want), [], 'and from the restarted old leader')
})
