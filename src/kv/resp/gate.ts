// Per-connection ordering of asynchronous commands. Redis runs a connection's commands one after
// another; we run them concurrently where that cannot be observed and in order where it can:
// consecutive reads run together, consecutive writes run together (they are proposed in order,
// so the log keeps their order), but a read waits for the writes before it to finish (it must see
// them) and a write waits for the reads before it (they must not see it). 'exclusive' work (EXEC,
// which waits for its WATCH reads before proposing) runs alone.
import type { Order } from '../commands/types.ts'

export class Gate {
  private running = 0
  private kind: Order | null = null
  private readonly queue: { kind: Order; start: () => void }[] = []

  run<T>(kind: Order, fn: () => Promise<T>): Promise<T> {
    if (this.queue.length === 0 && (this.running === 0 || (this.kind === kind && kind !== 'exclusive'))) return this.exec(kind, fn)
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind, start: () => void this.exec(kind, fn).then(resolve, reject) })
    })
  }

  /** Work not yet started or finished (for CLIENT LIST and backpressure). */
  get size(): number {
    return this.running + this.queue.length
  }

  private exec<T>(kind: Order, fn: () => Promise<T>): Promise<T> {
    this.running++
    this.kind = kind
    let p: Promise<T>
    try {
      p = fn()
    } catch (e) {
      p = Promise.reject(e)
    }
    return p.finally(() => {
      this.running--
      if (this.running === 0) this.drain()
    })
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!
      if (this.running > 0 && (this.kind !== head.kind || head.kind === 'exclusive')) return
      this.queue.shift()
      head.start()
      if (head.kind === 'exclusive') return
    }
  }
}
