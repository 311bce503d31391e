// The seed's Figure 4 made stricter, on real processes under `raftkv local`: a writer PUTs a new
// key every 100 ms and reads it back with a linearizable GET right after each acknowledgement,
// while the cluster is resized 3 → 5 → 7 → 3 → 1 → 3 through /scale-cluster. Along the way: bad
// input gets 400s, a request while a member is down gets 503, two concurrent scale requests get one 202 and one 409, the leader is killed
// (SIGKILL) in the middle of the 5 → 7 operation and the next leader finishes it, /delete-pod
// restarts the leader until one that the 7 → 3 shrink removes is leading (leader removal), and
// 1 → 3 brings back ordinals whose data was discarded, and the leader's pod is deleted once more at
// the end (DELETE /cluster/pods/:name) and comes back. Zero failed PUTs, zero stale GETs, and the
// final data equals everything acknowledged. The scaling timeline is printed.
import t from 'tap'
import { LocalCluster } from './fixtures/localcluster.ts'
import { sleep, waitFor } from './fixtures/helpers.ts'

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

/** One writer: PUT, then a linearizable GET of the same key, every 100 ms. */
class Writer {
  readonly acked = new Map<string, string>()
  readonly failedPuts: string[] = []
  readonly staleGets: string[] = []
  readonly ackTimes: number[] = []
  retries = 0
  private running = true
  private readonly done: Promise<void>

  constructor(
    private readonly c: LocalCluster,
    /** The members to talk to, best first (node 1 is in every configuration). */
    private readonly members: () => number[],
  ) {
    this.done = this.loop()
  }

  /**
   * A careful client: the same Idempotency-Key on every attempt, and another member when one does
   * not answer (refused, reset, timed out) or answers "not now" (503/504). Failed only when no
   * member acknowledged within 20 s.
   */
  private async put(key: string, value: string): Promise<boolean> {
    const deadline = Date.now() + 20_000
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const ids = this.members()
      const id = ids[attempt % ids.length]!
      try {
        const r = await this.c.req(id, 'PUT', `/kv/${key}`, value, { 'idempotency-key': `fig4-${key}`, 'content-type': 'application/octet-stream' }, 8000)
        if (r.status === 200) return true
        if (r.status !== 503 && r.status !== 504) return false
      } catch {
        // no answer from this member: try the next
      }
      this.retries++
      await sleep(50)
    }
    return false
  }

  /** The value a linearizable read returns (null: 404), retried on "not now" like the PUT. */
  private async get(key: string): Promise<string | null | undefined> {
    const deadline = Date.now() + 20_000
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const ids = this.members()
      const id = ids[attempt % ids.length]!
      try {
        const r = await this.c.req(id, 'GET', `/kv/${key}`, undefined, {}, 8000)
        if (r.status === 200) return String(r.body)
        if (r.status === 404) return null
      } catch {
        // try the next member
      }
      this.retries++
      await sleep(50)
    }
    return undefined
  }

  private async loop(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const began = Date.now()
      const key = `fig4-${i}`
      const value = `v${i}-${Math.random().toString(36).slice(2, 10)}`
      if (await this.put(key, value)) {
        this.acked.set(key, value)
        this.ackTimes.push(Date.now())
        const got = await this.get(key)
        if (got !== value) this.staleGets.push(`${key}: read ${JSON.stringify(got)} after writing ${JSON.stringify(value)}`)
      } else {
        this.failedPuts.push(key)
      }
      // Every 100 ms, or right away after a slow round (no burst to catch up: writes/s in the
      // timeline shows how long writes took while the cluster changed).
      await sleep(Math.max(0, began + 100 - Date.now()))
    }
  }

  async stop(): Promise<void> {
    this.running = false
    await this.done
  }
}

interface Sample {
  at: number
  voters: number[]
  learners: number[]
  leader: number
  step: string
}

