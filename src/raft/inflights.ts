/**
 * The Appends in flight to one follower: a ring of (last index, bytes) per message, so the leader
 * stops sending when the window is full in count or bytes, and frees slots as acks arrive.
 */
export class Inflights {
  private readonly idx: Float64Array
  private readonly size: Float64Array
  private start = 0
  count = 0
  bytes = 0

  constructor(
    readonly capacity: number,
    readonly maxBytes: number,
  ) {
    this.idx = new Float64Array(capacity)
    this.size = new Float64Array(capacity)
  }

  add(lastIndex: number, bytes: number): void {
    if (this.count === this.capacity) throw new Error('raft: inflights overflow')
    const slot = (this.start + this.count) % this.capacity
    this.idx[slot] = lastIndex
    this.size[slot] = bytes
    this.count++
    this.bytes += bytes
  }

  /** Frees every message whose last index is ≤ index (they were acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.idx[this.start]! <= index) {
      this.bytes -= this.size[this.start]!
      this.start = (this.start + 1) % this.capacity
      this.count--
    }
  }

  /** Frees the oldest slot: lets one more Append out when acks may have been lost. */
  freeFirst(): void {
    if (this.count === 0) return
    this.freeLE(this.idx[this.start]!)
  }

  full(): boolean {
    return this.count === this.capacity || (this.maxBytes > 0 && this.bytes >= this.maxBytes)
  }

  reset(): void {
    this.start = 0
    this.count = 0
    this.bytes = 0
  }
}
