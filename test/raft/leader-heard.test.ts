// leaderHeard(): leader contact observed outside the core (the kernel fast path acknowledged the
// leader's heartbeat from the durable state) restarts a follower's election timer — and nothing else.
import t from 'tap'
import { MsgType, type Message } from '../../src/raft/types.ts'
import type { RawNode } from '../../src/raft/rawnode.ts'
import { ELECTION, drain, msg, node, outgoing, withLog } from './util.ts'

/** A follower of leader 1 in term 2 that just stepped its heartbeat (timer at 0). */
function follower(): RawNode {
  const raw = node(2, withLog([1, 2, 3], [1, 2], { term: 2, commit: 2 }))
  raw.step(msg(MsgType.Heartbeat, 1, 2, 2, { index: 2, logTerm: 2, commit: 2 }))
  drain(raw)
  return raw
}

/** Ticks until the node sends a (pre-)vote request; the number of ticks, or -1 within `limit`. */
function ticksToCampaign(raw: RawNode, limit: number, each?: (tick: number) => void): number {
  for (let i = 1; i <= limit; i++) {
    raw.tick()
    each?.(i)
    if (raw.hasReady()) {
      const out: Message[] = outgoing(drain(raw))
      if (out.some((m) => m.type === MsgType.PreVote || m.type === MsgType.Vote)) return i
    }
  }
  return -1
}

t.test('a follower told every tick that the leader was just heard never campaigns', async (t) => {
  const raw = follower()
  const moved: boolean[] = []
  const at = ticksToCampaign(raw, 10 * ELECTION, () => moved.push(raw.leaderHeard(1, 2, 0)))
  t.equal(at, -1, 'no campaign within 10 election timeouts')
  t.ok(moved.every((m) => m), 'every call restarted the timer')
  t.same([raw.status().role, raw.status().leader, raw.status().term], ['follower', 1, 2])
})

t.test('the timer restarts from the contact time, not from the call', async (t) => {
  const a = follower()
  // Contact 3 ticks ago, told after 5 ticks: the timer reads 3, so it fires 2 ticks earlier than
  // after a contact right now.
  for (let i = 0; i < 5; i++) a.tick()
  t.ok(a.leaderHeard(1, 2, 3), 'timer moved from 5 to 3')
  const b = follower()
  for (let i = 0; i < 5; i++) b.tick()
  t.ok(b.leaderHeard(1, 2, 0), 'timer moved from 5 to 0')
  const ta = ticksToCampaign(a, 4 * ELECTION)
  const tb = ticksToCampaign(b, 4 * ELECTION)
  t.ok(ta > 0 && tb > 0, `both campaign eventually (${ta}, ${tb})`)
  t.equal(tb - ta, 3, 'the earlier contact fires exactly 3 ticks sooner (same seed, same randomized timeout)')
})

t.test('never makes the timer older, and ignores other leaders, terms and roles', async (t) => {
  const raw = follower()
  raw.tick()
  raw.tick()
  t.notOk(raw.leaderHeard(1, 2, 5), 'a contact older than the last reset changes nothing')
  t.notOk(raw.leaderHeard(3, 2, 0), 'another node is not our leader')
  t.notOk(raw.leaderHeard(1, 1, 0), 'a contact in an older term')
  t.notOk(raw.leaderHeard(1, 3, 0), 'a contact in a newer term (only a stepped message may move the term)')
  t.notOk(raw.leaderHeard(1, 2, -1), 'a negative age')
  t.notOk(raw.leaderHeard(1, 2, 0.5), 'a fractional age')
  t.ok(raw.leaderHeard(1, 2, 0), 'the known leader, now: moved')

  // A node with no leader (fresh start) has no one to have heard.
  const fresh = node(2, withLog([1, 2, 3], [1], { term: 1 }))
  fresh.tick()
  t.notOk(fresh.leaderHeard(1, 1, 0), 'no known leader: ignored')

  // A leader's timer is its CheckQuorum clock: not ours to move.
  const l = node(1, withLog([1], [1], { term: 1 }))
  for (let i = 0; i < 3 * ELECTION && l.status().role !== 'leader'; i++) {
    l.tick()
    if (l.hasReady()) drain(l)
  }
  t.equal(l.status().role, 'leader', 'single-node cluster elected itself')
  t.notOk(l.leaderHeard(1, l.status().term, 0), 'a leader is never told it heard a leader')
})

t.test('a follower whose leader was heard keeps ignoring disruptive candidates', async (t) => {
  const raw = follower()
  for (let i = 0; i < ELECTION + 1; i++) {
    raw.tick()
    raw.leaderHeard(1, 2, 0)
  }
  drain(raw)
  // A partitioned node 3 comes back with a higher term: while the leader is heard (inLease),
  // its vote request is ignored, exactly as after a stepped heartbeat.
  raw.step(msg(MsgType.Vote, 3, 2, 5, { index: 2, logTerm: 2 }))
  t.equal(raw.status().term, 2, 'term unchanged')
  t.notOk(raw.hasReady() && outgoing(drain(raw)).some((m) => m.type === MsgType.VoteResp), 'no vote reply')
})
