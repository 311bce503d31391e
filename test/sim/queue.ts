// The simulation's event queue: a binary min-heap ordered by (virtual time, insertion sequence).
// The sequence number breaks ties deterministically, so equal-time events run in schedule order.

export interface SimEvent {
  time: number
  seq: number
  run: () => void
}

export class EventQueue {
  private heap: SimEvent[] = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  push(time: number, run: () => void): void {
    const ev: SimEvent = { time, seq: this.seq++, run }
    const h = this.heap
    h.push(ev)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(ev, h[p]!)) break
      h[i] = h[p]!
      i = p
    }
    h[i] = ev
  }

  /** The time of the next event, or Infinity when empty. */
  peekTime(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.time
  }

  pop(): SimEvent | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      const n = h.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && less(h[r]!, h[l]!) ? r : l
        if (!less(h[c]!, last)) break
        h[i] = h[c]!
        i = c
      }
      h[i] = last
    }
    return top
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}
