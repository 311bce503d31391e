// Server commands: INFO (Redis's sections plus a `# Raft` section), TIME, ROLE, COMMAND (INFO,
// DOCS, COUNT, LIST, GETKEYS), CONFIG GET (what clients and redis-benchmark ask at start-up).
import { randomBytes } from 'node:crypto'
import { arch, hostname, release, type as osType } from 'node:os'
import { E, OK, arr, bulk, bulkStr, err, int, status, type Reply } from '../reply.ts'
import { globMatch } from '../glob.ts'
import type { KvService } from '../service.ts'
import { opt, text } from './args.ts'
import { docArguments } from './docs.ts'
import { cmd, m, reply, type Command, type CommandTable, type Ctx } from './types.ts'

/** The Redis version we answer as: Redis 7.0 semantics (plus CLIENT SETINFO from 7.2). */
export const REDIS_VERSION = '7.0.15'
const RUN_ID = randomBytes(20).toString('hex')
const NONE: [number, number, number] = [0, 0, 0]

type Section = [string, string[]]

function kv(pairs: [string, string | number][]): string[] {
  return pairs.map(([k, v]) => `${k}:${v}`)
}

function replicationLines(svc: KvService): string[] {
  const st = svc.node.status()
  const replid = svc.shardName()
  const common: [string, string | number][] = [
    ['master_failover_state', 'no-failover'],
    ['master_replid', replid],
    ['master_replid2', '0000000000000000000000000000000000000000'],
    ['master_repl_offset', st.commit],
    ['second_repl_offset', -1],
    ['repl_backlog_active', 0],
    ['repl_backlog_size', 1048576],
    ['repl_backlog_first_byte_offset', 0],
    ['repl_backlog_histlen', 0],
  ]
  if (st.role === 'leader') {
    const followers = [...st.conf.voters, ...st.conf.learners].filter((id) => id !== st.id)
    const lines: [string, string | number][] = [
      ['role', 'master'],
      ['connected_slaves', followers.length],
    ]
    followers.forEach((id, i) => {
      const a = svc.cfg.respAddr(id)
      const p = st.progress.get(id)
      const state = p?.recentActive ? 'online' : 'wait_bgsave'
      lines.push([`slave${i}`, `ip=${a?.host ?? '?'},port=${a?.port ?? 0},state=${state},offset=${p?.match ?? 0},lag=0`])
    })
    return kv([...lines, ...common])
  }
  const la = st.leader ? svc.cfg.respAddr(st.leader) : undefined
  return kv([
    ['role', 'slave'],
    ['master_host', la?.host ?? '?'],
    ['master_port', la?.port ?? 0],
    ['master_link_status', st.leader ? 'up' : 'down'],
    ['master_last_io_seconds_ago', st.leader ? 0 : -1],
    ['master_sync_in_progress', 0],
    ['slave_read_repl_offset', st.applied],
    ['slave_repl_offset', st.applied],
    ['slave_priority', 100],
    ['slave_read_only', 1],
    ['replica_announced', 1],
    ['connected_slaves', 0],
    ...common,
  ])
}

function raftLines(svc: KvService): string[] {
  const st = svc.node.status()
  const fs = svc.storage.stats()
  const a = svc.cfg.respAddr(st.leader)
  return kv([
    ['raft_node_id', st.id],
    ['raft_role', st.role],
    ['raft_leader_id', st.leader],
    ['raft_leader_addr', a ? `${a.host}:${a.port}` : ''],
    ['raft_term', st.term],
    ['raft_commit_index', st.commit],
    ['raft_applied_index', st.applied],
    ['raft_last_index', st.lastIndex],
    ['raft_first_index', st.firstIndex],
    ['raft_members', st.conf.voters.join(',')],
    ['raft_learners', st.conf.learners.join(',')],
    ['raft_fsync_count', fs.fsyncs],
    ['raft_fsync_mean_ms', fs.fsyncMeanMs.toFixed(3)],
    ['raft_fsync_max_ms', fs.fsyncMaxMs.toFixed(3)],
    ['raft_read_barrier_rounds', svc.barrier.rounds],
    ['raft_proposed_writes', svc.counters.writes],
    ['raft_proxied_writes', svc.counters.proxied],
    ['raft_moved_writes', svc.counters.moved],
    ['raft_linearizable_reads', svc.counters.reads],
    ['raft_stale_reads', svc.counters.staleReads],
    ['raft_redirect_mode', svc.cfg.redirect ? 1 : 0],
  ])
}

