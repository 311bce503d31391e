// A real attach: a veth pair with one end in a fresh network namespace. The program is attached
// (generic, then native) to the end in our namespace through loadOffload(); a leader process in
// the other namespace (`ip netns exec … node`) sends a heartbeat with node:dgram and must get the
// kernel's ack back, and the ring-buffer event must reach JavaScript. Namespaces are always removed.

import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { MsgType } from '../../src/raft/types.ts'
import { decodeControl, newWireCounters } from '../../src/transport/wire.ts'
import { loadOffload, OffloadHandle } from '../../src/offload/offload.ts'
import { DEFAULT_OBJECT_PATH } from '../../src/offload/addon.ts'
import { Verdict } from '../../src/offload/state.ts'
import type { KernelEvent } from '../../src/offload/events.ts'
import { CLUSTER, KEY, followerState, msg, wire } from './helpers.ts'
import { netnsSkipReason } from './fixtures/netns.ts'

const run = promisify(execFile)

const skip = netnsSkipReason()
const ns = `rkv${process.pid}`
const hostIf = `rkh${process.pid % 100000}`
const peerIf = `rkp${process.pid % 100000}`
const sub = (process.pid % 200) + 20
const hostIp = `10.213.${sub}.1`
const peerIp = `10.213.${sub}.2`
const PORT = 17002
const LEADER_PORT = 17001

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`)
}

function cleanup(): void {
  spawnSync('ip', ['link', 'del', hostIf])
  spawnSync('ip', ['netns', 'del', ns])
}

// The leader: sends each payload (hex) from LEADER_PORT and prints (as JSON) the replies it got
// once it has `want` of them, or after 3 s.
const SENDER = `
import { createSocket } from 'node:dgram'
const [host, port, want, ...payloads] = process.argv.slice(1)
const s = createSocket('udp4')
const got = []
s.on('message', (b) => { got.push(b.toString('hex')); if (got.length === Number(want)) done() })
function done() { console.log(JSON.stringify(got)); s.close(); process.exit(0) }
s.bind(${LEADER_PORT}, () => {
  for (const p of payloads) s.send(Buffer.from(p, 'hex'), Number(port), host)
  setTimeout(done, 3000)
})
`

async function leaderSends(payloads: Buffer[], want: number): Promise<Buffer[]> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', SENDER, hostIp, String(PORT), String(want), ...payloads.map((p) => p.toString('hex'))], { timeout: 20_000 })
  return (JSON.parse(stdout.trim().split('\n').pop()!) as string[]).map((h) => Buffer.from(h, 'hex'))
}

t.test('attached to a veth: the kernel answers a real heartbeat', { skip }, async (t) => {
  cleanup()
  t.teardown(cleanup)
  ip('netns', 'add', ns)
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf)
  ip('link', 'set', peerIf, 'netns', ns)
  ip('addr', 'add', `${hostIp}/24`, 'dev', hostIf)
  ip('link', 'set', hostIf, 'up')
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${peerIp}/24`, 'dev', peerIf)
  ip('netns', 'exec', ns, 'ip', 'link', 'set', peerIf, 'up')
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')

  for (const mode of ['generic', 'native'] as const) {
    await t.test(`${mode} XDP`, async (t) => {
      if (mode === 'native') {
        // A veth hands native-XDP_TX frames to its peer only through the peer's XDP receive
        // path (its NAPI ring), which exists only while the peer runs an XDP program too: give
        // it one (this object: with no ports mapped it passes everything). Real NICs need nothing.
        const g = spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'dev', peerIf, 'xdpdrv', 'obj', DEFAULT_OBJECT_PATH, 'sec', 'xdp'], { encoding: 'utf8' })
        if (g.status !== 0) t.comment(`could not attach a pass-all XDP program to the peer (${g.stderr.trim()}); native XDP_TX may not reach it`)
      }
      const h = loadOffload({ mode, ifname: hostIf, port: PORT })
      if (h.mode === 'off') {
        if (mode === 'native') {
          t.comment(`SKIP native XDP unavailable on veth here: ${h.reason}`)
          return
        }
        t.fail(`generic attach failed: ${h.reason}`)
        return
      }
      t.teardown(() => h.close())
      t.ok(h instanceof OffloadHandle, 'loadOffload returned a handle')
      t.equal(h.mode, mode, `attached in ${mode} mode`)
      const q = h.fastPath.addon.xdpQuery(h.ifindex)
      t.equal(q.mode, mode, `the kernel reports ${mode} mode`)
      const events: KernelEvent[] = []
      h.onEvents((evs) => events.push(...evs))
      h.publish(followerState({ port: PORT, contactNs: 0n }))
      h.touch()
      const hb = msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5, commit: 8, ctx: 4242 })
      const mismatch = msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 4, ctx: 1 })
      const replies = await leaderSends([wire(mismatch), wire(hb)], 1)
      const decoded = replies.map((b) => decodeControl(b, CLUSTER, KEY, newWireCounters()))
      t.equal(decoded.length, 1, 'one reply: the mismatching heartbeat went up (no socket there, so no answer)')
      await new Promise((r) => setTimeout(r, 200)) // a stray second reply would have arrived by now
      t.match(decoded[0], { type: MsgType.HeartbeatResp, from: 2, to: 1, term: 5, index: 10, ctx: 4242, reject: false }, 'the kernel’s ack arrived in the other namespace')
      for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
      t.match(events, [{ type: MsgType.Heartbeat, from: 1, ctx: 4242, verdict: Verdict.Tx }], 'the event reached JavaScript through the ring buffer')
      const k = h.readKernel()
      t.equal(k.contactLeader, 1, 'leader contact stamped')
      t.match(k.counters, { Heartbeat: { Tx: 1, LogMismatch: 1 } }, 'counters')
      h.close()
      t.equal(h.fastPath.addon.xdpQuery(h.ifindex).mode, 'none', 'detached on close')
    })
  }
})
