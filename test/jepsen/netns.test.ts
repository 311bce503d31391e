// The fault harness's namespaces with the fast path on: the bridge side of every node's veth
// runs a pass-all XDP program. Without it a veth drops every native-XDP_TX frame (the kernel's
// pre-vote grants and heartbeat acks), and a healed cluster whose live nodes all answer
// pre-votes in the kernel never elects a leader again (seed 20000, pause,partition,netem).
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { DEFAULT_OBJECT_PATH, objectMissing } from '../../src/offload/addon.ts'
import { NetnsLab, netnsUnavailable } from './netns.ts'

const why = netnsUnavailable() ?? objectMissing()

function xdpOf(dev: string): unknown {
  const [link] = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as { xdp?: unknown }[]
  return link?.xdp
}

t.test('with an XDP object: every bridge-side veth gets it (native)', { skip: why ?? false }, async (t) => {
  const lab = new NetnsLab([1, 2], 'xdpt', DEFAULT_OBJECT_PATH)
  t.teardown(() => lab.cleanup())
  lab.setup()
  for (const id of lab.ids) t.ok(xdpOf(lab.hostIf(id)), `${lab.hostIf(id)} runs an XDP program`)
})

t.test('without one (fast path off): nothing is attached', { skip: why ?? false }, async (t) => {
  const lab = new NetnsLab([1], 'xdpn')
  t.teardown(() => lab.cleanup())
  lab.setup()
  t.notOk(xdpOf(lab.hostIf(1)), 'no XDP program')
})