function sections(svc: KvService): Section[] {
  const now = Date.now()
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  const up = Math.floor((now - svc.startedAt) / 1000)
  const keys = svc.sm.keyCount
  return [
    [
      'Server',
      kv([
        ['redis_version', REDIS_VERSION],
        ['redis_git_sha1', '00000000'],
        ['redis_git_dirty', 0],
        ['redis_build_id', 'raftkv'],
        ['redis_mode', 'cluster'],
        ['os', `${osType()} ${release()} ${arch()}`],
        ['arch_bits', 64],
        ['multiplexing_api', 'epoll'],
        ['process_id', process.pid],
        ['process_supervised', 'no'],
        ['run_id', RUN_ID],
        ['tcp_port', svc.port],
        ['server_time_usec', now * 1000],
        ['uptime_in_seconds', up],
        ['uptime_in_days', Math.floor(up / 86400)],
        ['hz', 10],
        ['configured_hz', 10],
        ['executable', process.argv[1] ?? ''],
        ['config_file', ''],
        ['io_threads_active', 0],
        ['raftkv_node_host', hostname()],
        ['raftkv_node_version', process.version],
      ]),
    ],
    [
      'Clients',
      kv([
        ['connected_clients', svc.clients.size],
        ['cluster_connections', 0],
        ['maxclients', 10000],
        ['blocked_clients', 0],
        ['tracking_clients', 0],
        ['clients_in_timeout_table', 0],
      ]),
    ],
    [
      'Memory',
      kv([
        ['used_memory', mem.heapUsed],
        ['used_memory_human', `${(mem.heapUsed / 1048576).toFixed(2)}M`],
        ['used_memory_rss', mem.rss],
        ['used_memory_rss_human', `${(mem.rss / 1048576).toFixed(2)}M`],
        ['maxmemory', 0],
        ['maxmemory_policy', 'noeviction'],
        ['mem_allocator', 'v8'],
      ]),
    ],
    [
      'Persistence',
      kv([
        ['loading', 0],
        ['async_loading', 0],
        ['rdb_changes_since_last_save', 0],
        ['rdb_bgsave_in_progress', 0],
        ['rdb_last_bgsave_status', 'ok'],
        ['aof_enabled', 0],
        ['aof_rewrite_in_progress', 0],
        ['aof_last_write_status', 'ok'],
      ]),
    ],
    [
      'Stats',
      kv([
        ['total_connections_received', svc.stats.connectionsReceived],
        ['total_commands_processed', svc.stats.commandsProcessed],
        ['instantaneous_ops_per_sec', 0],
        ['rejected_connections', svc.stats.rejectedConnections],
        ['expired_keys', svc.expiredKeys()],
        ['evicted_keys', 0],
        ['keyspace_hits', 0],
        ['keyspace_misses', 0],
        ['total_error_replies', 0],
        ['unexpected_error_replies', 0],
        ['total_reads_processed', svc.counters.reads + svc.counters.staleReads],
        ['total_writes_processed', svc.counters.writes],
      ]),
    ],
    ['Replication', replicationLines(svc)],
    [
      'CPU',
      kv([
        ['used_cpu_sys', (cpu.system / 1e6).toFixed(6)],
        ['used_cpu_user', (cpu.user / 1e6).toFixed(6)],
      ]),
    ],
    ['Modules', []],
    ['Errorstats', []],
    ['Cluster', ['cluster_enabled:1']],
    // Redis lists a database only when it holds keys.
    ['Keyspace', keys > 0 ? [`db0:keys=${keys},expires=${svc.sm.expiresCount},avg_ttl=0`] : []],
    ['Raft', raftLines(svc)],
  ]
}

/** INFO [section ...]: "default", "all" and "everything" mean every section; unknown ones are empty. */
export function infoText(svc: KvService, wanted: string[]): string {
  const all = wanted.length === 0 || wanted.some((w) => w === 'all' || w === 'everything' || w === 'default')
  const chosen = sections(svc).filter(([name]) => all || wanted.includes(name.toLowerCase()))
  return chosen.map(([name, lines]) => `# ${name}\r\n${lines.map((l) => `${l}\r\n`).join('')}`).join('\r\n')
}

function role(svc: KvService): Reply {
  const st = svc.node.status()
  if (st.role === 'leader') {
    const followers = [...st.conf.voters, ...st.conf.learners].filter((id) => id !== st.id)
    return arr([
      bulkStr('master'),
      int(st.commit),
      arr(
        followers.map((id) => {
          const a = svc.cfg.respAddr(id)
          return arr([bulkStr(a?.host ?? '?'), bulkStr(String(a?.port ?? 0)), bulkStr(String(st.progress.get(id)?.match ?? 0))])
        }),
      ),
    ])
  }
  const a = st.leader ? svc.cfg.respAddr(st.leader) : undefined
  return arr([bulkStr('slave'), bulkStr(a?.host ?? '?'), int(a?.port ?? 0), bulkStr(st.leader ? 'connected' : 'connect'), int(st.applied)])
}

