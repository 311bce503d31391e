// Active expiry: only the leader reclaims expired keys, by proposing `{t:'expired', key, at}` ops
// (applied everywhere, so replicas stay identical; the op re-checks `at`, so a key rewritten since
// the scan is left alone). Reads already treat expired keys as missing; this only frees space and
// keeps DBSIZE honest. A cursor walks the keyspace a bounded slice per round, every ~100 ms.
import type { Logger } from 'pino'
import { encodeRequest, type WriteOp } from './request.ts'
import type { KvService } from './service.ts'

/** Records examined per round, and the most deletions one round proposes (one log entry). */
const EXAMINE_PER_ROUND = 2000
const MAX_DELETES = 500

export class ActiveExpiry {
  private timer: NodeJS.Timeout | null = null
  private cursor: Uint8Array | null = null
  private busy = false
  /** Keys reclaimed by this node's proposals (INFO expired_keys). */
  expired = 0

  constructor(
    private readonly svc: KvService,
    private readonly log: Logger,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.round(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** One round: scan a slice, propose the deletions found. Exposed for tests. */
  async round(): Promise<number> {
    // Nothing carries an expiry time: nothing to reclaim, no need to walk the keyspace.
    if (this.busy || !this.svc.isLeader() || this.svc.sm.expiresCount === 0) return 0
    this.busy = true
    try {
      // A key is reclaimed only once it has expired by the leader's clock at proposal time.
      const now = Date.now()
      const r = await this.svc.sm.scan({ ...(this.cursor ? { after: this.cursor } : {}), limit: Infinity, maxExamined: EXAMINE_PER_ROUND, now })
      this.cursor = r.done ? null : r.last
      const ops: WriteOp[] = r.expired.slice(0, MAX_DELETES).map(([key, at]) => ({ t: 'expired', key: Uint8Array.from(key), at }))
      if (r.expired.length > MAX_DELETES) this.cursor = r.expired[MAX_DELETES - 1]![0]
      if (ops.length === 0 || !this.svc.isLeader()) return 0
      const reply = await this.svc.node.propose(encodeRequest({ now, ops, multi: true }))
      const n = reply.k === 'array' && reply.v ? reply.v.filter((x) => x.k === 'int' && x.v === 1).length : 0
      this.expired += n
      return n
    } catch (e) {
      // Lost leadership or a slow commit: the next round (on whoever leads) tries again.
      this.log.debug({ err: e }, 'active expiry round did not complete')
      return 0
    } finally {
      this.busy = false
    }
  }
}
