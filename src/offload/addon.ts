// Finding and loading the native addon (native/raftkv_bpf.cc) and the XDP object file.
// Both are optional: every function here reports why something is unavailable instead of
// throwing, so the node can run without the fast path.

import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** An error thrown by the addon: errno, its name, and what libbpf printed (the verifier log). */
export interface BpfError extends Error {
  errno?: number
  code?: string
  libbpfLog?: string
}

export interface TestRunResult {
  /** The program's return value (XDP_ABORTED 0, DROP 1, PASS 2, TX 3, REDIRECT 4). */
  retval: number
  /** The packet after the program ran (the reply, for XDP_TX). */
  data: Buffer
  /** Average ns per run. */
  duration: number
}

export interface MapInfo {
  fd: number
  type: number
  keySize: number
  valueSize: number
  maxEntries: number
  flags: number
}

export interface RingBufHandle {
  close(): void
  /** Drains now, synchronously; returns the number of records delivered. */
  consume(): number
  /** Keep the process alive while the watcher is open (default: it does not). */
  ref(): void
  unref(): void
}

export interface BpfObject {
  load(): void
  programs(): string[]
  maps(): string[]
  mapInfo(name: string): MapInfo
  /** Attaches through a bpf_link; returns its id (detach(id), or close() detaches all). */
  attachXdp(prog: string, ifindex: number, mode: 'native' | 'generic' | 'offload' | 'default'): number
  detach(linkId: number): boolean
  mmapMap(name: string): ArrayBuffer
  mapUpdate(name: string, key: Buffer, value: Buffer, flags?: number): void
  mapLookup(name: string, key: Buffer): Buffer | null
  mapDelete(name: string, key: Buffer): boolean
  testRun(prog: string, packet: Buffer, repeat?: number): TestRunResult
  ringBuffer(name: string, cb: (records: Buffer, sizes: Uint32Array) => void): RingBufHandle
  close(): void
}

export interface BpfAddon {
  BpfObject: new (path: string) => BpfObject
  ifindex(name: string): number
  xdpQuery(ifindex: number): { progId: number; mode: 'none' | 'native' | 'generic' | 'offload' | 'multi' }
  setDebug(on: boolean): void
  libbpfVersion(): string
  numPossibleCpus(): number
}

const here = dirname(fileURLToPath(import.meta.url))

/** The repository (or installed package) root: the nearest directory above with bpf/raft_wire.h. */
function packageRoot(): string {
  let dir = here
  for (let i = 0; i < 6; i++) {
    if (existsSync(resolve(dir, 'bpf', 'raft_wire.h'))) return dir
    dir = resolve(dir, '..')
  }
  return resolve(here, '..', '..')
}

export const ROOT = packageRoot()
/** Where scripts/build-native.sh puts its artifacts (RAFTKV_BPF_ADDON / RAFTKV_BPF_OBJECT override). */
export const DEFAULT_ADDON_PATH = process.env['RAFTKV_BPF_ADDON'] ?? resolve(ROOT, 'native', 'build', 'Release', 'raftkv_bpf.node')
export const DEFAULT_OBJECT_PATH = process.env['RAFTKV_BPF_OBJECT'] ?? resolve(ROOT, 'bpf', 'build', 'raft_xdp.o')

let cached: { path: string; addon: BpfAddon } | null = null

/** Loads the addon, or returns why it cannot be loaded. */
export function loadAddon(path: string = DEFAULT_ADDON_PATH): { addon: BpfAddon } | { reason: string } {
  if (cached && cached.path === path) return { addon: cached.addon }
  if (!existsSync(path)) return { reason: `addon not built: ${path} is missing (run scripts/build-native.sh)` }
  try {
    const addon = createRequire(import.meta.url)(path) as BpfAddon
    cached = { path, addon }
    return { addon }
  } catch (e) {
    return { reason: `addon failed to load: ${(e as Error).message}` }
  }
}

/** Whether the XDP object exists; the reason if not. */
export function objectMissing(path: string = DEFAULT_OBJECT_PATH): string | null {
  return existsSync(path) ? null : `XDP object not built: ${path} is missing (run scripts/build-native.sh)`
}

/**
 * Whether this process may load BPF programs and attach XDP: root, or CAP_BPF (or
 * CAP_SYS_ADMIN) together with CAP_NET_ADMIN in the effective set. Returns the reason if not.
 */
export function missingPrivileges(): string | null {
  if (process.platform !== 'linux') return `XDP needs Linux (this is ${process.platform})`
  if (process.getuid?.() === 0) return null
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)
    if (m) {
      const eff = BigInt(`0x${m[1]}`)
      const has = (bit: number): boolean => ((eff >> BigInt(bit)) & 1n) === 1n
      const CAP_NET_ADMIN = 12
      const CAP_SYS_ADMIN = 21
      const CAP_BPF = 39
      if ((has(CAP_BPF) || has(CAP_SYS_ADMIN)) && has(CAP_NET_ADMIN)) return null
    }
  } catch {
    // fall through
  }
  return 'not root and no CAP_BPF + CAP_NET_ADMIN'
}

/** A one-line summary of an addon error, with the verifier's last lines when there are any. */
export function describeBpfError(e: unknown): string {
  const err = e as BpfError
  const first = String(err?.message ?? e).split('\n')[0]
  const log = (err?.libbpfLog ?? '').trim().split('\n').filter((l) => l.length > 0)
  const tail = log.slice(-3).join(' | ')
  return tail && !first.includes(tail) ? `${first} (${tail})` : first
}
