// The Raft core under the deterministic simulation: the checker must catch broken invariants, the
// same seed must replay identically, and a thousand seeds (mixed sizes and faults) must pass.
// More seeds run in parallel in test/sim/seeds-b.test.ts.
import t from 'tap'
import { Checker, type DurableView, type LogView } from './sim/checker.ts'
import { runSeed } from './sim/run.ts'
import { runSeedRange, seedCount } from './sim/seeds.ts'
import { encodeWrite } from './sim/statemachine.ts'
import { EntryType, MsgType, emptyMessage, type Entry, type HardState } from '../src/raft/types.ts'

function entry(index: number, term: number, id: number): Entry {
  return { index, term, type: EntryType.Normal, data: encodeWrite({ id, key: 'k' }) }
}

function durable(hs: HardState, entries: Entry[]): DurableView {
  return { hardState: hs, snapshotIndex: 0, termAt: (i) => (i === 0 ? 0 : entries.find((e) => e.index === i)?.term) }
}

t.test('the checker catches broken invariants', async (t) => {
  t.test('two leaders in one term', async (t) => {
    const c = new Checker()
    c.leader(1, 5)
    c.leader(1, 5) // the same leader seen again is fine
    c.leader(2, 6)
    t.equal(c.violation, null)
    c.leader(3, 6)
    t.equal(c.violation?.kind, 'election-safety')
  })

  t.test('two different entries at one (index, term)', async (t) => {
    const c = new Checker()
    c.appended(1, [entry(1, 1, 1), entry(2, 1, 2)], 0)
    c.appended(2, [entry(1, 1, 1)], 0)
    t.equal(c.violation, null)
    c.appended(3, [entry(2, 1, 99)], 1)
    t.equal(c.violation?.kind, 'log-matching')
  })

  t.test('same (index, term) after a different previous term', async (t) => {
    const c = new Checker()
    c.appended(1, [entry(3, 2, 7)], 1)
    c.appended(2, [entry(3, 2, 7)], 2)
    t.equal(c.violation?.kind, 'log-matching')
  })

  t.test('a committed entry replaced', async (t) => {
    const c = new Checker()
    c.committed(1, 1, [entry(1, 1, 1)])
    c.committed(2, 2, [entry(1, 2, 5)])
    t.equal(c.violation?.kind, 'committed-changed')
  })

  t.test('a new leader missing a committed entry', async (t) => {
    const c = new Checker()
    c.committed(1, 1, [entry(1, 1, 1), entry(2, 1, 2)])
    const log: LogView = { snapshotIndex: 0, snapshotTerm: 0, lastIndex: 2, entries: () => [entry(1, 1, 1), entry(2, 2, 3)] }
    c.leaderCompleteness(2, 3, log)
    t.equal(c.violation?.kind, 'leader-completeness')
    const short = new Checker()
    short.committed(1, 1, [entry(1, 1, 1), entry(2, 1, 2)])
    short.leaderCompleteness(2, 3, { ...log, lastIndex: 1 })
    t.equal(short.violation?.kind, 'leader-completeness')
  })

  t.test('a late leader of an older term need not hold what a newer term committed', async (t) => {
    const c = new Checker()
    c.committed(1, 1, [entry(1, 1, 1)])
    c.committed(5, 2, [entry(2, 2, 2)])
    const log: LogView = { snapshotIndex: 0, snapshotTerm: 0, lastIndex: 1, entries: () => [entry(1, 1, 1)] }
    c.leaderCompleteness(3, 2, log) // won term 2's election with delayed votes: only term 1's commits are owed
    t.equal(c.violation, null)
    c.leaderCompleteness(4, 3, log)
    t.equal(c.violation?.kind, 'leader-completeness')
  })

  t.test('a leader whose votes are not durable', async (t) => {
    const c = new Checker()
    c.votePersisted(2, { term: 4, vote: 1, commit: 0 })
    c.votePersisted(3, { term: 3, vote: 1, commit: 0 })
    const durableTerm = (id: number): number => ({ 1: 3, 2: 4, 3: 3 })[id] ?? 0
    // Node 1 counted its own vote (not on disk: its durable term is 3) and node 2's.
    c.leaderVotes(1, 4, [1, 2, 3], durableTerm)
    t.equal(c.violation?.kind, 'election-safety')
    const ok = new Checker()
    ok.votePersisted(1, { term: 4, vote: 1, commit: 0 })
    ok.votePersisted(2, { term: 4, vote: 1, commit: 0 })
    ok.leaderVotes(1, 4, [1, 2, 3], durableTerm)
    t.equal(ok.violation, null)
  })

  t.test('a commit without a durable quorum, or of an older-term entry', async (t) => {
    const c = new Checker()
    c.commitQuorum(1, 2, 10, 2, [1, 2, 3], (id) => id === 2)
    t.equal(c.violation?.kind, 'durability')
    const fig8 = new Checker()
    fig8.commitQuorum(1, 4, 10, 2, [1, 2, 3], () => true)
    t.equal(fig8.violation?.kind, 'commit-rule')
    const ok = new Checker()
    ok.commitQuorum(1, 2, 10, 2, [1, 2, 3], (id) => id !== 3)
    t.equal(ok.violation, null)
  })

  t.test('different states applied at one index, and gaps', async (t) => {
    const c = new Checker()
    c.applied(1, entry(1, 1, 1), 111)
    c.applied(2, entry(1, 1, 1), 222)
    t.equal(c.violation?.kind, 'state-machine-safety')
    const gap = new Checker()
    gap.applied(1, entry(1, 1, 1), 1)
    gap.applied(1, entry(3, 1, 3), 3)
    t.equal(gap.violation?.kind, 'apply-order')
  })

  t.test('a stale read', async (t) => {
    const c = new Checker()
    c.committed(1, 1, [entry(1, 1, 1), entry(2, 1, 2)])
    c.readIssued(7, 1)
    c.readServed(7, 1, 1)
    t.equal(c.violation?.kind, 'stale-read')
  })

  t.test('acks and votes before they are durable', async (t) => {
    const ack = emptyMessage(MsgType.AppendResp, 2, 1, 1)
    ack.index = 2
    const early = new Checker()
    early.messageSent(2, ack, false, durable({ term: 1, vote: 1, commit: 0 }, [entry(1, 1, 1), entry(2, 1, 2)]), null)
    t.equal(early.violation?.kind, 'durability', 'AppendResp(success) among the pre-persist messages')
    const missing = new Checker()
    missing.messageSent(2, ack, true, durable({ term: 1, vote: 1, commit: 0 }, [entry(1, 1, 1)]), null)
    t.equal(missing.violation?.kind, 'durability', 'ack of an index not on disk')
    const vote = emptyMessage(MsgType.VoteResp, 2, 3, 4)
    const unvoted = new Checker()
    unvoted.messageSent(2, vote, true, durable({ term: 4, vote: 0, commit: 0 }, []), null)
    t.equal(unvoted.violation?.kind, 'durability', 'vote granted but not on disk')
    const ok = new Checker()
    ok.messageSent(2, vote, true, durable({ term: 4, vote: 3, commit: 0 }, []), null)
    ok.messageSent(2, ack, true, durable({ term: 1, vote: 1, commit: 0 }, [entry(1, 1, 1), entry(2, 1, 2)]), null)
    t.equal(ok.violation, null)
  })

  t.test('a vote changed within a term, or a term going back', async (t) => {
    const c = new Checker()
    c.hardState(1, { term: 3, vote: 2, commit: 0 }, { term: 3, vote: 4, commit: 0 })
    t.equal(c.violation?.kind, 'hard-state')
    const back = new Checker()
    back.hardState(1, { term: 3, vote: 2, commit: 5 }, { term: 2, vote: 2, commit: 5 })
    t.equal(back.violation?.kind, 'hard-state')
  })
})

t.test('the same seed replays identically', async (t) => {
  for (const seed of [3, 42, 1234]) {
    const a: string[] = []
    const b: string[] = []
    const ra = runSeed({ seed, trace: (l) => a.push(l) })
    const rb = runSeed({ seed, trace: (l) => b.push(l) })
    const rc = runSeed({ seed }) // tracing must not change the run
    t.ok(a.length > 1000, `seed ${seed} traced ${a.length} lines`)
    t.strictSame(b, a, `seed ${seed}: identical traces`)
    t.equal(rb.digest, ra.digest, `seed ${seed}: identical digests`)
    t.equal(rc.digest, ra.digest, `seed ${seed}: same digest untraced`)
    t.equal(rc.events, ra.events)
  }
  t.not(runSeed({ seed: 5 }).digest, runSeed({ seed: 6 }).digest, 'different seeds, different runs')
})

const count = seedCount(1000)
t.test(`seeds 1-${count}: no violations`, async (t) => {
  runSeedRange(t, 1, count)
})
