// Hostile and broken input on a node's Raft port, from outside the cluster: malformed and forged
// UDP control packets (node:dgram) and malformed TCP data frames (node:net). Each one is counted
// in /status under exactly the reason expected, the node keeps running, and the cluster's term,
// leader and commit index do not move because of any of them.
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import t from 'tap'
import { MsgType, emptyMessage, type Message } from '../../src/raft/types.ts'
import { encodeAppend } from '../../src/transport/datamsg.ts'
import { FrameDecoder } from '../../src/transport/frame.ts'
import { encodeHello, helloKey } from '../../src/transport/hello.ts'
import { WIRE_LAYOUT, deriveKey, encodeControl } from '../../src/transport/wire.ts'
import { Cluster, sleep, waitFor, type NodeStatus } from './fixtures/helpers.ts'

const SECRET = 'malformed-test-secret'
const CLUSTER_ID = 1 // the default --cluster-id
const key = deriveKey(SECRET)

/** A deterministic byte generator, so a failing run can be replayed. */
function bytes(seed: number, n: number): Buffer {
  let s = seed >>> 0
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    b[i] = s >>> 24
  }
  return b
}

async function sendUdp(port: number, packets: Buffer[]): Promise<void> {
  const u = createSocket('udp4')
  for (const p of packets) await new Promise<void>((res, rej) => u.send(p, port, '127.0.0.1', (e) => (e ? rej(e) : res())))
  await new Promise<void>((res) => u.close(() => res()))
}

/** Writes `data` on a fresh connection; resolves once the node has closed it (or after 3 s). */
function sendTcp(port: number, data: Buffer): Promise<'closed-by-node' | 'still-open'> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    const timer = setTimeout(() => {
      s.destroy()
      resolve('still-open')
    }, 3000)
    s.on('connect', () => s.write(data))
    s.on('error', () => undefined)
    s.on('close', () => {
      clearTimeout(timer)
      resolve('closed-by-node')
    })
  })
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const k of Object.keys(after)) if (after[k] !== before[k]) out[k] = after[k]! - (before[k] ?? 0)
  return out
}

function shape(st: Map<number, NodeStatus>): string[] {
  return [...st.values()].map((s) => `node ${s.id}: ${s.role} term ${s.term} leader ${s.leader} commit ${s.commit} last ${s.lastIndex}`).sort()
}

