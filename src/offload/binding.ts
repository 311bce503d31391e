// What the composition root (src/node/main.ts) needs to run a node with the kernel fast path:
// choose the interface, load and attach (or learn why not) before the node starts, hand the run
// loop its hooks (none when the fast path is off: the loop then pays nothing for it), and bind
// the driver once the node exists. Until bind() the slot is unpublished, so the kernel passes
// every packet up.

import { networkInterfaces } from 'node:os'
import type { Registry } from 'prom-client'
import type { Status } from '../raft/rawnode.ts'
import type { ConfState, Message, NodeId, Ready } from '../raft/types.ts'
import { OffloadDriver, type DriverNode, type KernelRecorder, type OffloadHooks, type OffloadStatus } from './driver.ts'
import { registerOffloadMetrics } from './metrics.ts'
import { loadOffload, type OffloadHandle, type OffloadLogger, type OffloadMode } from './offload.ts'
import { DurablePublisher } from './publisher.ts'

export interface BindingConfig {
  id: NodeId
  clusterId: number
  host: string
  raftPort: number
  key: Uint8Array | null
  mode: OffloadMode
  ifname: string | null
  tickMs: number
  electionTick: number
  checkQuorum: boolean
}

/**
 * The interface that carries `host`: the one holding that address (lo for 127.0.0.1), else eth0
 * (a pod's only interface) when the host is a wildcard or a name.
 */
export function interfaceFor(host: string): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.address === host)) return name
  }
  if (host === 'localhost' || host.startsWith('127.') || host === '::1') return 'lo'
  return 'eth0'
}

/** The run loop as the binding sees it (RaftNode; structural, so offload does not import node). */
export interface BoundNode extends DriverNode {
  status(): Status
}

/** The durable log bounds (RaftStorage.bounds). */
export interface DurableBounds {
  readonly bounds: { snapshotIndex: number; snapshotTerm: number; lastIndex: number; lastTerm: number }
}

export class OffloadBinding {
  readonly hooks: OffloadHooks
  private driver: OffloadDriver | null = null
  private handle: OffloadHandle | null = null
  /** Why the fast path is off (null while it is on or not yet decided). */
  offReason: string | null = null

  constructor(private readonly cfg: BindingConfig, private readonly log: OffloadLogger) {
    this.hooks = {
      onPersisted: (rd: Ready, conf: ConfState) => this.driver?.hooks.onPersisted(rd, conf),
      onTick: (n: number) => this.driver?.hooks.onTick(n),
      onReceive: (m: Message) => this.driver?.hooks.onReceive(m),
      filterSend: (m: Message) => this.driver?.hooks.filterSend(m) ?? true,
    }
  }

  /** Loads and attaches (or records why not). Returns whether the fast path is on. */
  load(): boolean {
    const c = this.cfg
    const h = loadOffload({ mode: c.mode, ifname: c.ifname ?? interfaceFor(c.host), port: c.raftPort, log: this.log })
    if (h.mode === 'off') {
      this.offReason = h.reason
      return false
    }
    this.handle = h
    return true
  }

  /**
   * The run loop's events with the fast path's hooks added (the same object when it is off).
   * The observer's onReceive, if any, and ours both run.
   */
  nodeEvents<E extends { onReceive?: (m: Message) => void }>(events: E): E & Partial<OffloadHooks> {
    if (!this.handle) return events
    const theirs = events.onReceive
    const ours = this.hooks.onReceive
    return { ...events, ...this.hooks, onReceive: theirs ? (m: Message) => (theirs(m), ours(m)) : ours }
  }

  /**
   * Binds the driver to a node that has started but not yet run a turn of its loop (call it in
   * the same synchronous stretch as RaftNode.start's return, so its first Ready is published).
   */
  bind(node: BoundNode, storage: DurableBounds, rpcLog: KernelRecorder | null, registry: Registry | null): void {
    const c = this.cfg
    const h = this.handle
    if (!h) return
    const st = node.status()
    const b = storage.bounds
    const tickNs = BigInt(Math.round(c.tickMs * 1e6))
    const electionTimeoutNs = BigInt(c.electionTick) * tickNs
    const publisher = new DurablePublisher(
      {
        nodeId: c.id,
        clusterId: c.clusterId,
        port: c.raftPort,
        key: c.key,
        checkQuorum: c.checkQuorum,
        electionTimeoutNs,
        // One tick of timer granularity plus as much again of scheduling jitter.
        leaseMarginNs: 2n * tickNs,
        // The stamp is refreshed every tick. Half an election timeout without one and the kernel
        // stops answering: a stopped process loses the fast path while its peers still have half
        // a timeout to notice, and a merely busy one (a loaded machine, a GC pause) rarely trips
        // it — a few ticks proved too tight on a shared 2-core host.
        // (Never under two ticks: it is refreshed once per tick.)
        aliveMaxNs: maxBig(2n * tickNs, electionTimeoutNs / 2n),
      },
      {
        term: st.term,
        vote: st.vote,
        commit: Math.min(st.commit, b.lastIndex),
        lastIndex: b.lastIndex,
        lastTerm: b.lastTerm,
        conf: st.conf,
        // What a heartbeat's prev is checked against after a restart: the durable tail (an idle
        // follower's match) and the snapshot point. Newer entries arrive with each persist.
        recent: b.lastIndex > b.snapshotIndex ? [{ index: b.snapshotIndex, term: b.snapshotTerm }, { index: b.lastIndex, term: b.lastTerm }] : [{ index: b.snapshotIndex, term: b.snapshotTerm }],
        quietUntilNs: 0n,
      },
    )
    const driver = new OffloadDriver(h, publisher, { nodeId: c.id, tickMs: c.tickMs, log: this.log, rpcLog })
    driver.start(node, st.conf)
    this.driver = driver
    if (registry) registerOffloadMetrics(registry, () => this.driver?.status() ?? null)
  }

  status(): OffloadStatus | { mode: 'off'; reason: string } {
    return this.driver?.status() ?? { mode: 'off', reason: this.offReason ?? 'not started' }
  }

  close(): void {
    // The driver closes the handle it was given; a handle never bound is closed here.
    if (this.driver) this.driver.close()
    else this.handle?.close()
    this.driver = null
    this.handle = null
  }
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}
