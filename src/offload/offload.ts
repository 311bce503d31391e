// Loading the kernel fast path and the handle the run loop drives.
//
// `openFastPath()` loads bpf/build/raft_xdp.o through the addon, maps the shared state and
// claims a slot for a UDP port — without attaching anything (what the BPF_PROG_RUN tests use).
// `loadOffload()` does that and attaches the program to an interface, choosing native or
// generic XDP; when anything is missing (privileges, addon, object, driver support) it returns
// { mode: 'off', reason } instead, and the node runs as before: every packet reaches user space.

import {
  DEFAULT_ADDON_PATH,
  DEFAULT_OBJECT_PATH,
  describeBpfError,
  loadAddon,
  missingPrivileges,
  objectMissing,
  type BpfAddon,
  type BpfObject,
  type RingBufHandle,
  type TestRunResult,
} from './addon.ts'
import { decodeEvents, type KernelEvent } from './events.ts'
import { GLOBAL_STAT_COUNT, STATE_LAYOUT, SharedState, type KernelState, type PublishedState } from './state.ts'

export const PROG_NAME = 'raft_xdp'
export const MAP_STATE = 'raft_state'
export const MAP_PORTS = 'raft_ports'
export const MAP_GSTATS = 'raft_gstats'
export const MAP_EVENTS = 'raft_events'

export type OffloadMode = 'auto' | 'native' | 'generic' | 'off'

/** Minimal logger (pino's shape). */
export interface OffloadLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface FastPathOptions {
  /** This node's UDP port: packets to it are judged against the slot's state. */
  port: number
  /** The slot to use (default 0; local mode gives each node its own). */
  slot?: number
  objectPath?: string
  addonPath?: string
}

export interface OffloadOptions extends FastPathOptions {
  mode: OffloadMode
  /** The interface to attach to (lo in local mode, eth0 in a pod). */
  ifname: string
  log?: OffloadLogger
}

/** A loaded (not necessarily attached) program with one claimed slot. */
export class FastPath {
  readonly state: SharedState
  readonly port: number
  private rings: RingBufHandle[] = []
  private closed = false

  private constructor(
    readonly addon: BpfAddon,
    readonly obj: BpfObject,
    readonly stateBuffer: ArrayBuffer,
    slot: number,
    port: number,
  ) {
    this.state = new SharedState(stateBuffer, slot)
    this.port = port
  }

  /** Loads the object and claims `slot` for `port`. Throws (a BpfError) on failure. */
  static open(opts: FastPathOptions): FastPath {
    const slot = opts.slot ?? 0
    if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 0xffff) throw new RangeError(`offload: bad port ${opts.port}`)
    if (!Number.isInteger(slot) || slot < 0 || slot >= STATE_LAYOUT.slots) throw new RangeError(`offload: slot must be in [0, ${STATE_LAYOUT.slots})`)
    const a = loadAddon(opts.addonPath ?? DEFAULT_ADDON_PATH)
    if ('reason' in a) throw new Error(a.reason)
    const missing = objectMissing(opts.objectPath ?? DEFAULT_OBJECT_PATH)
    if (missing) throw new Error(missing)
    const obj = new a.addon.BpfObject(opts.objectPath ?? DEFAULT_OBJECT_PATH)
    try {
      obj.load()
      const buf = obj.mmapMap(MAP_STATE)
      const fp = new FastPath(a.addon, obj, buf, slot, opts.port)
      // A fresh slot: zero it before the port makes it reachable; nothing is answered
      // until the first publish() sets magic, role and the enabled flag.
      fp.state.reset()
      fp.mapPort(opts.port, slot)
      return fp
    } catch (e) {
      obj.close()
      throw e
    }
  }

  /** Routes packets to `port` to `slot` (local mode: one slot per node port). */
  mapPort(port: number, slot: number): void {
    const k = Buffer.alloc(2)
    k.writeUInt16LE(port)
    const v = Buffer.alloc(4)
    v.writeUInt32LE(slot)
    this.obj.mapUpdate(MAP_PORTS, k, v)
  }

  unmapPort(port: number): void {
    const k = Buffer.alloc(2)
    k.writeUInt16LE(port)
    this.obj.mapDelete(MAP_PORTS, k)
  }

  /** Another slot's view of the same shared map (local mode, tests). */
  slotState(slot: number): SharedState {
    return new SharedState(this.stateBuffer, slot)
  }

  publish(s: PublishedState): void {
    this.state.publish(s)
  }

  touch(nowNs?: bigint): void {
    this.state.touch(nowNs)
  }

  readKernel(): KernelState {
    return this.state.readKernel()
  }

  /** Per-CPU global counters summed: [not UDP/ours, UDP to a port without slot, no map value]. */
  globalStats(): number[] {
    const out: number[] = []
    for (let i = 0; i < GLOBAL_STAT_COUNT; i++) {
      const k = Buffer.alloc(4)
      k.writeUInt32LE(i)
      const v = this.obj.mapLookup(MAP_GSTATS, k)
      let sum = 0n
      if (v) for (let off = 0; off + 8 <= v.length; off += 8) sum += v.readBigUInt64LE(off)
      out.push(Number(sum))
    }
    return out
  }

  /** Runs the program on one packet (BPF_PROG_RUN). */
  testRun(packet: Buffer, repeat = 1): TestRunResult {
    return this.obj.testRun(PROG_NAME, packet, repeat)
  }

  /**
   * Delivers kernel events in batches from the libuv loop. The watcher does not keep the
   * process alive. Returns a function that stops it; close() stops all.
   */
  onEvents(cb: (events: KernelEvent[]) => void): { stop: () => void; drain: () => number } {
    const rb = this.obj.ringBuffer(MAP_EVENTS, (records, sizes) => {
      const evs = decodeEvents(records, sizes)
      if (evs.length > 0) cb(evs)
    })
    this.rings.push(rb)
    return {
      stop: () => {
        rb.close()
        this.rings = this.rings.filter((r) => r !== rb)
      },
      drain: () => rb.consume(),
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const r of this.rings) r.close()
    this.rings = []
    try {
      this.unmapPort(this.port)
    } catch {
      // the object is going away anyway
    }
    this.obj.close()
  }
}

