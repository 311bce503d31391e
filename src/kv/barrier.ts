// Linearizable-read barriers, coalesced: every read waiting at the same time shares one
// node.linearizableRead() round (one ReadIndex, one heartbeat quorum). A read that arrives while a
// round is in flight cannot use it (the round's read index may predate writes the read must see),
// so it joins the next round, which starts as soon as the current one ends: at most two rounds are
// ever outstanding, however many reads are waiting.

export class ReadBarrier {
  private inflight = false
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null
  /** Rounds started (INFO). */
  rounds = 0

  constructor(private readonly linearizableRead: () => Promise<void>) {}

  /** Resolves once the local state reflects every write committed before this call. */
  wait(): Promise<void> {
    if (!this.next) {
      let resolve!: () => void
      let reject!: (e: unknown) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      this.next = { promise, resolve, reject }
    }
    const p = this.next.promise
    if (!this.inflight) this.start()
    return p
  }

  private start(): void {
    const round = this.next
    if (!round) return
    this.next = null
    this.inflight = true
    this.rounds++
    let p: Promise<void>
    try {
      p = this.linearizableRead()
    } catch (e) {
      p = Promise.reject(e)
    }
    p.then(round.resolve, round.reject).finally(() => {
      this.inflight = false
      if (this.next) this.start()
    })
  }
}
