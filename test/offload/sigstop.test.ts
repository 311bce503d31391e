// Safety under a stalled process: SIGSTOP the leader. Its liveness stamp goes stale, so its kernel
// half stops answering for it (vote requests reaching it are passed up to a process that cannot
// answer); the followers, whose kernels no longer see its heartbeats, elect a new leader; and once
// continued, the old leader serves no read from its stale leadership — a linearizable GET there
// returns the new value or an error, never the value it last knew.

import t from 'tap'
import { sleep } from '../cluster/fixtures/helpers.ts'
import { NetnsCluster, netnsSkipReason, type NetnsStatus } from './fixtures/netns.ts'

const skip = netnsSkipReason()
const ELECTION_MS = 150

function verdicts(s: NetnsStatus | null): { staleUser: number; voteAnswers: number } {
  if (!s || s.offload.mode === 'off') return { staleUser: 0, voteAnswers: 0 }
  const by = s.offload.byType
  return { staleUser: s.offload.passedBy['StaleUser'] ?? 0, voteAnswers: (by['PreVote']?.answered ?? 0) + (by['Vote']?.answered ?? 0) }
}

t.test('SIGSTOP of the leader (generic XDP, 3 nodes)', { skip }, async (t) => {
  const c = await NetnsCluster.start(t, { nodes: 3, mode: 'generic', electionMs: ELECTION_MS })
  const first = await c.waitForLeader(c.ids, 90_000)
  const old = first.leader
  await c.put('k', 'v1')
  const before = verdicts(await c.status(old))
  t.ok((await c.status(old))?.offload.mode === 'generic', 'the leader runs the fast path')

  const stoppedAt = Date.now()
  c.signal(old, 'SIGSTOP')
  let elapsed = -1
  try {
    const others = c.ids.filter((id) => id !== old)
    const next = await c.waitForLeader(others, 20_000)
    elapsed = Date.now() - stoppedAt
    t.not(next.leader, old, `node ${next.leader} elected in term ${next.term}, ${elapsed} ms after the stop`)
    // Liveness, not speed: a bound of many election timeouts only catches a follower kept
    // quiet by a kernel that went on answering for the stopped leader.
    t.ok(elapsed < 20 * ELECTION_MS, `new leader within ${20 * ELECTION_MS} ms (took ${elapsed} ms; election timeout ${ELECTION_MS}–${2 * ELECTION_MS} ms)`)
    await c.put('k', 'v2')
    t.pass('a write committed without the stopped leader')
  } finally {
    c.signal(old, 'SIGCONT')
  }
  // Straight after the continue, before it learns of the new term: a linearizable read on the
  // old leader must not be answered from its stale state.
  const reads: [number, string][] = []
  const until = Date.now() + 1500
  while (Date.now() < until) {
    try {
      reads.push(await c.get(old, 'k', 3000))
    } catch (e) {
      reads.push([0, String(e)])
    }
    await sleep(25)
  }
  const stale = reads.filter(([code, body]) => code === 200 && body === 'v1')
  t.same(stale, [], `no read served v1 on the old leader (${reads.length} reads: ${[...new Set(reads.map(([code, body]) => `${code} ${body.slice(0, 40)}`))].join(' | ')})`)
  t.ok(reads.some(([code, body]) => code === 200 && body === 'v2'), 'it serves v2 once it has caught up')

  const after = verdicts(await c.status(old))
  t.ok(after.staleUser > before.staleUser, `its kernel passed up packets as stale-user while it was stopped (${after.staleUser - before.staleUser})`)
  t.equal(after.voteAnswers, before.voteAnswers, 'its kernel answered no vote request for the stopped process')
  const st = await c.statuses()
  t.equal(st.get(old)?.role, 'follower', 'the old leader stepped down')
})