/** The fast path is attached: publish durable state, keep the stamp fresh, read what the kernel did. */
export class OffloadHandle {
  readonly mode: 'native' | 'generic'
  readonly ifname: string
  readonly ifindex: number
  private linkId: number
  private closed = false

  constructor(readonly fastPath: FastPath, mode: 'native' | 'generic', ifname: string, ifindex: number, linkId: number) {
    this.mode = mode
    this.ifname = ifname
    this.ifindex = ifindex
    this.linkId = linkId
  }

  get state(): SharedState {
    return this.fastPath.state
  }

  /** Seqlocked write of the durable state (after the fsync, before sending its messages). */
  publish(s: PublishedState): void {
    this.fastPath.publish(s)
  }

  /** The liveness stamp: call at least every aliveMaxNs / 2 (e.g. every tick). */
  touch(nowNs?: bigint): void {
    this.fastPath.touch(nowNs)
  }

  readKernel(): KernelState {
    return this.fastPath.readKernel()
  }

  onEvents(cb: (events: KernelEvent[]) => void): { stop: () => void; drain: () => number } {
    return this.fastPath.onEvents(cb)
  }

  /** Detaches the program and releases the maps. The bpf_link also goes if the process dies. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.fastPath.obj.detach(this.linkId)
    this.fastPath.close()
  }
}

export interface OffloadOff {
  mode: 'off'
  reason: string
}

/**
 * Loads the fast path and attaches it to `ifname`. 'auto' tries native XDP, then generic, and
 * logs why it fell back; 'native' / 'generic' try only that; 'off' does nothing. Never throws
 * for environmental reasons: the answer is then { mode: 'off', reason }.
 */
export function loadOffload(opts: OffloadOptions): OffloadHandle | OffloadOff {
  const log = opts.log
  const off = (reason: string): OffloadOff => {
    log?.warn({ reason }, 'kernel fast path off')
    return { mode: 'off', reason }
  }
  if (opts.mode === 'off') return { mode: 'off', reason: 'disabled by configuration' }
  const priv = missingPrivileges()
  if (priv) return off(priv)
  const a = loadAddon(opts.addonPath ?? DEFAULT_ADDON_PATH)
  if ('reason' in a) return off(a.reason)
  const missing = objectMissing(opts.objectPath ?? DEFAULT_OBJECT_PATH)
  if (missing) return off(missing)
  let ifindex: number
  try {
    ifindex = a.addon.ifindex(opts.ifname)
  } catch (e) {
    return off(`no interface ${opts.ifname}: ${describeBpfError(e)}`)
  }
  let fp: FastPath
  try {
    fp = FastPath.open(opts)
  } catch (e) {
    return off(`load failed: ${describeBpfError(e)}`)
  }
  const modes: ('native' | 'generic')[] = opts.mode === 'auto' ? ['native', 'generic'] : [opts.mode]
  const why: string[] = []
  for (const mode of modes) {
    try {
      const link = fp.obj.attachXdp(PROG_NAME, ifindex, mode)
      log?.info({ ifname: opts.ifname, mode, port: opts.port, slot: fp.state.slot, fallback: why }, 'kernel fast path attached')
      return new OffloadHandle(fp, mode, opts.ifname, ifindex, link)
    } catch (e) {
      const reason = `${mode}: ${describeBpfError(e)}`
      why.push(reason)
      if (modes.length > 1) log?.info({ ifname: opts.ifname, reason }, 'XDP attach mode unavailable')
    }
  }
  fp.close()
  return off(`attach to ${opts.ifname} failed (${why.join('; ')})`)
}
