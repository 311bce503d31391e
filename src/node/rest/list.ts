// GET /kv: live keys in key order, optionally under a prefix, a page at a time. The cursor is the
// last key examined (base64url), so paging resumes exactly after it whatever was written between
// pages; it is opaque to clients.
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import type { KvMachine } from '../../kv/machine.ts'
import type { RaftNode } from '../raftnode.ts'
import { confirmRead } from '../confirm-read.ts'
import { readFailure } from './outcome.ts'
import { consistencyProp, DEFAULT_LIST_LIMIT, listItem, MAX_KEY_LENGTH, MAX_LIST_LIMIT, readErrors } from './schemas.ts'

const enc = new TextEncoder()
/**
 * Records one page may look at, live or expired: expired keys the leader has not reclaimed yet are
 * skipped, and this bounds the work one request can cause (the cursor then resumes after them).
 */
const MAX_EXAMINED_PER_ITEM = 10

export interface ListDeps {
  node: RaftNode
  sm: KvMachine
  requestTimeoutMs: number
}

interface ListQuery {
  prefix: string
  limit: number
  cursor?: string
  consistency: 'linearizable' | 'stale'
}

interface Item {
  key: string
  keyEncoding?: 'base64'
  value: string
  encoding?: 'base64'
  rev: number
  ttlMs: number | null
}

function text(b: Uint8Array): { s: string; base64: boolean } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  return isUtf8(buf) ? { s: buf.toString('utf8'), base64: false } : { s: buf.toString('base64'), base64: true }
}

export function listRoutes(app: FastifyInstance, d: ListDeps): void {
  app.get<{ Querystring: ListQuery }>(
    '/kv',
    {
      schema: {
        summary: 'List keys',
        description: 'Live keys in order, under `prefix`, `limit` per page; pass the returned `cursor` to get the next page (null: no more).',
        tags: ['kv'],
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string', maxLength: MAX_KEY_LENGTH, default: '' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT },
            cursor: { type: 'string', maxLength: 2 * MAX_KEY_LENGTH, pattern: '^[A-Za-z0-9_-]*$', description: 'From the previous page.' },
            consistency: consistencyProp,
          },
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'One page.',
            type: 'object',
            required: ['items', 'cursor'],
            properties: { items: { type: 'array', items: listItem }, cursor: { type: ['string', 'null'] } },
          },
          ...readErrors,
        },
      },
    },
    async (req, reply) => {
      const q = req.query
      try {
        if (q.consistency !== 'stale') await confirmRead(() => d.node.linearizableRead(), d.requestTimeoutMs)
        const now = Date.now()
        const after = q.cursor ? Buffer.from(q.cursor, 'base64url') : undefined
        const page = await d.sm.scan({
          ...(after && after.length > 0 ? { after: new Uint8Array(after) } : {}),
          prefix: enc.encode(q.prefix),
          limit: q.limit,
          now,
          maxExamined: q.limit * MAX_EXAMINED_PER_ITEM,
        })
        const items = page.keys.map(([k, r]): Item => {
          const key = text(k)
          const value = text(r.value)
          return {
            key: key.s,
            ...(key.base64 ? { keyEncoding: 'base64' as const } : {}),
            value: value.s,
            ...(value.base64 ? { encoding: 'base64' as const } : {}),
            rev: r.rev,
            ttlMs: r.expireAt === 0 ? null : Math.max(0, r.expireAt - now),
          }
        })
        const cursor = page.done || page.last === null ? null : Buffer.from(page.last).toString('base64url')
        return { items, cursor }
      } catch (e) {
        const f = readFailure(e)
        return reply.code(f.code).send(f.body)
      }
    },
  )
}
