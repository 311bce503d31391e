// Command-line options of one node, with their defaults (DESIGN §7: node i listens on RESP 6378+i,
// HTTP 8079+i, Raft UDP+TCP 7000+i).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { NodeId } from '../raft/types.ts'
import type { PeerAddress } from '../transport/transport.ts'

export interface NodeConfig {
  id: NodeId
  dataDir: string
  host: string
  raftPort: number
  httpPort: number
  /** Known peers (the initial members, and anyone else listed). */
  peers: Map<NodeId, PeerAddress>
  /** How to reach members not listed (added later): `{id}`, `{ordinal}` and `{port}` are replaced. */
  peerTemplate: string | null
  /** The base of `{port}` in the template: port = raftPortBase + id. */
  raftPortBase: number
  initialMembers: NodeId[]
  join: boolean
  clusterId: number
  secret: string | null
  tickMs: number
  heartbeatMs: number
  electionMs: number
  snapshotEntries: number
  /** Also snapshot once the entries applied since the last snapshot hold this many bytes. */
  snapshotBytes: number
  requestTimeoutMs: number
  logLevel: string
  /** The RESP (Redis protocol) port; default 6378 + id. */
  respPort: number
  /** Whether --resp-port was given: a busy default port is only a warning, a chosen one is fatal. */
  respPortExplicit: boolean
  /** The base of `{resp}` in the RESP template: a member's RESP port = respPortBase + id. */
  respPortBase: number
  /**
   * How clients reach a member over RESP (MOVED, CLUSTER SLOTS, the write proxy): `{resp}`, `{id}`
   * and `{ordinal}` are replaced. Null: the member's Raft host and port respPortBase + id.
   */
  respTemplate: string | null
  /** Clients must AUTH with this password (Redis's requirepass). */
  requirepass: string | null
  /** Followers answer writes with -MOVED to the leader instead of proxying them. */
  redirect: boolean
  /** The kernel fast path (DESIGN §5): auto picks native or generic XDP, or falls back to off. */
  offload: 'auto' | 'native' | 'generic' | 'off'
  /** The interface to attach it to; null: the one holding --host (lo for loopback). */
  offloadIfname: string | null
  /**
   * How a linearizable read is confirmed: 'safe' by a heartbeat round to a quorum (ReadIndex),
   * 'lease' from the leader's lease alone (no round; relies on bounded clock drift — DESIGN §2).
   */
  readMode: 'safe' | 'lease'
}

export class UsageError extends Error {}

function int(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return n
}

export function parseAddress(s: string): PeerAddress {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s.trim())
  if (!m) throw new UsageError(`bad address ${JSON.stringify(s)} (want host:port)`)
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw new UsageError(`bad port in ${JSON.stringify(s)}`)
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

/** "1=127.0.0.1:7001,2=127.0.0.1:7002" → map. */
export function parsePeers(s: string): Map<NodeId, PeerAddress> {
  const out = new Map<NodeId, PeerAddress>()
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq < 0) throw new UsageError(`bad peer ${JSON.stringify(part)} (want id=host:port)`)
    const id = Number(part.slice(0, eq))
    if (!Number.isInteger(id) || id < 1 || id > 65535) throw new UsageError(`bad peer id in ${JSON.stringify(part)}`)
    out.set(id, parseAddress(part.slice(eq + 1)))
  }
  return out
}

export function resolveTemplate(template: string, id: NodeId, portBase: number): PeerAddress {
  const s = template
    .replaceAll('{id}', String(id))
    .replaceAll('{ordinal}', String(id - 1))
    .replaceAll('{port}', String(portBase + id))
  return parseAddress(s)
}

/** A member's RESP address from the template: `{resp}` = portBase + id, `{id}`, `{ordinal}` = id - 1. */
export function resolveRespTemplate(template: string, id: NodeId, portBase: number): PeerAddress {
  const s = template
    .replaceAll('{id}', String(id))
    .replaceAll('{ordinal}', String(id - 1))
    .replaceAll('{resp}', String(portBase + id))
  return parseAddress(s)
}

/** One of `allowed`, `def` when absent; anything else is a usage error naming the choices. */
function choice<T extends string>(flag: string, v: string | undefined, allowed: readonly T[], def: T): T {
  const m = v ?? def
  if ((allowed as readonly string[]).includes(m)) return m as T
  const list = `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]!}`
  throw new UsageError(`--${flag} must be ${list}, got ${JSON.stringify(v)}`)
}

