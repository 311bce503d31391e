// CLUSTER commands, so cluster-mode clients (ioredis Cluster, node-redis createCluster, redis-cli -c)
// work: the whole keyspace is ONE shard covering slots 0–16383, owned by the current Raft leader
// as master, with the other members as its replicas. Node ids are 40 hex characters derived from
// the Raft node ids, so every member describes the cluster the same way.
import type { NodeId } from '../../raft/types.ts'
import { E, arr, bulkStr, err, int, status, type Reply } from '../reply.ts'
import type { KvService } from '../service.ts'
import { cmd, m, reply, type Command } from './types.ts'

const NONE: [number, number, number] = [0, 0, 0]
export const SLOTS = 16384

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 8
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
    t[i] = c
  }
  return t
})()

/** CRC16-CCITT (XMODEM), Redis Cluster's key hash. */
export function crc16(b: Uint8Array): number {
  let crc = 0
  for (const x of b) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ x) & 0xff]!
  return crc
}

/** The hash slot of a key, honouring {hash tags} like Redis (keyHashSlot). */
export function keySlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b)
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1)
    if (close > open + 1) return crc16(key.subarray(open + 1, close)) & (SLOTS - 1)
  }
  return crc16(key) & (SLOTS - 1)
}

function members(svc: KvService): NodeId[] {
  const st = svc.node.status()
  const ids = new Set([...st.conf.voters, ...st.conf.learners])
  if (ids.size === 0) ids.add(st.id)
  return [...ids].sort((a, b) => a - b)
}

/** The members that are not the leader (the shard's replicas). */
function replicas(svc: KvService, leader: NodeId): NodeId[] {
  return members(svc).filter((id) => id !== leader)
}

function nodeEntry(svc: KvService, id: NodeId): Reply | null {
  const a = svc.cfg.respAddr(id)
  if (!a) return null
  return arr([bulkStr(a.host), int(a.port), bulkStr(svc.nodeName(id)), { k: 'map', v: [] }])
}

function slots(svc: KvService): Reply {
  const leader = svc.leaderId()
  const master = leader ? nodeEntry(svc, leader) : null
  // No leader, no owner: like a cluster with no slots assigned.
  if (!master) return arr([])
  const reps = replicas(svc, leader)
    .map((id) => nodeEntry(svc, id))
    .filter((x): x is Reply => x !== null)
  return arr([arr([int(0), int(SLOTS - 1), master, ...reps])])
}

function shards(svc: KvService): Reply {
  const st = svc.node.status()
  const leader = st.leader
  const nodes: Reply[] = []
  for (const id of members(svc)) {
    const a = svc.cfg.respAddr(id)
    if (!a) continue
    const isLeader = id === leader
    const offset = isLeader || id === st.id ? (id === st.id ? st.applied : st.commit) : (st.progress.get(id)?.match ?? 0)
    const healthy = id === st.id || isLeader || st.role !== 'leader' || (st.progress.get(id)?.recentActive ?? false)
    nodes.push({
      k: 'map',
      v: [
        [bulkStr('id'), bulkStr(svc.nodeName(id))],
        [bulkStr('port'), int(a.port)],
        [bulkStr('ip'), bulkStr(a.host)],
        [bulkStr('endpoint'), bulkStr(a.host)],
        [bulkStr('role'), bulkStr(isLeader ? 'master' : 'replica')],
        [bulkStr('replication-offset'), int(offset)],
        [bulkStr('health'), bulkStr(healthy ? 'online' : 'failed')],
      ],
    })
  }
  return arr([
    {
      k: 'map',
      v: [
        [bulkStr('slots'), arr(leader ? [int(0), int(SLOTS - 1)] : [])],
        [bulkStr('nodes'), arr(nodes)],
      ],
    },
  ])
}

