// SCAN cursors. Redis cursors are unsigned 64-bit decimal numbers, and clients rely on that:
// redis-cli parses them with strtoull, node-redis 4 with Number(). Our scan resumes after a key,
// which does not fit in a number, so a cursor is a number naming a remembered key, in a bounded
// table per node (the oldest are forgotten; an unknown cursor is "ERR invalid cursor").

const MAX_CURSORS = 100_000

export class CursorTable {
  private readonly m = new Map<string, Uint8Array>()
  // Start high and random-ish so cursors of different nodes and restarts rarely collide.
  private nextId = 1 + Math.floor(Math.random() * 1e9) * 1000

  /** A new cursor resuming after `key`. */
  issue(key: Uint8Array): string {
    const id = String(this.nextId++)
    this.m.set(id, Uint8Array.from(key))
    if (this.m.size > MAX_CURSORS) this.m.delete(this.m.keys().next().value as string)
    return id
  }

  /** The key a cursor resumes after: null for "0" (the start), undefined if unknown. */
  resolve(cursor: string): Uint8Array | null | undefined {
    if (cursor === '0') return null
    return this.m.get(cursor)
  }
}
