// Prometheus counters of the kernel fast path, read at scrape time from the kernel half of the
// node's slot (the program's own per-type, per-verdict counters): nothing on the hot path.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { OffloadStatus } from './driver.ts'

/**
 * Registers raftkv_offload_* on `registry`. The kernel's counters only grow while the program is
 * loaded, so each scrape sets the counters to the kernel's values (reset + inc) rather than
 * accumulating deltas.
 */
export function registerOffloadMetrics(registry: Registry, read: () => OffloadStatus | null): void {
  const registers = [registry]
  const answered = new Counter<'type'>({ name: 'raftkv_offload_answered_total', help: 'Control messages the kernel fast path answered itself (a reply sent from XDP), by message type.', labelNames: ['type'], registers, collect: () => sync() })
  const consumed = new Counter<'type'>({ name: 'raftkv_offload_consumed_total', help: 'Control messages the kernel fast path absorbed (acks and votes counted in the shared state), by message type.', labelNames: ['type'], registers, collect: () => sync() })
  const passed = new Counter<'type'>({ name: 'raftkv_offload_passed_total', help: 'Control messages the kernel fast path passed up to user space, by message type.', labelNames: ['type'], registers, collect: () => sync() })
  const passedBy = new Counter<'reason'>({ name: 'raftkv_offload_pass_reasons_total', help: 'Control messages passed up to user space, by reason.', labelNames: ['reason'], registers, collect: () => sync() })
  const lost = new Gauge({ name: 'raftkv_offload_events_lost', help: 'Kernel records dropped because the ring buffer was full.', registers, collect: () => sync() })
  const on = new Gauge<'mode'>({ name: 'raftkv_offload_attached', help: 'Whether the kernel fast path is attached (1), by XDP mode.', labelNames: ['mode'], registers, collect: () => sync() })
  let syncing = false
  // One read of the slot updates every series; each collect() calls it, and the repeats within a
  // scrape set the same values again.
  const sync = (): void => {
    if (syncing) return
    syncing = true
    try {
      const s = read()
      for (const c of [answered, consumed, passed, passedBy]) c.reset()
      on.reset()
      if (!s) {
        lost.set(0)
        return
      }
      on.set({ mode: s.mode }, 1)
      for (const [type, row] of Object.entries(s.byType)) {
        answered.inc({ type }, row.answered)
        consumed.inc({ type }, row.consumed)
        passed.inc({ type }, row.passed)
      }
      for (const [reason, n] of Object.entries(s.passedBy)) passedBy.inc({ reason }, n)
      lost.set(s.eventsLost)
    } finally {
      syncing = false
    }
  }
}