t.test('malformed and forged packets are counted and dropped; the cluster does not notice', async (t) => {
  // A long election timeout so that a stall on a loaded machine does not move leadership on its
  // own during the check (a believed forgery still would: it carries a term 100 ahead).
  const c = await Cluster.start(t, { nodes: 3, name: 'malformed', secret: SECRET, args: ['--election-ms', '1000'] })
  const { leader, term } = await c.waitForLeader(c.ids, 30_000)
  await c.put('before', 'x')
  const commit0 = (await c.status(leader))!.commit
  await c.waitApplied(commit0, c.ids)
  const before = await c.statuses(c.ids)
  const follower = c.ids.find((id) => id !== leader)!
  const port = c.raftPort(follower)

  // A disruptive message if it were believed: a vote request 100 terms ahead, "from" the leader.
  const vote = (from: number, to: number): Message => {
    const m = emptyMessage(MsgType.Vote, from, to, term + 100)
    m.index = 1_000_000
    m.logTerm = term + 100
    return m
  }
  const valid = (m: Message): Buffer => encodeControl(m, CLUSTER_ID, key)
  const typeAt = WIRE_LAYOUT.fields.type.offset
  const versionAt = WIRE_LAYOUT.fields.version.offset
  const flagsAt = WIRE_LAYOUT.fields.flags.offset
  const macAt = WIRE_LAYOUT.fields.mac.offset
  const patch = (b: Buffer, at: number, v: number): Buffer => {
    const c2 = Buffer.from(b)
    c2[at] = v
    return c2
  }

  const udp: { what: string; counter: string; packets: Buffer[] }[] = [
    { what: 'random bytes of the wrong size', counter: 'badSize', packets: [1, 13, 64, 71, 73, 200, 1400].map((n, i) => bytes(100 + i, n)) },
    { what: 'truncated valid packets', counter: 'badSize', packets: [40, 71].map((n) => valid(vote(leader, follower)).subarray(0, n)) },
    { what: 'empty datagram', counter: 'badSize', packets: [Buffer.alloc(0)] },
    { what: 'random bytes of the right size', counter: 'badMagic', packets: [1, 2, 3].map((i) => patch(bytes(200 + i, WIRE_LAYOUT.size), 0, 0x00)) },
    { what: 'unknown version', counter: 'badVersion', packets: [patch(valid(vote(leader, follower)), versionAt, 9)] },
    { what: 'unknown message types', counter: 'badType', packets: [0, 9, 99, 255].map((ty) => patch(valid(vote(leader, follower)), typeAt, ty)) },
    { what: 'unknown flag bits', counter: 'badFlags', packets: [patch(valid(vote(leader, follower)), flagsAt, 0x80)] },
    { what: 'another cluster id', counter: 'badCluster', packets: [encodeControl(vote(leader, follower), CLUSTER_ID + 1, key)] },
    {
      what: 'forged: wrong key, flipped MAC, no MAC',
      counter: 'badMac',
      packets: [
        encodeControl(vote(leader, follower), CLUSTER_ID, deriveKey('not-the-secret')),
        patch(valid(vote(leader, follower)), macAt + 7, valid(vote(leader, follower))[macAt + 7]! ^ 1),
        encodeControl(vote(leader, follower), CLUSTER_ID, null),
      ],
    },
    { what: 'valid MAC but a body changed after signing', counter: 'badMac', packets: [patch(valid(vote(leader, follower)), 23, valid(vote(leader, follower))[23]! ^ 0x40)] },
    { what: 'from an unknown peer id, and from itself', counter: 'unknownPeer', packets: [valid(vote(42, follower)), valid(vote(follower, follower))] },
  ]
  const w0 = before.get(follower)!.transport.wire
  const expected: Record<string, number> = {}
  let sent = 0
  for (const g of udp) {
    await sendUdp(port, g.packets)
    expected[g.counter] = (expected[g.counter] ?? 0) + g.packets.length
    sent += g.packets.length
  }
  // Misaddressed: a valid packet for node 3 sent to node `follower` is dropped too.
  const other = c.ids.find((id) => id !== leader && id !== follower)!
  await sendUdp(port, [valid(vote(leader, other))])
  sent++
  const st1 = await waitFor(
    'the counters to settle',
    async () => {
      const s = await c.status(follower)
      if (!s) return undefined
      const got = diff(s.transport.wire, w0)
      return JSON.stringify(got) === JSON.stringify(Object.fromEntries(Object.keys(w0).filter((k) => expected[k]).map((k) => [k, expected[k]]))) ? s : undefined
    },
    5000,
  ).catch(async () => (await c.status(follower))!)
  t.same(diff(st1.transport.wire, w0), Object.fromEntries(Object.keys(w0).filter((k) => expected[k]).map((k) => [k, expected[k]])), `UDP: ${sent} bad packets counted exactly by reason`)
  t.equal(st1.transport.misaddressed - before.get(follower)!.transport.misaddressed, 1, 'a packet for another node is counted as misaddressed')
  t.ok(st1.transport.udpReceived - before.get(follower)!.transport.udpReceived >= sent, 'every datagram was received')

  // The same forged high-term votes at the leader: it must not step down.
  const lw0 = before.get(leader)!.transport.wire
  await sendUdp(c.raftPort(leader), [
    encodeControl(vote(follower, leader), CLUSTER_ID, deriveKey('not-the-secret')),
    encodeControl(vote(follower, leader), CLUSTER_ID + 7, key),
    valid(vote(42, leader)),
  ])
  await sleep(300)
  const lw1 = (await c.status(leader))!.transport.wire
  t.same(diff(lw1, lw0), { badCluster: 1, badMac: 1, unknownPeer: 1 }, 'the leader counts forged votes and drops them')

  // TCP, the handshake: a connection that does not open with a valid hello is refused unread.
  const hk = helloKey(key)
  const bad0 = (await c.status(follower))!.transport.tcpBadHello
  const validHello = encodeHello(hk, CLUSTER_ID, leader, follower)
  const hellos: [string, Buffer][] = [
    ['no hello, a frame straight away', encodeAppend(emptyMessage(MsgType.Append, leader, follower, 0), CLUSTER_ID)],
    ['a hello signed with another secret', encodeHello(helloKey(deriveKey('not-the-secret')), CLUSTER_ID, leader, follower)],
    ['an unsigned hello', encodeHello(null, CLUSTER_ID, leader, follower)],
    ['a hello from an unknown peer', encodeHello(hk, CLUSTER_ID, 42, follower)],
    ['a hello for another cluster', encodeHello(hk, CLUSTER_ID + 1, leader, follower)],
    ['a stale hello', encodeHello(hk, CLUSTER_ID, leader, follower, Date.now() - 10 * 60_000)],
  ]
  for (const [what, data] of hellos) t.equal(await sendTcp(port, data), 'closed-by-node', `TCP ${what}: the node closes the connection`)
  t.equal(await sendTcp(port, validHello), 'still-open', 'a valid hello is accepted')
  t.equal(await sendTcp(port, validHello), 'closed-by-node', 'the same hello replayed is refused')
  const bad1 = (await c.status(follower))!.transport.tcpBadHello
  t.equal(bad1 - bad0, hellos.length + 1, `TCP: tcpBadHello went up by exactly ${hellos.length + 1}`)

  // TCP, the frames: after a valid hello, each malformed stream makes the node count one bad
  // frame and close that connection.
  const tcp0 = (await c.status(follower))!.transport.tcpBadFrames
  const stale = emptyMessage(MsgType.Append, leader, follower, 0) // term 0: harmless even if believed
  const good = encodeAppend(stale, CLUSTER_ID)
  let random = bytes(1, 4096)
  for (let seed = 2; ; seed++) {
    // random bytes the decoder rejects outright (not a plausible header still waiting for its body)
    const d = new FrameDecoder(() => undefined)
    if (d.push(random)) break
    random = bytes(seed, 4096)
  }
  const badCrc = Buffer.from(good)
  badCrc[badCrc.length - 1]! ^= 0xff
  const oversized = Buffer.from([0xff, 0xff, 0xff, 0xf0, MsgType.Append, 1, 2, 3])
  const unknownKind = Buffer.concat([Buffer.from([0, 0, 0, 4, 99]), Buffer.alloc(8)])
  const otherCluster = encodeAppend(stale, CLUSTER_ID + 1)
  const frames: [string, Buffer][] = [
    ['random bytes', random],
    ['bad CRC', badCrc],
    ['oversized length', oversized],
    ['unknown kind', unknownKind],
    ['another cluster id (valid CRC)', otherCluster],
  ]
  for (const [what, data] of frames) {
    const opened = Buffer.concat([encodeHello(hk, CLUSTER_ID, leader, follower), data])
    t.equal(await sendTcp(port, opened), 'closed-by-node', `TCP ${what}: the node closes the connection`)
  }
  const st2 = (await c.status(follower))!
  t.equal(st2.transport.tcpBadFrames - tcp0, frames.length, `TCP: tcpBadFrames went up by exactly ${frames.length}`)

  // Nothing moved: same processes, same leader and term, same commit; and the cluster still works.
  for (const id of c.ids) t.ok(c.procs.get(id)!.alive, `node ${id} is still running`)
  const after = await c.statuses(c.ids)
  t.same(shape(after), shape(before), 'term, leader, role, commit and last log index are unchanged on every node: nothing was injected')
  for (const s of after.values()) t.equal(s.node.leaderChanges, before.get(s.id)!.node.leaderChanges, `node ${s.id} saw no leader change`)
  await c.put('after', 'y')
  t.equal(await c.get(follower, 'after'), 'y', 'the cluster still takes writes, and the attacked follower serves them')
})

// A data connection must open with a hello signed with the cluster secret (src/transport/hello.ts):
// a forged Append from "the leader" in a later term, sent by someone without the secret, is never
// even decoded, so it cannot move the cluster's term or leadership.
t.test('a forged data frame (valid CRC, no secret) cannot move the cluster', async (t) => {
  const c = await Cluster.start(t, { nodes: 3, name: 'forged-tcp', secret: SECRET })
  const { leader, term } = await c.waitForLeader(c.ids, 30_000)
  const follower = c.ids.find((id) => id !== leader)!
  const m = emptyMessage(MsgType.Append, leader, follower, term + 50)
  await sendTcp(c.raftPort(follower), encodeAppend(m, CLUSTER_ID))
  await sleep(1000)
  const st = await c.waitForLeader(c.ids, 15_000)
  t.equal(st.term, term, `the term stays ${term} (got ${st.term})`)
  t.equal(st.leader, leader, `node ${leader} stays leader (got ${st.leader})`)
})
