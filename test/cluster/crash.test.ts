// A follower killed with SIGKILL at random moments under heavy write load — in the middle of its
// persists, its applies, a snapshot install — always restarts (its log intact or cleanly
// truncated, never corrupt) and catches up.
import t from 'tap'
import { Cluster, WriteLoad, missingOn, sleep, waitFor } from './fixtures/helpers.ts'

t.test('SIGKILL of a follower at random moments under heavy writes, many times', async (t) => {
  // A small snapshot interval so that some restarts catch up by snapshot, and some kills land
  // in the middle of receiving or installing one.
  const c = await Cluster.start(t, { nodes: 3, name: 'crash', args: ['--snapshot-entries', '300'] })
  const { leader } = await c.waitForLeader(c.ids, 30_000)
  const victim = c.ids.find((id) => id !== leader)!
  const load = new WriteLoad(c, 8, 'crash')
  await waitFor('writes flowing', () => load.acked.size >= 50, 30_000)

  const rounds = 8
  let seed = 12345
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32)
  let byLog = 0
  for (let round = 0; round < rounds; round++) {
    // Let it run (and persist) for a random while, then kill it.
    const before = (await c.status(victim))?.storage.fsyncs ?? 0
    await waitFor(`node ${victim} persisting`, async () => ((await c.status(victim))?.storage.fsyncs ?? 0) > before + 3, 20_000, 5)
    await sleep(Math.floor(rand() * 300))
    const exit = await c.kill(victim, 'SIGKILL')
    t.equal(exit.signal, 'SIGKILL', `round ${round}: killed node ${victim} (${load.acked.size} writes acknowledged so far)`)
    await sleep(Math.floor(rand() * 400))
    const p = c.spawn(victim)
    const target = (await c.status(await c.findLeader()))?.commit ?? 0
    // It must start and catch up; if it exits instead, that is the failure.
    const res = await Promise.race([c.waitApplied(target, [victim], 30_000).then(() => 'caught-up' as const), p.exited.then(() => 'exited' as const)])
    if (res === 'exited') {
      t.fail(`round ${round}: node ${victim} exited on restart (${JSON.stringify(p.exit)}): ${p.stderr.slice(-2000)}`)
      break
    }
    t.pass(`round ${round}: restarted and caught up to ${target}`)
    if (c.grep(victim, 'restarting from persisted state').length <= round) t.fail(`round ${round}: did not restart from its data`)
    else byLog++
  }
  await load.stop()
  t.equal(byLog, rounds, 'every restart resumed from the persisted state')
  t.equal(c.grep(victim, 'corruption').length, 0, 'no corruption ever reported')
  // One node down leaves no slack: a stall of the remaining follower or of the leader longer than
  // the election timeout (150 ms; easy on 2 shared cores under this load) may move leadership.
  // That is allowed — what matters is that nothing acknowledged is lost.
  const all = await c.waitForLeader(c.ids, 15_000)
  if (all.leader !== leader) t.comment(`leadership moved from ${leader} to ${all.leader} (term ${all.term}) during the run`)
  const commit = (await c.status(all.leader))!.commit
  await c.waitApplied(commit, c.ids, 30_000)
  t.same(await missingOn(c, victim, load.acked, 'stale'), [], `all ${load.acked.size} acknowledged writes are in the crashed node's data`)
  t.same(await missingOn(c, all.leader, load.acked, 'linearizable'), [], 'and on the leader')
  const snaps = c.ids.reduce((n, id) => n + c.grep(id, '"msg":"sending snapshot"').length, 0)
  t.comment(`${snaps} snapshot(s) streamed to the restarted node over ${rounds} rounds`)
})
