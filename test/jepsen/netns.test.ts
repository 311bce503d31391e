// The fault harness's namespaces with the fast path on: the bridge side of every node's veth
// runs a pass-all XDP program. Without it a veth drops every native-XDP_TX frame (the kernel's
// pre-vote grants and heartbeat acks), and a healed cluster whose live nodes all answer
// pre-votes in the kernel never elects a leader again (seed 20000, pause,partition,netem).
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { DEFAULT_OBJECT_PATH, objectMissing } from '../../src/offload/addon.ts'
import { NetnsLab, netnsUnavailable } from './netns.ts'

const why = netnsUnavailable() ?? objectMissing()
let pingMissing: string | false = false
try {
  execFileSync('sh', ['-c', 'command -v ping'], { stdio: 'ignore' })
} catch {
  pingMissing = 'ping (iputils-ping) is not installed (scripts/setup.sh installs it)'
}

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

/** One echo request, or up to three for a reachability check (a neighbour entry left FAILED by a cut is re-resolved first). */
function pings(lab: NetnsLab, from: number, to: number, tries = 1): boolean {
  for (let i = 0; i < tries; i++) {
    try {
      execFileSync('ip', ['netns', 'exec', lab.ns(from), 'ping', '-c', '1', '-W', '1', lab.ip(to)], { stdio: 'ignore' })
      return true
    } catch {
      // the next try, if any
    }
  }
  return false
}

// The cut is made on the bridge, which every frame between two nodes crosses — also the frames a
// node's XDP program sends back itself, which never reach the namespace's own netfilter.
t.test('a partition cuts node-to-node traffic on the bridge, and heals', { skip: why ?? pingMissing }, async (t) => {
  const lab = new NetnsLab([1, 2, 3], 'part')
  t.teardown(() => lab.cleanup())
  lab.setup()
  t.ok(pings(lab, 1, 2, 3), '1 reaches 2 before the partition')
  lab.partition([[1, 3], [2, 3]])
  t.notOk(pings(lab, 1, 2), '1 cannot reach 2')
  t.notOk(pings(lab, 2, 1), '2 cannot reach 1')
  t.ok(pings(lab, 1, 3), '3 bridges the two sides: 1 reaches 3')
  t.ok(pings(lab, 2, 3), '2 reaches 3')
  const rules = execFileSync('nft', ['list', 'chain', 'bridge', `rkvj_${process.pid}_part`, 'part'], { encoding: 'utf8' })
  t.match(rules, new RegExp(`iifname "${lab.hostIf(2)}" oifname "${lab.hostIf(1)}" drop`), 'the rule is by bridge port')
  lab.healPartition()
  t.ok(pings(lab, 1, 2, 3), '1 reaches 2 after healing')
  lab.cleanup()
  t.throws(() => execFileSync('nft', ['list', 'table', 'bridge', `rkvj_${process.pid}_part`], { stdio: 'ignore' }), 'cleanup removes the table')
})

t.test('total loss towards a node drops what the host and the other nodes send it', { skip: why ?? pingMissing }, async (t) => {
  const lab = new NetnsLab([1, 2], 'loss')
  t.teardown(() => lab.cleanup())
  lab.setup()
  lab.netem([2], { delayMs: 5, lossPct: 100 })
  t.notOk(pings(lab, 1, 2), 'node 1 → node 2 lost')
  let hostReaches = true
  try {
    execFileSync('ping', ['-c', '1', '-W', '1', lab.ip(2)], { stdio: 'ignore' })
  } catch {
    hostReaches = false
  }
  t.notOk(hostReaches, 'host → node 2 lost')
  lab.healNetem()
  t.ok(pings(lab, 1, 2, 3), 'healed')
})
