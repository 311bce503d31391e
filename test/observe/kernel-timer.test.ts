// The visualizer's election timer: a leader's heartbeat the kernel fast path acknowledged (it
// never reaches user space as a received message) restarts it as a received one would.
import t from 'tap'
import { Observer } from '../../src/observe/observer.ts'
import { MsgType } from '../../src/raft/types.ts'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

t.test('kernelReceived restarts the election timer for heartbeats only', async (t) => {
  const o = new Observer(2, 100)
  await sleep(60)
  t.ok(o.electionElapsedMs() >= 50, 'the timer runs')
  o.kernelReceived(MsgType.HeartbeatResp, 0, performance.now())
  o.kernelReceived(MsgType.PreVote, 0, performance.now())
  t.ok(o.electionElapsedMs() >= 50, 'acks and vote requests do not restart it')
  o.kernelReceived(MsgType.Heartbeat, 0, performance.now())
  t.ok(o.electionElapsedMs() < 50, 'a heartbeat does')
  const before = o.electionElapsedMs()
  o.kernelReceived(MsgType.Heartbeat, 0, performance.now() - 10_000)
  t.ok(o.electionElapsedMs() >= before, 'an older record never moves it back')
})
