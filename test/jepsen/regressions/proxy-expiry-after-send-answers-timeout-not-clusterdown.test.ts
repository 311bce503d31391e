// Regression (found by the fault harness, seed 1, kill+pause): a follower forwarded SET to the
// leader, which applied it; the follower was paused past the request deadline and, on waking,
// its expiry timer fired before the leader's reply was read — and it answered
// -CLUSTERDOWN No raft leader, a definite error for a write that had committed. A forwarded
// request that was sent (or is running locally) must expire as -TIMEOUT (outcome unknown).
import { createServer, type Socket } from 'node:net'
import { pino } from 'pino'
import t from 'tap'
import { LeaderProxy } from '../../../src/kv/proxy.ts'
import type { KvService, WriteJob } from '../../../src/kv/service.ts'

/** A "leader" that accepts the peer hello and then swallows every forwarded write. */
async function silentLeader(): Promise<{ port: number; got: () => number; close: () => Promise<void> }> {
  let fwds = 0
  const socks = new Set<Socket>()
  const srv = createServer((s) => {
    socks.add(s)
    s.on('data', (d: Buffer) => {
      const text = d.toString('latin1')
      if (text.includes('RAFTKV.PEER')) s.write('+OK\r\n')
      fwds += text.split('RAFTKV.FWD').length - 1
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  return {
    port,
    got: () => fwds,
    close: () => {
      for (const s of socks) s.destroy()
      return new Promise((r) => srv.close(() => r()))
    },
  }
}

function job(): WriteJob {
  const enc = new TextEncoder()
  return { lane: 0, argvs: [[enc.encode('SET'), enc.encode('k'), enc.encode('v')]], multi: false, now: Date.now(), plan: () => ({ reply: { k: 'simple', v: 'OK' } }) as never, key: enc.encode('k') }
}

t.test('a forwarded write sent to the leader and unanswered at its deadline is -TIMEOUT', async (t) => {
  const leader = await silentLeader()
  t.teardown(leader.close)
  // Node 1 (a follower) knows node 2 leads; node 2's RESP address is the silent leader.
  const svc = { node: { status: () => ({ leader: 2, role: 'follower' }) } } as unknown as KvService
  const proxy = new LeaderProxy({
    svc,
    log: pino({ level: 'silent' }),
    local: () => Promise.reject(new Error('not the leader')),
    respAddr: (id) => (id === 2 ? { host: '127.0.0.1', port: leader.port } : undefined),
    selfId: 1,
    password: null,
    secret: null,
  })
  t.teardown(() => proxy.close())
  const reply = await proxy.forward(job(), Date.now() + 300)
  t.equal(leader.got(), 1, 'the write reached the leader')
  t.same(reply, { k: 'error', v: 'TIMEOUT not committed yet' }, 'outcome unknown, not -CLUSTERDOWN')
})

t.test('a forwarded write that never left this node (no leader known) is a definite -CLUSTERDOWN', async (t) => {
  const svc = { node: { status: () => ({ leader: 0, role: 'follower' }) } } as unknown as KvService
  const proxy = new LeaderProxy({ svc, log: pino({ level: 'silent' }), local: () => Promise.reject(new Error('unused')), respAddr: () => undefined, selfId: 1, password: null, secret: null })
  t.teardown(() => proxy.close())
  const reply = await proxy.forward(job(), Date.now() + 100)
  t.same(reply, { k: 'error', v: 'CLUSTERDOWN No raft leader' })
})
