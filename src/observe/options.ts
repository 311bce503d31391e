// The observability options of a node process. They are taken off the command line before the
// node's own parser sees it (cli.ts), so the node options stay in one place and these in another.
import type { NodeId } from '../raft/types.ts'
import type { PeerAddress } from '../transport/transport.ts'
import { DEFAULT_RPC_LOG_SIZE } from './rpclog.ts'
import { takeFlags } from '../flags.ts'

export interface ObserveOptions {
  /** Capacity of the RPC log ring; 0 turns the log (and its hooks) off. */
  rpcLogSize: number
  /**
   * How to reach a member's HTTP API (for traces and the visualizer): `{id}`, `{ordinal}` and
   * `{http}` (= httpPortBase + id) are replaced, e.g. `raftkv-{ordinal}.raftkv:{http}`. Null: the
   * member's Raft host with port httpPortBase + id.
   */
  httpTemplate: string | null
  /** Base of members' HTTP ports; null: derived from this node's (--http-port − id). */
  httpPortBase: number | null
  /** The `raftkv local` supervisor's control URL, set by the supervisor in the environment. */
  localControl: string | null
}

export const OBSERVE_FLAGS = ['rpc-log-size', 'http-template', 'http-port-base'] as const

export class ObserveUsageError extends Error {}

function int(name: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new ObserveUsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return n
}

/** Removes the observability flags from `argv` (both `--flag v` and `--flag=v`), returning the rest. */
export function splitObserveArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { rest: string[]; observe: ObserveOptions } {
  const { found, rest } = takeFlags(argv, OBSERVE_FLAGS, [], (m) => new ObserveUsageError(m))
  const size = found.get('rpc-log-size') ?? env['RAFTKV_RPC_LOG_SIZE']
  const base = found.get('http-port-base') ?? env['RAFTKV_HTTP_PORT_BASE']
  return {
    rest,
    observe: {
      rpcLogSize: size === undefined ? DEFAULT_RPC_LOG_SIZE : int('rpc-log-size', size, 0, 10_000_000),
      httpTemplate: found.get('http-template') ?? env['RAFTKV_HTTP_TEMPLATE'] ?? null,
      httpPortBase: base === undefined ? null : int('http-port-base', base, 0, 65000),
      localControl: env['RAFTKV_LOCAL_CONTROL'] ?? null,
    },
  }
}

export function defaultObserveOptions(env: NodeJS.ProcessEnv = process.env): ObserveOptions {
  return splitObserveArgs([], env).observe
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/**
 * Where member `id`'s HTTP API is: the template, or its Raft host and port base + id. The base
 * defaults to this node's own port minus its id, which is how `raftkv local` and the default
 * ports (8079 + id) lay them out.
 */
export function peerHttpResolver(o: ObserveOptions, self: { id: NodeId; host: string; httpPort: number }, raftAddr: (id: NodeId) => PeerAddress | undefined): (id: NodeId) => string | null {
  const base = o.httpPortBase ?? (self.httpPort > 0 ? self.httpPort - self.id : null)
  return (id) => {
    if (o.httpTemplate) {
      const s = o.httpTemplate
        .replaceAll('{id}', String(id))
        .replaceAll('{ordinal}', String(id - 1))
        .replaceAll('{http}', String((base ?? 8079) + id))
      return s.includes('://') ? s : `http://${s}`
    }
    if (base === null) return null
    const host = id === self.id ? self.host : raftAddr(id)?.host
    return host ? `http://${urlHost(host === '0.0.0.0' ? '127.0.0.1' : host)}:${base + id}` : null
  }
}
