// Network namespaces for a run: one namespace per node, each with a veth whose other end is on a
// bridge in the root namespace (where the clients are). Faults are applied on the bridge, never
// inside a node's namespace: a node's XDP program sees its packets before the namespace's
// netfilter does and answers some of them itself (XDP_TX), so an input rule in the namespace would
// let kernel-answered traffic cross a partition. On the bridge every frame between two nodes —
// kernel answers included — passes the same nftables forward hook. Partitions are drop rules by
// ingress/egress port (a silent drop, like a cut cable: the sender sees no error); loss is an
// nftables random drop on frames bound for a node; delay is tc netem on the bridge-side veth's
// egress (or, on kernels without sch_netem, a tc tbf rate limit whose queue delays packets).
// Everything created here is named with the owner's pid so a later run can sweep what a killed
// run left behind.
import { execFileSync } from 'node:child_process'

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args)
    return true
  } catch {
    return false
  }
}

function has(cmd: string): boolean {
  return tryRun('sh', ['-c', `command -v ${cmd}`])
}

/** Why namespace mode cannot run here, or null when it can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  if (!has('ip')) return 'iproute2 (ip) is not installed'
  if (!has('nft')) return 'nftables (nft) is not installed (scripts/setup.sh installs it)'
  return null
}

const PREFIX = 'rkvj'

/** Deletes namespaces and bridges left by harness processes that no longer exist. */
export function sweepStale(): void {
  let names: string[] = []
  try {
    names = run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${PREFIX}-`))
  } catch {
    return
  }
  for (const n of names) {
    const pid = Number(n.split('-')[1])
    let alive = false
    try {
      process.kill(pid, 0)
      alive = true
    } catch {
      alive = false
    }
    if (!alive) {
      tryRun('ip', ['netns', 'del', n])
      tryRun('ip', ['link', 'del', `${PREFIX}${n.split('-')[2]}br`])
      tryRun('nft', ['delete', 'table', 'bridge', tableName(pid, n.split('-')[2]!)])
    }
  }
}

/** The bridge-family nftables table of the lab `tag` owned by process `pid`. */
function tableName(pid: number, tag: string): string {
  return `${PREFIX}_${pid}_${tag}`
}

export interface NetemSpec {
  delayMs: number
  lossPct: number
}

export class NetnsLab {
  readonly tag: string
  readonly subnet: string
  private readonly bridge: string
  private readonly table: string
  private created = false
  private readonly namespaces: string[] = []
  /** Which tool gave the last netem fault (for the schedule). */
  netemHow = ''

  /**
   * `xdpPassAll`: a BPF object whose `xdp` section passes everything, attached in native mode to
   * the bridge side of every node's veth. A veth delivers a native-XDP_TX frame (the fast path's
   * kernel answers: pre-vote grants, heartbeat acks) to its peer only through the peer's own XDP
   * receive path, which exists only while the peer runs an XDP program; without one every such
   * answer is silently dropped (test/offload/fixtures/netns.ts does the same).
   */
  constructor(
    readonly ids: number[],
    tag: string,
    private readonly xdpPassAll: string | null = null,
  ) {
    this.tag = tag
    this.bridge = `${PREFIX}${tag}br`
    this.table = tableName(process.pid, tag)
    this.subnet = NetnsLab.pickSubnet()
  }

  /** A 10.200.x.0/24 no route in the root namespace uses yet. */
  private static pickSubnet(): string {
    const routes = run('ip', ['-4', 'route', 'show'])
    for (let i = 0; i < 200; i++) {
      const x = 10 + Math.floor(Math.random() * 240)
      const s = `10.201.${x}`
      if (!routes.includes(`${s}.`)) return s
    }
    throw new Error('no free 10.201.x.0/24 subnet')
  }

  ns(id: number): string {
    return `${PREFIX}-${process.pid}-${this.tag}-n${id}`
  }

  ip(id: number): string {
    return `${this.subnet}.${id}`
  }

  /** The bridge side (root namespace) of node `id`'s veth. */
  hostIf(id: number): string {
    return `${PREFIX}${this.tag}v${id}`
  }

  setup(): void {
    this.created = true
    // Three chains: partitions and loss are set and cleared independently; loss also applies to
    // what the host (the clients) sends to a node, which leaves through the bridge's output hook.
    run('nft', ['add', 'table', 'bridge', this.table])
    run('nft', ['add', 'chain', 'bridge', this.table, 'part', '{ type filter hook forward priority 0; }'])
    run('nft', ['add', 'chain', 'bridge', this.table, 'loss', '{ type filter hook forward priority 10; }'])
    run('nft', ['add', 'chain', 'bridge', this.table, 'lossout', '{ type filter hook output priority 10; }'])
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge'])
    run('ip', ['addr', 'add', `${this.subnet}.254/24`, 'dev', this.bridge])
    run('ip', ['link', 'set', this.bridge, 'up'])
    for (const id of this.ids) {
      const ns = this.ns(id)
      const host = this.hostIf(id)
      const peer = `${PREFIX}${this.tag}p${id}`
      run('ip', ['netns', 'add', ns])
      this.namespaces.push(ns)
      run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer])
      run('ip', ['link', 'set', peer, 'netns', ns])
      run('ip', ['link', 'set', host, 'master', this.bridge, 'up'])
      if (this.xdpPassAll) run('ip', ['link', 'set', 'dev', host, 'xdpdrv', 'obj', this.xdpPassAll, 'sec', 'xdp'])
      run('ip', ['-n', ns, 'link', 'set', peer, 'name', 'eth0'])
      run('ip', ['-n', ns, 'addr', 'add', `${this.ip(id)}/24`, 'dev', 'eth0'])
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    }
  }

  private nft(chain: string, rule: string[]): void {
    run('nft', ['add', 'rule', 'bridge', this.table, chain, ...rule])
  }

  /** The command prefix that runs a program inside node `id`'s namespace. */
  execPrefix(id: number): string[] {
    return ['ip', 'netns', 'exec', this.ns(id)]
  }

  /**
   * Cuts every pair of nodes that share no group (a node may be in two groups: a bridge).
   * Nodes in no group are cut from everyone.
   */
  partition(groups: number[][]): void {
    this.healPartition()
    for (const a of this.ids) {
      const cut = this.ids.filter((b) => b !== a && !groups.some((g) => g.includes(a) && g.includes(b)))
      // What b sends to a is dropped where it would leave the bridge towards a.
      for (const b of cut) this.nft('part', ['iifname', this.hostIf(b), 'oifname', this.hostIf(a), 'drop'])
    }
  }

  /** Drops what node `from` sends to node `to` (one way: `to` still reaches `from`); healPartition() ends it. */
  cut(from: number, to: number): void {
    this.nft('part', ['iifname', this.hostIf(from), 'oifname', this.hostIf(to), 'drop'])
  }

  healPartition(): void {
    run('nft', ['flush', 'chain', 'bridge', this.table, 'part'])
  }

  /**
   * Loss and delay on the given nodes' links, on what is bound for them (the egress of the
   * bridge-side veth: the node's own XDP_TX answers cannot skip it, as they would skip a qdisc
   * on the node's eth0).
   */
  netem(ids: number[], spec: NetemSpec): void {
    this.healNetem()
    const how: string[] = []
    for (const id of ids) {
      const dev = this.hostIf(id)
      if (tryRun('tc', ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', `${spec.delayMs}ms`, `${Math.ceil(spec.delayMs / 2)}ms`, 'loss', `${spec.lossPct}%`])) {
        how.push('netem')
        continue
      }
      // No sch_netem in this kernel: a slow link (its queue delays packets) plus random drops.
      run('tc', ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '2mbit', 'burst', '16kb', 'latency', `${Math.max(20, spec.delayMs * 4)}ms`])
      if (spec.lossPct > 0) {
        const drop = ['oifname', dev, ...(spec.lossPct < 100 ? ['numgen', 'random', 'mod', '100', '<', String(Math.ceil(spec.lossPct))] : []), 'drop']
        this.nft('loss', drop)
        this.nft('lossout', drop)
      }
      how.push('tbf+nft-loss')
    }
    this.netemHow = [...new Set(how)].join(',')
  }

  healNetem(): void {
    for (const id of this.ids) tryRun('tc', ['qdisc', 'del', 'dev', this.hostIf(id), 'root'])
    run('nft', ['flush', 'chain', 'bridge', this.table, 'loss'])
    run('nft', ['flush', 'chain', 'bridge', this.table, 'lossout'])
  }

  /** Removes everything this lab created; safe to call twice and after a partial setup. */
  cleanup(): void {
    if (!this.created) return
    this.created = false
    for (const ns of this.namespaces) tryRun('ip', ['netns', 'del', ns])
    for (const id of this.ids) tryRun('ip', ['link', 'del', this.hostIf(id)])
    tryRun('ip', ['link', 'del', this.bridge])
    tryRun('nft', ['delete', 'table', 'bridge', this.table])
  }
}
