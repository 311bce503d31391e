// One server-sent-event stream per member (its RPC log and status), merged into the store. The
// browser's EventSource reconnects by itself and resumes after the last event id it saw.
import type { Member, NodeClock, ObserveStatus, RpcRecord } from '../../src/observe/json.ts'
import type { Store } from './store.ts'

export type StreamState = 'open' | 'connecting' | 'down'

interface Conn {
  url: string
  es: EventSource
  state: StreamState
  since: number
}

export class Streams {
  private readonly conns = new Map<number, Conn>()
  /** Browser clock vs the cluster's (ms, cluster − browser): keeps "live" aligned with the data. */
  skew = 0
  private readonly skews: number[] = []

  constructor(
    private readonly store: Store,
    private readonly onNote: (node: number, text: string, cls: 'warn' | 'ops') => void,
  ) {}

  state(node: number): StreamState {
    return this.conns.get(node)?.state ?? 'down'
  }

  /** Opens streams to new members (and reopens moved ones); keeps removed members' history. */
  sync(members: readonly Member[]): void {
    for (const m of members) {
      if (!m.url) continue
      const c = this.conns.get(m.id)
      if (c && c.url === m.url) continue
      c?.es.close()
      this.open(m.id, m.url)
    }
  }

  private open(node: number, url: string): void {
    const es = new EventSource(`${url}/rpc-log/stream?status=true&backlog=3000&max=400`)
    const c: Conn = { url, es, state: 'connecting', since: Date.now() }
    this.conns.set(node, c)
    es.addEventListener('open', () => {
      if (c.state === 'down') this.onNote(node, `S${node} is reachable again`, 'ops')
      c.state = 'open'
    })
    es.addEventListener('error', () => {
      if (c.state === 'open') this.onNote(node, `lost the stream of S${node} (down or unreachable)`, 'warn')
      c.state = 'down'
    })
    es.addEventListener('hello', (ev) => {
      const h = JSON.parse((ev as MessageEvent<string>).data) as { node: number; clock: NodeClock | null }
      if (h.clock) this.noteSkew(h.clock.wall)
    })
    es.addEventListener('rpc', (ev) => {
      this.store.add(node, JSON.parse((ev as MessageEvent<string>).data) as RpcRecord[])
    })
    es.addEventListener('status', (ev) => {
      const st = JSON.parse((ev as MessageEvent<string>).data) as ObserveStatus
      this.noteSkew(st.clock.wall)
      this.store.addStatus(node, st)
    })
    es.addEventListener('gap', (ev) => {
      const g = JSON.parse((ev as MessageEvent<string>).data) as { lost: number; reason: string }
      this.onNote(node, `S${node}: ${g.lost} messages not shown (${g.reason === 'rate' ? 'too many to draw' : 'overwritten'})`, 'warn')
    })
  }

  private noteSkew(clusterWall: number): void {
    // The event left the node a little before now: the smallest difference is the best estimate.
    this.skews.push(clusterWall - Date.now())
    if (this.skews.length > 40) this.skews.shift()
    this.skew = Math.max(...this.skews)
  }
}
