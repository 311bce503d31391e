// Graceful shutdown: SIGTERM to the leader hands leadership to a caught-up follower (TimeoutNow)
// so that another node leads well before any election timeout could have fired, and the process
// exits 0. SIGTERM to a follower just stops it; both come back from their data.
import t from 'tap'
import { Cluster, missingOn, sleep } from './fixtures/helpers.ts'

// A long election timeout makes the difference unmistakable: without a transfer, no follower
// may even start an election until 1 s after the last heartbeat it heard.
const ELECTION_MS = 1000

t.test('SIGTERM to the leader transfers leadership before an election timeout and exits 0', async (t) => {
  const c = await Cluster.start(t, { nodes: 3, name: 'shutdown', args: ['--election-ms', String(ELECTION_MS)] })
  const { leader, term } = await c.waitForLeader(c.ids, 30_000)
  const expected = new Map<string, string>()
  for (let i = 0; i < 20; i++) {
    await c.put(`k${i}`, `v${i}`)
    expected.set(`k${i}`, `v${i}`)
  }
  const others = c.ids.filter((id) => id !== leader)
  await c.waitApplied((await c.status(leader))!.commit, c.ids)

  const t0 = performance.now()
  const exited = c.kill(leader, 'SIGTERM')
  // Poll the others as fast as HTTP allows until one of them leads a later term.
  let newLeader = 0
  let newTerm = 0
  let elapsed = 0
  while (performance.now() - t0 < 5 * ELECTION_MS) {
    const st = await c.statuses(others)
    const l = [...st.values()].find((s) => s.role === 'leader' && s.term > term)
    if (l) {
      elapsed = performance.now() - t0
      newLeader = l.id
      newTerm = l.term
      break
    }
    await sleep(2)
  }
  t.ok(newLeader, `node ${newLeader} became leader of term ${newTerm} ${elapsed.toFixed(1)} ms after SIGTERM`)
  t.ok(elapsed < ELECTION_MS, `that is before the election timeout (${ELECTION_MS} ms) could have fired`)
  t.equal(newTerm, term + 1, 'in the very next term: one election, started by TimeoutNow')
  const exit = await exited
  t.same(exit, { code: 0, signal: null }, 'the old leader exited with code 0')
  const transfer = c.grep(leader, 'leadership transfer on shutdown')
  t.match(transfer[0] ?? '', /"done":true/, 'and logged a completed transfer')

  // The survivors serve everything; a write works at once.
  const nl = await c.waitForLeader(others, 5000)
  t.equal(nl.leader, newLeader, 'the survivors agree on the new leader')
  await c.put('after-transfer', 'ok')
  expected.set('after-transfer', 'ok')
  t.same(await missingOn(c, newLeader, expected, 'linearizable'), [], 'no write lost')

  // A follower stops cleanly too, without disturbing anyone.
  const follower = others.find((id) => id !== newLeader)!
  const fexit = await c.kill(follower, 'SIGTERM')
  t.same(fexit, { code: 0, signal: null }, `follower ${follower} exited with code 0 on SIGTERM`)
  const alone = (await c.status(newLeader))!
  t.equal(alone.role, 'leader', 'the leader is unaffected')
  t.equal(alone.term, newTerm, 'and keeps its term')

  // Both come back from their data and catch up.
  c.spawn(leader)
  c.spawn(follower)
  // If the restarts take longer than an election timeout, the lone leader has stepped down by
  // then (check-quorum) and a new election follows: either survivor may win it, but never the old
  // leader — it lacks 'after-transfer', which the other two hold.
  const all = await c.waitForLeader(c.ids, 30_000)
  t.ok(all.leader === newLeader || all.leader === follower, `node ${all.leader} leads, one of the two with every committed write`)
  t.not(all.leader, leader, 'the restarted old leader rejoins as a follower')
  const wrote = await c.put('after-restart', 'ok')
  expected.set('after-restart', 'ok')
  await c.waitApplied((await c.status(wrote.node))!.commit, c.ids)
  for (const id of [leader, follower]) {
    t.same(await missingOn(c, id, expected, 'stale'), [], `node ${id} has every write after its restart`)
    t.ok(c.grep(id, 'restarting from persisted state').length === 1, `node ${id} restarted from its data directory`)
  }
})