// ---- COMMAND ---------------------------------------------------------------------------------

function keySpecs(c: Command): Reply[] {
  const [first, last, step] = c.keys
  if (first <= 0) return []
  const write = c.flags.includes('write')
  return [
    {
      k: 'map',
      v: [
        [bulkStr('flags'), { k: 'set', v: (write ? ['RW', 'update'] : ['RO', 'access']).map(status) }],
        [bulkStr('begin_search'), { k: 'map', v: [[bulkStr('type'), bulkStr('index')], [bulkStr('spec'), { k: 'map', v: [[bulkStr('index'), int(first)]] }]] }],
        [
          bulkStr('find_keys'),
          {
            k: 'map',
            v: [
              [bulkStr('type'), bulkStr('range')],
              [
                bulkStr('spec'),
                { k: 'map', v: [[bulkStr('lastkey'), int(last < 0 ? last : last - first)], [bulkStr('keystep'), int(step)], [bulkStr('limit'), int(0)]] },
              ],
            ],
          },
        ],
      ],
    },
  ]
}

export function commandInfo(c: Command): Reply {
  return arr([
    bulkStr(c.name),
    int(c.arity),
    { k: 'set', v: c.flags.map(status) },
    int(c.keys[0]),
    int(c.keys[1]),
    int(c.keys[2]),
    { k: 'set', v: c.acl.map(status) },
    { k: 'set', v: (c.tips ?? []).map(bulkStr) },
    { k: 'set', v: keySpecs(c) },
    { k: 'set', v: c.subs ? [...c.subs.values()].map(commandInfo) : [] },
  ])
}

function commandDocs(c: Command): Reply {
  const v: [Reply, Reply][] = [
    [bulkStr('summary'), bulkStr(c.summary)],
    [bulkStr('since'), bulkStr(c.since)],
    [bulkStr('group'), bulkStr(c.group)],
  ]
  const args = docArguments(c.name)
  if (args) v.push([bulkStr('arguments'), args])
  if (c.subs) v.push([bulkStr('subcommands'), { k: 'map', v: [...c.subs.values()].map((s) => [bulkStr(s.name), commandDocs(s)] as [Reply, Reply]) }])
  return { k: 'map', v }
}

/** A command by name, "container|sub" names included (as COMMAND INFO accepts them). */
function findCommand(table: CommandTable, name: string): Command | undefined {
  const [base, sub] = name.toLowerCase().split('|') as [string, string | undefined]
  const c = table.get(base)
  if (!c || c.hidden) return undefined
  if (sub === undefined) return c
  return c.subs?.get(sub)
}

function visible(table: CommandTable): Command[] {
  return [...table.values()].filter((c) => !c.hidden)
}

function getKeys(ctx: Ctx, a: Buffer[]): Reply {
  const argv = a.slice(2)
  const c = findCommand(ctx.table, opt(argv[0]!))
  if (!c) return err('ERR Invalid command specified')
  const target = c.subs && argv.length >= 2 ? (c.subs.get(opt(argv[1]!)) ?? c) : c
  if ((target.arity > 0 && argv.length !== target.arity) || argv.length < -target.arity) return err('ERR Invalid number of arguments specified for command')
  const [first, last, step] = target.keys
  if (first <= 0) return err('ERR The command has no key arguments')
  const end = last < 0 ? argv.length + last : last
  const keys: Reply[] = []
  for (let i = first; i <= end && i < argv.length; i += step) keys.push(bulk(argv[i]!))
  return arr(keys)
}

