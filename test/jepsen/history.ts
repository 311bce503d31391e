// The history of one run: every invocation and its completion, with monotonic timestamps
// (process.hrtime, in ms since the run began). An operation whose outcome is unknown (timeout,
// connection lost, -TIMEOUT, HTTP 504) completes as 'info': it may take effect at any later time.

export type Outcome = 'ok' | 'fail' | 'info'
export type Via = 'resp' | 'http'

/** What an operation does. Register ops carry string values; a read returns null for a missing key. */
export type OpBody =
  | { f: 'read'; value: string | null }
  | { f: 'write'; value: string }
  | { f: 'cas'; expected: string; value: string }
  | { f: 'append'; value: string }
  | { f: 'read-list'; value: string[] | null }

export interface HOp {
  id: number
  process: number
  via: Via
  node: number
  key: string
  body: OpBody
  /** Invocation time (ms since the run began). */
  call: number
  /** Completion time; Infinity while pending and for 'info' (it may still happen). */
  ret: number
  /** When the client gave up on an 'info' op (for display only; the checker uses ret = Infinity). */
  gaveUp?: number
  outcome: Outcome | 'pending'
  error?: string
}

export class History {
  readonly ops: HOp[] = []
  private readonly t0 = process.hrtime.bigint()

  now(): number {
    return Number(process.hrtime.bigint() - this.t0) / 1e6
  }

  invoke(process: number, via: Via, node: number, key: string, body: OpBody): HOp {
    const op: HOp = { id: this.ops.length, process, via, node, key, body, call: this.now(), ret: Infinity, outcome: 'pending' }
    this.ops.push(op)
    return op
  }

  /** Completes `op`; for a read the observed value replaces the placeholder in its body. */
  complete(op: HOp, outcome: Outcome, observed?: OpBody['value'], error?: string): void {
    const t = this.now()
    op.outcome = outcome
    if (outcome === 'info') op.gaveUp = t
    else op.ret = t
    if (error !== undefined) op.error = error
    if (outcome === 'ok' && observed !== undefined && (op.body.f === 'read' || op.body.f === 'read-list')) {
      ;(op.body as { value: OpBody['value'] }).value = observed
    }
  }

  /** Ops still pending when the run ended are indeterminate too. */
  closePending(): void {
    for (const op of this.ops) if (op.outcome === 'pending') this.complete(op, 'info', undefined, 'still pending at the end of the run')
  }

  counts(): { total: number; ok: number; fail: number; info: number } {
    let ok = 0
    let fail = 0
    let info = 0
    for (const o of this.ops) {
      if (o.outcome === 'ok') ok++
      else if (o.outcome === 'fail') fail++
      else info++
    }
    return { total: this.ops.length, ok, fail, info }
  }
}
