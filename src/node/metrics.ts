// Prometheus metrics of one node, named like etcd's (etcd_server_* → raftkv_server_* …) so etcd
// dashboards and alerts carry over. Everything except the fsync histogram is read from the node's
// status and counters in collect() callbacks at scrape time: nothing is computed on the hot path.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client'
import type { Status } from '../raft/rawnode.ts'
import type { TransportCounters } from '../transport/net-transport.ts'

/** What the metrics read at scrape time. */
export interface MetricSources {
  status(): Status
  counters(): { proposalsFailed: number; leaderChanges: number }
  transport(): TransportCounters
}

/**
 * A Counter mirroring a monotonically growing number kept elsewhere: each scrape adds the growth
 * since the last one (prom-client counters can only be incremented).
 */
class MirroredCounter<L extends string> {
  private readonly last = new Map<string, number>()
  constructor(readonly counter: Counter<L>) {}

  sync(value: number, labels?: Record<L, string>): void {
    const id = labels ? JSON.stringify(labels) : ''
    const prev = this.last.get(id) ?? 0
    // A counter that went down (a restarted source) starts over from its new value.
    const delta = value >= prev ? value - prev : value
    this.last.set(id, value)
    if (labels) this.counter.inc(labels, delta)
    else this.counter.inc(delta)
  }
}

export class NodeMetrics {
  readonly registry = new Registry()
  private src: MetricSources | null = null
  private readonly fsync: Histogram
  private readonly leaderChanges: MirroredCounter<string>
  private readonly failed: MirroredCounter<string>
  private readonly dropped: MirroredCounter<'reason'>
  private readonly sent: MirroredCounter<'transport'>
  private readonly received: MirroredCounter<'transport'>
  private readonly connects: MirroredCounter<string>

  constructor() {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'raftkv_' })
    // etcd's buckets for the WAL fsync: 1 ms … ~8 s.
    this.fsync = new Histogram({ name: 'raftkv_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by the Raft log.', buckets: exponentialBuckets(0.001, 2, 14), registers })
    const gauge = (name: string, help: string, read: (st: Status) => number): void => {
      const self = this
      new Gauge({
        name,
        help,
        registers,
        collect() {
          if (self.src) this.set(read(self.src.status()))
        },
      })
    }
    gauge('raftkv_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', (st) => (st.leader !== 0 ? 1 : 0))
    gauge('raftkv_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', (st) => (st.role === 'leader' ? 1 : 0))
    // Like etcd, "committed/applied total" are the commit and applied indexes of the log.
    gauge('raftkv_server_proposals_committed_total', 'The total number of consensus proposals committed.', (st) => st.commit)
    gauge('raftkv_server_proposals_applied_total', 'The total number of consensus proposals applied.', (st) => st.applied)
    // Entries this leader appended that are not committed yet (0 on followers, which propose nothing).
    gauge('raftkv_server_proposals_pending', 'The current number of pending proposals to commit.', (st) => (st.role === 'leader' ? Math.max(0, st.lastIndex - st.commit) : 0))
    gauge('raftkv_server_term', 'The current Raft term of this member.', (st) => st.term)
    gauge('raftkv_server_commit_index', 'The commit index this member knows.', (st) => st.commit)
    gauge('raftkv_server_applied_index', 'The index this member has applied.', (st) => st.applied)

    // Every counter's collect() brings all of them up to date; repeating that within one scrape
    // adds nothing (the mirrors only add growth), and it keeps each counter right on its own too.
    const collect = (): void => this.syncCounters()
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): MirroredCounter<L> =>
      new MirroredCounter(new Counter<L>({ name, help, labelNames, registers, collect }))
    this.leaderChanges = counter('raftkv_server_leader_changes_seen_total', 'The number of leader changes seen.')
    this.failed = counter('raftkv_server_proposals_failed_total', 'The total number of failed proposals seen.')
    this.dropped = counter('raftkv_network_dropped_total', 'Raft messages dropped or refused by the transport, by reason.', ['reason'])
    this.sent = counter('raftkv_network_sent_total', 'Raft messages sent, by transport (udp, tcp).', ['transport'])
    this.received = counter('raftkv_network_received_total', 'Raft messages received, by transport (udp, tcp).', ['transport'])
    this.connects = counter('raftkv_network_tcp_connects_total', 'Outbound TCP connections made to peers.')
  }

  private syncCounters(): void {
    const s = this.src
    if (!s) return
    const c = s.counters()
    this.leaderChanges.sync(c.leaderChanges)
    this.failed.sync(c.proposalsFailed)
    const t = s.transport()
    for (const [reason, n] of Object.entries(t.wire)) this.dropped.sync(n, { reason: `wire_${reason}` })
    this.dropped.sync(t.misaddressed, { reason: 'misaddressed' })
    this.dropped.sync(t.tcpBadFrames, { reason: 'tcp_bad_frame' })
    this.dropped.sync(t.tcpBadHello, { reason: 'tcp_bad_hello' })
    this.dropped.sync(t.tcpDroppedBackpressure, { reason: 'tcp_backpressure' })
    this.sent.sync(t.udpSent, { transport: 'udp' })
    this.sent.sync(t.tcpFramesSent, { transport: 'tcp' })
    this.received.sync(t.udpReceived, { transport: 'udp' })
    this.received.sync(t.tcpFramesReceived, { transport: 'tcp' })
    this.connects.sync(t.tcpConnects)
  }

  /** Connects the sources once the node exists (the storage, opened first, already reports fsyncs). */
  attach(src: MetricSources): this {
    this.src = src
    return this
  }

  /** RaftStorage's onSyncWrite: one fsync'd log write took `ms`. */
  observeFsync(ms: number): void {
    this.fsync.observe(ms / 1000)
  }

  async text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
