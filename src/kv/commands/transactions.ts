// MULTI / EXEC / DISCARD / WATCH / UNWATCH (multi.c). Queued commands were checked for existence,
// arity and authentication when queued (a failure there dooms the transaction: EXECABORT, Redis
// 2.6.5+); other errors (syntax, not an integer …) come back inside EXEC's reply, as in Redis.
// EXEC proposes ONE request: every queued write and read is an op of the same log entry, so the
// transaction is one atomic step on every replica, and WATCH's revisions are checked in it.
import { E, OK, arr, err, type Reply } from '../reply.ts'
import type { Planned } from '../service.ts'
import type { Dispatcher } from './dispatch.ts'
import { firstKey } from './dispatch.ts'
import { cmd, later, m, reply, type Command } from './types.ts'

export function transactionCommands(d: Dispatcher): Command[] {
  return [
    cmd('multi', m(1, 'noscript loading stale fast allow_busy', [0, 0, 0], 'fast transaction', 'transactions', 'Mark the start of a transaction block', '1.2.0'), (c) => {
      if (c.c.multi) return reply(err(E.nestedMulti))
      c.c.multi = []
      c.c.multiDirty = false
      return reply(OK)
    }),

    cmd('discard', m(1, 'noscript loading stale fast allow_busy', [0, 0, 0], 'fast transaction', 'transactions', 'Discard all commands issued after MULTI', '2.0.0'), (c) => {
      if (!c.c.multi) return reply(err(E.discardNoMulti))
      c.c.multi = null
      c.c.multiDirty = false
      c.c.watches = []
      return reply(OK)
    }),

    cmd('watch', m(-2, 'noscript loading stale fast allow_busy', [1, -1, 1], 'fast transaction', 'transactions', 'Watch the given keys to determine execution of the MULTI/EXEC block', '2.2.0'), (c, a) => {
      if (c.c.multi) return reply(err(E.watchInMulti))
      // The revisions are read after a read barrier, ordered like a read on this connection (so a
      // write sent after WATCH is not seen by it). EXEC waits for them.
      let resolve!: (v: [Uint8Array, number][] | Reply) => void
      const got = new Promise<[Uint8Array, number][] | Reply>((r) => (resolve = r))
      const keys = a.slice(1).map((k) => Uint8Array.from(k))
      for (let i = 0; i < keys.length; i++) {
        c.c.watches.push(got.then((v) => ('k' in v ? v : v[i]!)))
      }
      return later(async () => {
        const failed = await c.svc.sync()
        if (failed) {
          resolve(failed)
          return failed
        }
        const now = Date.now()
        const revs: [Uint8Array, number][] = []
        for (const k of keys) revs.push([k, (await c.svc.sm.get(k, now))?.rev ?? 0])
        resolve(revs)
        return OK
      }, 'read')
    }),

    cmd('unwatch', m(1, 'noscript loading stale fast allow_busy', [0, 0, 0], 'fast transaction', 'transactions', 'Forget about all watched keys', '2.2.0'), (c) => {
      c.c.watches = []
      return reply(OK)
    }),

    cmd('exec', m(1, 'noscript loading stale skip_slowlog', [0, 0, 0], 'slow transaction', 'transactions', 'Execute all commands issued after MULTI', '1.2.0'), (c) => {
      const queued = c.c.multi
      if (!queued) return reply(err(E.execNoMulti))
      const dirty = c.c.multiDirty
      const watches = c.c.watches
      c.c.multi = null
      c.c.multiDirty = false
      c.c.watches = []
      if (dirty) return reply(err(E.execAbort))
      return later(async (): Promise<Reply> => {
        const watch: [Uint8Array, number][] = []
        for (const w of await Promise.all(watches)) {
          if ('k' in w) return w
          watch.push(w)
        }
        const now = Date.now()
        const first = d.planMany(queued, c.c, now)
        if ('reply' in first) return first.reply
        // Nothing touches data and nothing is watched: no need for the log.
        if (first.ops.length === 0 && watch.length === 0) return first.post(arr([]))
        let key: Uint8Array | null = null
        for (const argv of queued) {
          const found = d.lookup(argv)
          if (!('k' in found)) key ??= firstKey(found, argv)
        }
        return c.svc.submitWrite({
          lane: c.c.id,
          argvs: queued,
          multi: true,
          ...(watch.length > 0 ? { watch } : {}),
          now,
          plan: (t): Planned => (t === now ? first : d.planMany(queued, c.c, t)),
          key,
        })
      }, 'exclusive')
    }),
  ]
}
