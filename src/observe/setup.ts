// What main.ts needs to wire observability into a node process, kept here so that its hook there
// stays two lines.
import type { NodeConfig } from '../node/options.ts'
import type { NodeId } from '../raft/types.ts'
import type { PeerAddress } from '../transport/transport.ts'
import { Observer } from './observer.ts'
import { peerHttpResolver, type ObserveOptions } from './options.ts'
import type { ScaleProgress } from './json.ts'
import type { ObservePluginOptions } from './routes.ts'
import type { StatusSource } from './status.ts'

/** The RPC log with its run-loop hooks, or null when it is off (--rpc-log-size 0). */
export function createObserver(id: NodeId, o: ObserveOptions): Observer | null {
  return o.rpcLogSize > 0 ? new Observer(id, o.rpcLogSize) : null
}

/** The options of the observe plugin for a started node; `scale` feeds the resize progress to the visualizer. */
export function observePluginOptions(cfg: NodeConfig, o: ObserveOptions, observer: Observer | null, node: StatusSource, raftAddr: (id: NodeId) => PeerAddress | undefined, scale?: () => ScaleProgress | null): ObservePluginOptions {
  observer?.attach(() => node.status())
  return {
    node,
    observer,
    peerHttp: peerHttpResolver(o, { id: cfg.id, host: cfg.host, httpPort: cfg.httpPort }, raftAddr),
    electionMs: cfg.electionMs,
    heartbeatMs: cfg.heartbeatMs,
    localControl: o.localControl,
    ...(scale ? { scale } : {}),
  }
}
