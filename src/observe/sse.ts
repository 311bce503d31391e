// GET /rpc-log/stream: the RPC log as server-sent events. One timer serves every open stream and
// runs only while one is open, so a node nobody watches pays nothing. Each tick sends a stream
// the records written since its cursor (filtered) as one 'rpc' event; a stream that falls more
// than one tick's budget behind jumps to the newest records and is told how many it skipped
// ('gap'): a live view would rather be current than complete (GET /rpc-log has the rest).
import type { ServerResponse } from 'node:http'
import { MsgType } from '../raft/types.ts'
import type { ObserveStatus, RpcRecord } from './json.ts'
import { clockOf, matches, recordAt, selectSeqs, type RpcFilter } from './rpcquery.ts'
import { F_REJECT, Kind, type RpcLog } from './rpclog.ts'

export interface StreamOptions {
  filter: Omit<RpcFilter, 'since' | 'limit'>
  /** Start after this seq (Last-Event-ID or ?since=); null: start with the newest `backlog` records. */
  since: number | null
  backlog: number
  /** Also send a 'status' event every statusMs. */
  status: boolean
  /** At most this many records per tick (the rest is skipped, see above). */
  maxPerTick: number
}

interface Client {
  res: ServerResponse
  o: StreamOptions
  cursor: number
  lastStatus: number
  lastWrite: number
}

/**
 * Event ids are `<run>:<seq>`: `run` names this process's log (its start time), so that a browser
 * reconnecting after a restart, which sends the id it saw last, is not mistaken for one resuming.
 */
function eventId(log: RpcLog | null, seq: number): string {
  return `${runId(log)}:${seq}`
}

export function runId(log: RpcLog | null): string {
  return log ? Math.round(log.perf0 + performance.timeOrigin).toString(36) : '0'
}

/** The seq to resume after, from a Last-Event-ID header; null when it is from another run. */
export function resumeFrom(log: RpcLog | null, lastEventId: string): number | null {
  const colon = lastEventId.indexOf(':')
  if (colon < 0 || lastEventId.slice(0, colon) !== runId(log)) return null
  return Number(lastEventId.slice(colon + 1))
}

/** Seqs in (from, to] that a live view must not lose, matching the stream's filter; at most `max`. */
function notableSeqs(log: RpcLog, from: number, to: number, f: StreamOptions['filter'], max: number): number[] {
  const out: number[] = []
  for (let s = Math.max(from + 1, log.first); s <= to && out.length < max; s++) {
    const i = (s - 1) % log.size
    const kind = log.kind[i]!
    const type = log.type[i]!
    const notable =
      kind === Kind.Role ||
      kind === Kind.Conf ||
      ((kind === Kind.Send || kind === Kind.Recv) && (NOTABLE_TYPES.has(type) || (log.flags[i]! & F_REJECT) !== 0))
    if (notable && matches(log, i, f)) out.push(s)
  }
  return out
}

/** Votes, leadership transfers, snapshots. */
const NOTABLE_TYPES: ReadonlySet<number> = new Set([MsgType.Vote, MsgType.PreVote, MsgType.VoteResp, MsgType.PreVoteResp, MsgType.TimeoutNow, MsgType.Snapshot])

export class RpcStreams {
  private readonly clients = new Set<Client>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly log: RpcLog | null,
    private readonly status: () => ObserveStatus,
    private readonly tickMs = 100,
    private readonly statusMs = 250,
  ) {}

  get open(): number {
    return this.clients.size
  }

  /** Takes over `res` (already hijacked from fastify) as an event stream. */
  add(res: ServerResponse, o: StreamOptions, headers: Record<string, string>): void {
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    const log = this.log
    const fresh = log ? Math.max(0, log.total - o.backlog) : 0
    // A cursor beyond the end can only come from an earlier run of this node: start over.
    const cursor = o.since !== null && log && o.since <= log.total ? o.since : fresh
    const c: Client = { res, o, cursor, lastStatus: 0, lastWrite: Date.now() }
    this.clients.add(c)
    res.on('close', () => {
      this.clients.delete(c)
      if (this.clients.size === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = null
      }
    })
    // Reconnect soon after a node restarts (the browser's default wait is 3 s).
    res.write('retry: 1000\n\n')
    // The first event tells the client whose stream this is and how to read its clock.
    this.write(c, 'hello', JSON.stringify({ node: log?.node ?? this.status().id, clock: log ? clockOf(log) : null, size: log?.size ?? 0, total: log?.total ?? 0 }))
    this.timer ??= setInterval(() => this.tick(), this.tickMs)
    this.tick()
  }

  /** Ends every stream (server shutdown: open streams would hold the server open). */
  closeAll(): void {
    for (const c of this.clients) c.res.end()
    this.clients.clear()
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private write(c: Client, event: string, data: string, id?: number): void {
    c.res.write(`${id !== undefined ? `id: ${eventId(this.log, id)}\n` : ''}event: ${event}\ndata: ${data}\n\n`)
    c.lastWrite = Date.now()
  }

  private sendRecords(c: Client, log: RpcLog, seqs: readonly number[], lastId: number): void {
    const off = log.wallOffset()
    const recs: RpcRecord[] = []
    for (const s of seqs) {
      const r = recordAt(log, s, off)
      if (r) recs.push(r)
    }
    this.write(c, 'rpc', JSON.stringify(recs), lastId)
  }

  private tick(): void {
    const now = Date.now()
    const log = this.log
    let status: string | null = null
    for (const c of this.clients) {
      // A client that cannot keep up gets nothing until its socket drains.
      if (c.res.writableLength > 1 << 20) continue
      if (log) {
        if (c.cursor < log.first - 1) {
          this.write(c, 'gap', JSON.stringify({ lost: log.first - 1 - c.cursor, reason: 'overwritten' }))
          c.cursor = log.first - 1
        }
        const pending = log.total - c.cursor
        if (pending > c.o.maxPerTick * 4) {
          // Too far behind to send everything: skip the bulk (heartbeats, Appends, acks) but keep
          // what the event feed needs — role and membership changes, votes, rejections.
          const skipTo = log.total - c.o.maxPerTick
          const keep = notableSeqs(log, c.cursor, skipTo, c.o.filter, 200)
          this.write(c, 'gap', JSON.stringify({ lost: skipTo - c.cursor - keep.length, reason: 'rate' }))
          if (keep.length > 0) this.sendRecords(c, log, keep, keep[keep.length - 1]!)
          c.cursor = skipTo
        }
        if (log.total > c.cursor) {
          const seqs = selectSeqs(log, { ...c.o.filter, since: c.cursor, limit: c.o.maxPerTick })
          // The cursor moves past everything examined, matching or not.
          const examinedTo = seqs.length === c.o.maxPerTick ? seqs[seqs.length - 1]! : log.total
          if (seqs.length > 0) this.sendRecords(c, log, seqs, examinedTo)
          c.cursor = examinedTo
        }
      }
      if (c.o.status && now - c.lastStatus >= this.statusMs) {
        status ??= JSON.stringify(this.status())
        this.write(c, 'status', status)
        c.lastStatus = now
      }
      // A comment now and then keeps proxies and idle timeouts from closing a quiet stream.
      if (now - c.lastWrite > 15_000) {
        c.res.write(': keep-alive\n\n')
        c.lastWrite = now
      }
    }
  }
}