function nodesText(svc: KvService): string {
  const st = svc.node.status()
  const leader = st.leader
  const now = Date.now()
  let out = ''
  for (const id of members(svc)) {
    const a = svc.cfg.respAddr(id)
    if (!a) continue
    const bus = svc.cfg.raftAddr(id)?.port ?? a.port + 10000
    const flags = `${id === st.id ? 'myself,' : ''}${id === leader ? 'master' : leader ? 'slave' : 'master,fail?'}`
    const master = id === leader || !leader ? '-' : svc.nodeName(leader)
    const link = id === st.id || st.role !== 'leader' || (st.progress.get(id)?.recentActive ?? false) ? 'connected' : 'disconnected'
    const owned = id === leader ? ` 0-${SLOTS - 1}` : ''
    out += `${svc.nodeName(id)} ${a.host}:${a.port}@${bus} ${flags} ${master} 0 ${id === st.id ? 0 : now} ${st.term} ${link}${owned}\n`
  }
  return out
}

function infoText(svc: KvService): string {
  const st = svc.node.status()
  const ok = st.leader !== 0
  return [
    `cluster_state:${ok ? 'ok' : 'fail'}`,
    `cluster_slots_assigned:${ok ? SLOTS : 0}`,
    `cluster_slots_ok:${ok ? SLOTS : 0}`,
    'cluster_slots_pfail:0',
    `cluster_slots_fail:0`,
    `cluster_known_nodes:${members(svc).length}`,
    `cluster_size:${ok ? 1 : 0}`,
    `cluster_current_epoch:${st.term}`,
    `cluster_my_epoch:${st.term}`,
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
    '',
  ].join('\r\n')
}

const clusterSubs: Command[] = [
  cmd('cluster|slots', m(2, 'stale', NONE, 'slow', 'cluster', 'Get array of Cluster slot to node mappings', '3.0.0', 'nondeterministic_output'), (c) => reply(slots(c.svc))),
  cmd('cluster|shards', m(2, 'stale', NONE, 'slow', 'cluster', 'Get array of cluster slots to node mappings', '7.0.0', 'nondeterministic_output'), (c) => reply(shards(c.svc))),
  cmd('cluster|nodes', m(2, 'stale', NONE, 'slow', 'cluster', 'Get Cluster config for the node', '3.0.0', 'nondeterministic_output'), (c) => reply({ k: 'verbatim', v: nodesText(c.svc) })),
  cmd('cluster|info', m(2, 'stale', NONE, 'slow', 'cluster', 'Provides info about Redis Cluster node state', '3.0.0', 'nondeterministic_output'), (c) => reply({ k: 'verbatim', v: infoText(c.svc) })),
  cmd('cluster|myid', m(2, 'stale', NONE, 'slow', 'cluster', 'Return the node id', '3.0.0'), (c) => reply(bulkStr(c.svc.nodeName(c.svc.node.id)))),
  cmd('cluster|myshardid', m(2, 'stale', NONE, 'slow', 'cluster', 'Return the node shard id', '7.2.0', 'nondeterministic_output'), (c) => reply(bulkStr(c.svc.shardName()))),
  cmd('cluster|keyslot', m(3, 'stale', NONE, 'slow', 'cluster', 'Returns the hash slot of the specified key', '3.0.0'), (_c, a) => reply(int(keySlot(a[2]!)))),
  cmd('cluster|help', m(2, 'loading stale', NONE, 'slow', 'cluster', 'Show helpful text about the different subcommands', '5.0.0'), () =>
    reply(arr(['CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', 'INFO', 'KEYSLOT <key>', 'MYID', 'MYSHARDID', 'NODES', 'SHARDS', 'SLOTS', 'HELP'].map(status))),
  ),
]

export const clusterCommands: Command[] = [
  {
    ...cmd('cluster', m(-2, '', NONE, 'slow', 'cluster', 'A container for cluster commands', '3.0.0'), () => reply(err(E.arity('cluster')))),
    subs: new Map(clusterSubs.map((s) => [s.name.slice('cluster|'.length), s])),
  },
]
