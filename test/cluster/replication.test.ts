// Real processes, real sockets: 3- and 5-node clusters elect exactly one leader, replicate writes
// sent over HTTP, writes sent to followers (proxied, or 307 to the leader), and end with every
// node holding the same committed log and the same data.
import t from 'tap'
import { Cluster, missingOn, sleep } from './fixtures/helpers.ts'

for (const n of [3, 5]) {
  t.test(`${n}-node cluster: one leader, replicated writes, the same committed log everywhere`, async (t) => {
    const c = await Cluster.start(t, { nodes: n, name: `repl${n}` })
    const { leader, term } = await c.waitForLeader(c.ids, 30_000)
    t.ok(leader >= 1 && leader <= n, `node ${leader} leads term ${term}`)

    // Never two leaders in one term (sampled throughout the test, below too).
    const leadersByTerm = new Map<number, Set<number>>()
    const sample = async (): Promise<void> => {
      for (const s of (await c.statuses(c.ids)).values()) {
        if (s.role !== 'leader') continue
        const set = leadersByTerm.get(s.term) ?? new Set<number>()
        set.add(s.id)
        leadersByTerm.set(s.term, set)
      }
    }
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        await sample()
        await sleep(50)
      }
    })()

    // A write sent to a follower that asks for a redirect gets a 307 to the leader, and nothing
    // is proposed; without asking, the follower proxies it to the leader.
    const follower = c.ids.find((id) => id !== leader)!
    const r = await fetch(`${c.url(follower)}/kv/redirected?redirect=1`, { method: 'PUT', body: 'v', redirect: 'manual' })
    t.equal(r.status, 307, 'follower answers 307 when asked to redirect')
    t.match(r.headers.get('location') ?? '', `${c.url(leader)}/kv/redirected`, 'pointing at the leader')
    const proxied = await fetch(`${c.url(follower)}/kv/proxied`, { method: 'PUT', body: 'p' })
    t.equal(proxied.status, 200, 'a plain write to a follower is proxied to the leader')
    t.equal(await c.get(leader, 'proxied'), 'p', 'and applied')

    // Writes: a sequential run through the redirect-following client, then concurrent ones.
    const expected = new Map<string, string>()
    for (let i = 0; i < 50; i++) {
      const k = `seq-${i}`
      const v = `value ${i} ${'•'.repeat(i % 7)}` // non-ASCII bytes survive the round trip
      await c.put(k, v)
      expected.set(k, v)
    }
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const k = `conc-${w}-${i}`
          const v = `w${w} i${i} ${Math.random()}`
          await c.put(k, v)
          expected.set(k, v)
        }
      }),
    )
    // Overwrites and a delete go through the log too.
    await c.put('seq-0', 'overwritten')
    expected.set('seq-0', 'overwritten')
    await c.del('seq-1')
    expected.delete('seq-1')

    // Linearizable reads from the leader see every acknowledged write at once.
    const cur = (await c.findLeader()) || leader
    t.same(await missingOn(c, cur, expected, 'linearizable'), [], `all ${expected.size} keys read back linearizably from the leader`)
    t.equal(await c.get(cur, 'seq-1'), null, 'the deleted key is gone (404)')

    // Linearizable read on a follower: forwarded ReadIndex, then served locally.
    t.equal(await c.get(follower, 'seq-2'), expected.get('seq-2'), 'linearizable read on a follower')

    // Every node catches up to the leader's commit; then logs and data agree everywhere.
    // (Leadership may have moved meanwhile on a loaded machine — a stall longer than the 150 ms
    // election timeout is enough; that is allowed, and reported.)
    const now = await c.waitForLeader(c.ids, 30_000)
    if (now.leader !== leader || now.term !== term) t.comment(`leadership moved during the run: node ${leader} term ${term} → node ${now.leader} term ${now.term}`)
    const leaderSt = (await c.status(now.leader))!
    const st = await c.waitApplied(leaderSt.commit, c.ids)
    for (const [id, s] of st) {
      t.ok(s.commit >= leaderSt.commit, `node ${id} commit ${s.commit} ≥ leader commit ${leaderSt.commit}`)
      t.equal(s.leader, now.leader, `node ${id} follows ${now.leader}`)
    }
    const final = await c.statuses(c.ids)
    t.equal(new Set([...final.values()].map((s) => s.applied)).size, 1, `all nodes applied the same index (${[...final.values()].map((s) => s.applied).join(', ')})`)
    t.equal(new Set([...final.values()].map((s) => s.lastIndex)).size, 1, 'all logs end at the same index')
    t.equal(new Set([...final.values()].map((s) => s.commit)).size, 1, 'and agree on the commit index')
    for (const id of c.ids) {
      t.same(await missingOn(c, id, expected, 'stale'), [], `node ${id}: every key reads back with ?consistency=stale`)
      t.equal(await c.get(id, 'seq-1', 'stale'), null, `node ${id}: the deleted key is gone`)
    }
    sampling = false
    await sampler
    const twice = [...leadersByTerm].filter(([, ids]) => ids.size > 1)
    t.same(twice, [], `never two leaders in one term (terms seen with a leader: ${[...leadersByTerm.keys()].join(', ')})`)
  })
}
