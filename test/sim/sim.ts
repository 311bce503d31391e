// The simulation context shared by every component: virtual time, the event queue, the trace and
// the run digest. Nothing here knows about Raft.
import { mix } from './hash.ts'
import { EventQueue } from './queue.ts'

export class Sim {
  now = 0
  events = 0
  /** A running hash of the executed schedule; equal seeds must give equal digests. */
  digest = 0x2545f491
  private readonly queue = new EventQueue()
  /** Non-null only when tracing; call sites test `sim.tracing` before building a line. */
  private readonly sink: ((line: string) => void) | null
  readonly tracing: boolean

  constructor(sink: ((line: string) => void) | null) {
    this.sink = sink
    this.tracing = sink !== null
  }

  /** Runs `fn` `delay` time units from now (delay ≥ 0). */
  after(delay: number, fn: () => void): void {
    this.queue.push(this.now + delay, fn)
  }

  /** Runs events until `stop()` says so, the queue empties, or time passes `until`. */
  run(until: number, stop: () => boolean): void {
    while (!stop()) {
      if (this.queue.peekTime() > until) {
        // Leave it queued: a later phase continues from here.
        this.now = until
        return
      }
      const ev = this.queue.pop()!
      this.now = ev.time
      this.events++
      this.digest = mix(this.digest, ev.time)
      ev.run()
    }
  }

  trace(line: string): void {
    if (this.sink !== null) this.sink(`${this.now.toFixed(1).padStart(9)} ${line}`)
  }
}
