// A write that reaches the leader while it hands leadership over is refused by Raft
// ("transferring"): nothing was proposed, so it is not the client's problem. The node proposes it
// again until the transfer has ended one way or the other, and answers 200 — not a 503.
//
// The transfer is held open by stopping (SIGSTOP) the follower it goes to: the leader sends it
// TimeoutNow, which it cannot act on, and the leader gives the transfer up after an election
// timeout, keeping its leadership.
import t from 'tap'
import { Cluster, sleep, type NodeStatus } from '../cluster/fixtures/helpers.ts'
import { call, followersOf, kv, node } from './fixtures/rest.ts'

const ELECTION_MS = 1000
const c = await Cluster.start(t, { nodes: 3, name: 'http-refused', logLevel: 'warn', args: ['--election-ms', String(ELECTION_MS), '--request-timeout-ms', '5000'] })

/** The voter /cluster/leadership/transfer picks: the recently active one with the highest match, the first on a tie. */
function transferTarget(st: NodeStatus): number {
  let to = 0
  let best = -1
  for (const id of st.voters) {
    const p = st.progress[String(id)]
    if (id !== st.id && p?.recentActive && p.match > best) {
      to = id
      best = p.match
    }
  }
  return to
}

t.test('a PUT to a leader in the middle of a leadership transfer is retried and succeeds', async (t) => {
  // The route's choice can change between reading /status and the transfer (a check-quorum round
  // resets "recently active"); then the transfer simply completes and the round is tried again.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { leader } = await c.waitForLeader(c.ids, 30_000)
    const L = node(c, leader)
    t.equal((await L.put(kv(`warm-${attempt}`), 'x')).status, 200)
    await c.waitApplied((await c.status(leader))!.commit, c.ids)
    const target = transferTarget((await c.status(leader))!)
    t.ok(followersOf(c, leader).includes(target), `attempt ${attempt}: the transfer will go to node ${target}`)
    const proc = c.procs.get(target)!.proc
    proc.kill('SIGSTOP')
    const transfer = call(`${c.url(leader)}/cluster/leadership/transfer`, 'POST')
    await sleep(50)
    const during = (await c.status(leader))!
    if (during.role !== 'leader' || during.transferee !== target) {
      proc.kill('SIGCONT')
      t.comment(`attempt ${attempt}: the transfer went elsewhere (transferee ${during.transferee}); again`)
      await transfer
      continue
    }

    const t0 = performance.now()
    const put = await L.put(kv('during-transfer'), 'kept')
    const ms = performance.now() - t0
    const after = (await c.status(leader))!
    proc.kill('SIGCONT')
    t.equal(put.status, 200, `the PUT succeeded after ${ms.toFixed(0)} ms: ${put.text}`)
    t.equal(put.headers.get('raftkv-leader'), null, 'answered by the leader itself, not proxied')
    t.equal(after.transferee, 0, 'the transfer was over when it was answered')
    // (Once resumed, the follower acts on the TimeoutNow it was sent and may take over now.)
    t.equal((await transfer).status, 200, 'the transfer request was answered')

    const { leader: now } = await c.waitForLeader(c.ids, 30_000)
    t.equal(await c.get(now, 'during-transfer'), 'kept', 'the value is there, read linearizably')
    return
  }
  t.fail('the transfer never went to the stopped follower in 5 attempts')
})