t.test('Figure 4, stricter: resize 3 → 5 → 7 → 3 → 1 → 3 under a writer with linearizable reads', async (t) => {
  // Frequent snapshots: members added later catch up by snapshot, not only from the log.
  const c = await LocalCluster.start(t, 3, ['--snapshot-entries', '50'])
  let current = 3
  const members = (): number[] => range(current)
  const first = await c.settled(3, [1, 2, 3], 90_000)
  t.same(first.voters.sort(), [1, 2, 3], 'the leader adopted the 3 running nodes as the target')
  // Two members are a quorum: the third may still be starting its HTTP server (a loaded machine).
  await waitFor('all three members answering', () => c.allLive([1, 2, 3]), 60_000, 200)

  // ---- bad input: 400 before anything happens ----
  for (const body of ['{"replicas":-1}', '{"replicas":1000000}', '{"replicas":"many"}', '{"replicas":0}', '{"replicas":10}', '{"replicas":2.5}', '{}', '[5]', 'null']) {
    const r = await c.scale(2, body)
    t.equal(r.status, 400, `400 for ${body}`)
  }
  const noBody = await fetch(`${c.url(1)}/scale-cluster`, { method: 'POST' })
  t.equal(noBody.status, 400, '400 for a missing body')
  await noBody.arrayBuffer()
  const notJson = await c.req(1, 'POST', '/scale-cluster', 'five', { 'content-type': 'application/json' })
  t.equal(notJson.status, 400, '400 for a body that is not JSON')
  const unknownPod = await c.req(1, 'POST', '/delete-pod', '{"name":"other-0"}', { 'content-type': 'application/json' })
  t.equal(unknownPod.status, 404, '/delete-pod of a pod that is not ours: 404')

  // ---- an unhealthy member: refused (503) until it is back ----
  const stop = await fetch(`${c.control}/local/nodes/3/stop?signal=SIGKILL`, { method: 'POST' })
  t.equal(stop.status, 200, 'node 3 stopped through the supervisor')
  await stop.arrayBuffer()
  // Only once the leader has noticed (a request before that would simply be accepted).
  await waitFor('the leader to see node 3 unhealthy', async () => {
    const a = await c.req(1, 'GET', '/get-raft-instances').catch(() => null)
    const ms = (a?.body as { members?: { id: number; healthy: boolean }[] } | undefined)?.members
    return ms?.some((m) => m.id === 3 && !m.healthy)
  }, 30_000, 100)
  // If node 3 was the leader, the new one may first answer "not the leader" or "still catching
  // up" (also 503s, retryable): ask again until the answer is about health.
  let sick = await c.scale([1, 2], '{"replicas":5}')
  for (let i = 0; i < 100 && sick.status === 503 && !(sick.body as { unhealthy?: unknown }).unhealthy; i++) {
    await new Promise((r) => setTimeout(r, 100))
    sick = await c.scale([1, 2], '{"replicas":5}')
  }
  t.equal(sick.status, 503, 'a scale request while a member is down: 503')
  t.match(sick.body, { unhealthy: [3] }, '503 names the unhealthy member')
  await c.startNode(3)
  await waitFor('node 3 healthy again', async () => {
    const a = await c.req(1, 'GET', '/get-raft-instances').catch(() => null)
    const ms = (a?.body as { members?: { healthy: boolean }[] } | undefined)?.members
    return ms && ms.length === 3 && ms.every((m) => m.healthy) && (await c.allLive([1, 2, 3]))
  }, 60_000, 200)

  const w = new Writer(c, members)
  const samples: Sample[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const s = await c.anyStatus(members())
      if (s) samples.push({ at: Date.now(), voters: s.voters, learners: s.learners, leader: s.leader, step: s.step ?? '' })
      await sleep(500)
    }
  })()
  const t0 = Date.now()
  await sleep(2000)

  // ---- 3 → 5, asked twice at once: one is accepted, the other refused ----
  // A "not now" 503 (not the leader, a leader still catching up after node 3's restart) is no
  // answer to the race: ask again, both at once while neither was accepted, and then the one
  // that was not, which must now find the operation in progress.
  const retryable = (a: { status: number; body: unknown }): boolean => a.status === 503 && !(a.body as { unhealthy?: unknown }).unhealthy
  const askBoth = (): Promise<{ status: number; body: unknown }[]> => Promise.all([c.scale(1, '{"replicas":5}'), c.scale(3, '{"replicas":5}')])
  let both = await askBoth()
  for (let i = 0; i < 100 && both.some(retryable) && !both.some((a) => a.status === 202); i++) {
    await sleep(100)
    both = await askBoth()
  }
  both = await Promise.all(both.map((a, i) => (retryable(a) ? c.scale(i === 0 ? 1 : 3, '{"replicas":5}') : a)))
  t.same(both.map((a) => a.status).sort(), [202, 409], `concurrent requests: one 202, one 409 (${JSON.stringify(both.map((a) => a.body))})`)
  const refused = both.find((a) => a.status === 409)
  t.match(refused?.body, { error: /in progress|being accepted/ }, 'the refusal says why')
  current = 5
  await c.settled(5, [1, 2, 3])

  // ---- 5 → 7, with the leader killed once the operation is under way ----
  const r7 = await c.scale(range(5), '{"replicas":7}')
  t.equal(r7.status, 202, '5 → 7 accepted')
  current = 7
  const midway = await waitFor(
    'the 5 → 7 operation to be under way',
    async () => {
      const s = await c.anyStatus(range(5))
      return s && s.inProgress === true && (s.learners.length > 0 || s.voters.length > 5) ? s : undefined
    },
    60_000,
    50,
  )
  const busy = await c.scale(range(7), '{"replicas":3}')
  t.equal(busy.status, 409, 'a request while an operation is in progress: 409')
  const victim = midway.leader
  const pid = (await c.localNodes()).find((n) => n.id === victim)?.pid
  t.ok(pid, `the leader (node ${victim}) has a process`)
  process.kill(pid!, 'SIGKILL')
  const others = range(7).filter((id) => id !== victim)
  const successor = await waitFor(
    'a new leader after the kill',
    async () => {
      const s = await c.anyStatus(others)
      return s && s.leader > 0 && s.leader !== victim ? s.leader : undefined
    },
    30_000,
    50,
  )
  t.not(successor, victim, `node ${successor} took over from the killed leader ${victim}`)
  await c.startNode(victim)
  const done7 = await c.settled(7, others)
  t.equal(done7.op, (r7.body as { op: number }).op, 'the operation accepted before the kill was finished by the next leaders, without a new request')

  // ---- leader removal during shrink: restart leaders (/delete-pod) until one of 4 … 7 leads ----
  let leader = await c.leader(range(7))
  for (let i = 0; i < 6 && leader <= 3; i++) {
    const d = await c.req(4, 'POST', '/delete-pod', JSON.stringify({ name: `raftkv-${leader - 1}` }), { 'content-type': 'application/json' })
    t.equal(d.status, 202, `/delete-pod raftkv-${leader - 1} (the leader)`)
    const old = leader
    leader = await waitFor(
      'a new leader after /delete-pod',
      async () => {
        const s = await c.anyStatus(range(7).filter((id) => id !== old))
        return s && s.leader > 0 && s.leader !== old ? s.leader : undefined
      },
      30_000,
      50,
    )
    // The restarted node must be back before a scale request passes the health check.
    await waitFor(
      'every member healthy again',
      async () => {
        const a = await c.req(leader, 'GET', '/get-raft-instances').catch(() => null)
        const ms = (a?.body as { members?: { role: string; healthy: boolean }[] } | undefined)?.members
        return ms && ms.filter((m) => m.role !== 'not-a-member').every((m) => m.healthy) && (await c.allLive(range(7)))
      },
      60_000,
      200,
    )
  }
  t.ok(leader > 3, `node ${leader} leads before the 7 → 3 shrink that removes it`)

  // ---- 7 → 3 (the leader leaves), 3 → 1, 1 → 3 (ordinals re-used, fresh data) ----
  const r3 = await waitFor('7 → 3 accepted', async () => {
    const a = await c.scale(range(7), '{"replicas":3}')
    return a.status === 202 ? a : undefined
  }, 30_000, 250)
  t.equal(r3.status, 202, '7 → 3 accepted')
  const done3 = await c.settled(3, [1, 2, 3])
  t.ok(done3.leader <= 3 && done3.leader !== leader, `leadership moved from the removed node ${leader} to node ${done3.leader}`)
  current = 3
  t.equal((await c.scale(range(3), '{"replicas":1}')).status, 202, '3 → 1 accepted')
  await c.settled(1, [1])
  current = 1
  t.equal((await c.scale([1], '{"replicas":3}')).status, 202, '1 → 3 accepted')
  current = 3
  await c.settled(3, [1])

  // ---- the member list, and /delete-pod (DELETE /cluster/pods/:name) of the leader ----
  const inst = await c.req(2, 'GET', '/get-raft-instances')
  t.equal(inst.status, 200, '/get-raft-instances from a follower')
  const ms = (inst.body as { members: { id: number; name: string; role: string; raft: string | null; http: string | null; healthy: boolean; match: number | null }[] }).members
  t.same(ms.map((m) => m.name), ['raftkv-0', 'raftkv-1', 'raftkv-2'], 'pods named by ordinal')
  t.equal(ms.filter((m) => m.role === 'leader').length, 1, 'one leader')
  t.ok(ms.every((m) => m.healthy && (m.match ?? 0) > 0 && m.raft && m.http), 'every member healthy, with addresses and a match index')
  const lead = ms.find((m) => m.role === 'leader')!
  const oldPid = (await c.localNodes()).find((n) => n.id === lead.id)?.pid
  const del = await c.req(lead.id === 1 ? 2 : 1, 'DELETE', `/cluster/pods/${lead.name}`)
  t.equal(del.status, 202, `DELETE /cluster/pods/${lead.name} (the leader)`)
  const after = await c.leader(range(3).filter((id) => id !== lead.id))
  t.not(after, lead.id, `re-election: node ${after} leads`)
  await waitFor('the deleted pod to come back', async () => (await c.localNodes()).some((n) => n.id === lead.id && n.running && n.pid !== oldPid), 30_000, 200)
  await waitFor(
    'the restarted member to be healthy',
    async () => {
      const a = await c.req(after, 'GET', '/cluster/instances').catch(() => null)
      const list = (a?.body as { members?: { healthy: boolean }[] } | undefined)?.members
      return list && list.length === 3 && list.every((m) => m.healthy) && (await c.allLive(range(3)))
    },
    60_000,
    200,
  )
  await sleep(2000)
  await w.stop()
  sampling = false
  await sampler

  // ---- results ----
  t.equal(w.failedPuts.length, 0, `zero failed PUTs (${w.acked.size} acknowledged, ${w.retries} retries)`)
  t.same(w.staleGets, [], 'zero stale GETs')
  t.ok(w.acked.size > 100, `the writer kept writing (${w.acked.size} acknowledged)`)
  const bad: string[] = []
  for (const [k, v] of w.acked) {
    const r = await c.req(1, 'GET', `/kv/${k}`)
    if (String(r.body) !== v) bad.push(`${k}: ${JSON.stringify(r.body)} ≠ ${v}`)
  }
  t.same(bad.slice(0, 5), [], 'the final data equals everything acknowledged (linearizable reads)')
  // The re-added members hold it too (stale reads once they have applied everything).
  for (const id of [2, 3]) {
    const missing = await waitFor(
      `node ${id} to hold every acknowledged write`,
      async () => {
        let n = 0
        for (const [k, v] of w.acked) {
          const r = await c.req(id, 'GET', `/kv/${k}?consistency=stale`)
          if (String(r.body) !== v) n++
        }
        return n === 0 ? 0 : undefined
      },
      30_000,
      500,
    )
    t.equal(missing, 0, `re-added node ${id} holds every acknowledged write`)
  }

  // ---- the timeline ----
  // One line per change of members, leader or step (numbers aside), and at least every 5 s.
  const lines: string[] = ['  t(s)  voters         learners  leader  writes/s  step']
  let last = ''
  let lastAt = -Infinity
  for (const s of samples) {
    const sec = (s.at - t0) / 1000
    const writes = w.ackTimes.filter((x) => x > s.at - 2000 && x <= s.at).length / 2
    const key = `${s.voters.join(',')}|${s.learners.join(',')}|${s.leader}|${s.step.replace(/\(.*\)/, '')}`
    if (key === last && s.at - lastAt < 5000) continue
    last = key
    lastAt = s.at
    lines.push(`${sec.toFixed(1).padStart(6)}  ${s.voters.join(',').padEnd(14)} ${(s.learners.join(',') || '-').padEnd(9)} ${String(s.leader).padEnd(7)} ${writes.toFixed(1).padStart(8)}  ${s.step}`)
  }
  console.log(`scaling timeline (${w.acked.size} writes acknowledged, ${w.failedPuts.length} failed, ${w.staleGets.length} stale reads):\n${lines.join('\n')}`)
})