export function parseNodeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      id: { type: 'string' },
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      'raft-port': { type: 'string' },
      'http-port': { type: 'string' },
      peers: { type: 'string' },
      'peer-template': { type: 'string' },
      'raft-port-base': { type: 'string' },
      'initial-members': { type: 'string' },
      join: { type: 'boolean' },
      'cluster-id': { type: 'string' },
      'cluster-secret': { type: 'string' },
      'cluster-secret-file': { type: 'string' },
      'tick-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'election-ms': { type: 'string' },
      'snapshot-entries': { type: 'string' },
      'snapshot-bytes': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'log-level': { type: 'string' },
      'resp-port': { type: 'string' },
      'resp-port-base': { type: 'string' },
      'resp-template': { type: 'string' },
      requirepass: { type: 'string' },
      'requirepass-file': { type: 'string' },
      redirect: { type: 'boolean' },
      offload: { type: 'string' },
      'offload-ifname': { type: 'string' },
      'read-mode': { type: 'string' },
    },
  })
  const id = int('id', values.id ?? env.RAFTKV_ID, 0, 1, 65535)
  if (id === 0) throw new UsageError('--id is required')
  const peers = values.peers ? parsePeers(values.peers) : new Map<NodeId, PeerAddress>()
  const raftPortBase = int('raft-port-base', values['raft-port-base'], 7000, 0, 65000)
  const own = peers.get(id)
  const raftPort = int('raft-port', values['raft-port'], own?.port ?? raftPortBase + id, 1, 65535)
  const host = values.host ?? own?.host ?? '127.0.0.1'
  let initialMembers = [...peers.keys()]
  if (values['initial-members']) {
    initialMembers = values['initial-members'].split(',').map((x) => int('initial-members', x.trim(), 0, 1, 65535))
  }
  if (initialMembers.length === 0) initialMembers = [id]
  let secret: string | null = values['cluster-secret'] ?? env.RAFTKV_CLUSTER_SECRET ?? null
  const secretFile = values['cluster-secret-file'] ?? env.RAFTKV_CLUSTER_SECRET_FILE
  if (!secret && secretFile) secret = readFileSync(secretFile, 'utf8').trim()
  if (secret === '') secret = null
  const tickMs = int('tick-ms', values['tick-ms'], 10, 1, 1000)
  // Without a base, an explicit --resp-port implies the layout of the other members (port − id),
  // as --http-port does for HTTP: a follower proxying writes must find the leader's RESP port,
  // and the default base would point it at ports no member listens on.
  const explicitResp = values['resp-port'] !== undefined ? int('resp-port', values['resp-port'], 0, 0, 65535) : null
  const respPortBase = int('resp-port-base', values['resp-port-base'] ?? env.RAFTKV_RESP_PORT_BASE, explicitResp !== null && explicitResp > id ? explicitResp - id : 6378, 0, 65000)
  const respTemplate = values['resp-template'] ?? env.RAFTKV_RESP_TEMPLATE ?? null
  if (respTemplate !== null) resolveRespTemplate(respTemplate, id, respPortBase) // fail fast on a bad template
  let requirepass: string | null = values.requirepass ?? env.RAFTKV_REQUIREPASS ?? null
  const passFile = values['requirepass-file'] ?? env.RAFTKV_REQUIREPASS_FILE
  if (requirepass === null && passFile) requirepass = readFileSync(passFile, 'utf8').trim()
  if (requirepass === '') requirepass = null
  return {
    id,
    dataDir: values['data-dir'] ?? `./data/node${id}`,
    host,
    raftPort,
    httpPort: int('http-port', values['http-port'], 8079 + id, 0, 65535),
    peers,
    peerTemplate: values['peer-template'] ?? env.RAFTKV_PEER_TEMPLATE ?? null,
    raftPortBase,
    initialMembers,
    join: values.join ?? false,
    clusterId: int('cluster-id', values['cluster-id'] ?? env.RAFTKV_CLUSTER_ID, 1, 0, 0xffffffff),
    secret,
    tickMs,
    heartbeatMs: int('heartbeat-ms', values['heartbeat-ms'], 20, tickMs, 10_000),
    electionMs: int('election-ms', values['election-ms'], 150, 2 * tickMs, 60_000),
    snapshotEntries: int('snapshot-entries', values['snapshot-entries'], 20_000, 10, 1e9),
    snapshotBytes: int('snapshot-bytes', values['snapshot-bytes'], 8 << 20, 1024, 2 ** 40),
    requestTimeoutMs: int('request-timeout-ms', values['request-timeout-ms'], 5000, 10, 600_000),
    logLevel: values['log-level'] ?? env.RAFTKV_LOG_LEVEL ?? 'info',
    respPort: int('resp-port', values['resp-port'], respPortBase + id, 0, 65535),
    respPortExplicit: values['resp-port'] !== undefined,
    respPortBase,
    respTemplate,
    requirepass,
    redirect: values.redirect ?? false,
    // Off unless asked for: one XDP program per interface, so on a shared loopback only the first
    // process of a local cluster could attach, and the others would run a different path silently.
    offload: choice('offload', values.offload ?? env.RAFTKV_OFFLOAD, ['auto', 'native', 'generic', 'off'] as const, 'off'),
    offloadIfname: values['offload-ifname'] ?? env.RAFTKV_OFFLOAD_IFNAME ?? null,
    readMode: choice('read-mode', values['read-mode'] ?? env.RAFTKV_READ_MODE, ['safe', 'lease'] as const, 'safe'),
  }
}