const commandSubs: Command[] = [
  cmd('command|count', m(2, 'loading stale', NONE, 'slow connection', 'server', 'Get total number of Redis commands', '2.8.13'), (c) => reply(int(visible(c.table).length))),
  cmd('command|info', m(-2, 'loading stale', NONE, 'slow connection', 'server', 'Get array of specific Redis command details, or all when no argument is given', '2.8.13', 'nondeterministic_output_order'), (c, a) =>
    reply(arr(a.length === 2 ? visible(c.table).map(commandInfo) : a.slice(2).map((n) => { const x = findCommand(c.table, text(n)); return x ? commandInfo(x) : { k: 'array', v: null } }))),
  ),
  cmd('command|docs', m(-2, 'loading stale', NONE, 'slow connection', 'server', 'Get array of specific Redis command documentation', '7.0.0', 'nondeterministic_output_order'), (c, a) => {
    const list = a.length === 2 ? visible(c.table) : a.slice(2).map((n) => findCommand(c.table, text(n))).filter((x): x is Command => !!x)
    return reply({ k: 'map', v: list.map((x) => [bulkStr(x.name), commandDocs(x)] as [Reply, Reply]) })
  }),
  cmd('command|list', m(-2, 'loading stale', NONE, 'slow connection', 'server', 'Get an array of Redis command names', '7.0.0', 'nondeterministic_output_order'), (c, a) => {
    if (a.length === 2) return reply(arr(visible(c.table).map((x) => bulkStr(x.name))))
    if (a.length === 5 && opt(a[2]!) === 'filterby' && opt(a[3]!) === 'pattern') {
      return reply(arr(visible(c.table).filter((x) => globMatch(a[4]!, Buffer.from(x.name), true)).map((x) => bulkStr(x.name))))
    }
    return reply(err(E.syntax))
  }),
  cmd('command|getkeys', m(-4, 'loading stale', NONE, 'slow connection', 'server', 'Extract keys given a full Redis command', '2.8.13'), (c, a) => reply(getKeys(c, a))),
  cmd('command|help', m(2, 'loading stale', NONE, 'slow connection', 'server', 'Show helpful text about the different subcommands', '5.0.0'), () =>
    reply(arr(['COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', '(no subcommand)', '    Return details about all Redis commands.', 'COUNT', 'INFO [<command-name> ...]', 'DOCS [<command-name> ...]', 'LIST', 'GETKEYS <full-command>', 'HELP'].map(status))),
  ),
]

/** CONFIG GET answers a few parameters clients and tools ask for; CONFIG SET changes nothing. */
const CONFIG: [string, string][] = [
  ['save', ''],
  ['appendonly', 'no'],
  ['databases', '1'],
  ['maxmemory', '0'],
  ['maxmemory-policy', 'noeviction'],
  ['proto-max-bulk-len', String(512 * 1024 * 1024)],
  ['cluster-enabled', 'yes'],
  ['timeout', '0'],
  ['tcp-keepalive', '300'],
]

const configSubs: Command[] = [
  cmd('config|get', m(-3, 'admin noscript loading stale', NONE, 'admin slow dangerous', 'server', 'Get the values of configuration parameters', '2.0.0'), (c, a) => {
    const out: [Reply, Reply][] = []
    for (const [k, v] of CONFIG) {
      if (a.slice(2).some((p) => globMatch(p, Buffer.from(k), true))) out.push([bulkStr(k), bulkStr(k === 'requirepass' ? '' : v)])
    }
    void c
    return reply({ k: 'map', v: out })
  }),
  cmd('config|set', m(-4, 'admin noscript loading stale', NONE, 'admin slow dangerous', 'server', 'Set configuration parameters to the given values', '2.0.0'), (_c, a) =>
    reply(err(`ERR Unknown option or number of arguments for CONFIG SET - '${text(a[2]!)}'`)),
  ),
  cmd('config|resetstat', m(2, 'admin noscript loading stale', NONE, 'admin slow dangerous', 'server', 'Reset the stats returned by INFO', '2.0.0'), () => reply(OK)),
]

export const serverCommands: Command[] = [
  cmd('info', m(-1, 'loading stale', NONE, 'slow dangerous', 'server', 'Get information and statistics about the server', '1.0.0', 'nondeterministic_output request_policy:all_shards response_policy:special'), (c, a) =>
    reply({ k: 'verbatim', v: infoText(c.svc, a.slice(1).map(opt)) }),
  ),
  cmd('time', m(1, 'loading stale fast', NONE, 'fast', 'server', 'Return the current server time', '2.6.0', 'nondeterministic_output'), () => {
    const us = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000))
    return reply(arr([bulkStr(String(us / 1_000_000n)), bulkStr(String(us % 1_000_000n))]))
  }),
  cmd('role', m(1, 'noscript loading stale fast', NONE, 'admin fast dangerous', 'server', 'Return the role of the instance in the context of replication', '2.8.12'), (c) => reply(role(c.svc))),
  cmd('lastsave', m(1, 'loading stale fast', NONE, 'admin fast dangerous', 'server', 'Get the UNIX time stamp of the last successful save to disk', '1.0.0', 'nondeterministic_output'), (c) =>
    reply(int(Math.floor(c.svc.startedAt / 1000))),
  ),
  {
    ...cmd('command', m(-1, 'loading stale', NONE, 'slow connection', 'server', 'Get array of Redis command details', '2.8.13', 'nondeterministic_output_order'), (c) => reply(arr(visible(c.table).map(commandInfo)))),
    subs: new Map(commandSubs.map((s) => [s.name.slice('command|'.length), s])),
  },
  {
    ...cmd('config', m(-2, '', NONE, 'slow', 'server', 'A container for server configuration commands', '2.0.0'), () => reply(err(E.arity('config')))),
    subs: new Map(configSubs.map((s) => [s.name.slice('config|'.length), s])),
  },
]
