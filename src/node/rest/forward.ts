// Writes that reach a follower: proxied to the leader (the default), or answered with a 307 to
// the leader's HTTP address when the client or the node asks for redirects.
//
// The proxy always sends an Idempotency-Key (the caller's, or one it makes up), so that its own
// retries — after a lost connection, a leader change or a timeout — are applied at most once.
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { NodeId } from '../../raft/types.ts'
import type { RaftNode } from '../raftnode.ts'
import { NO_LEADER, unknownOutcome, type HttpFailure } from './outcome.ts'

/** Marks a proxied request: its receiver answers itself and never proxies it again (no loops). */
export const FORWARDED_HEADER = 'raftkv-forwarded'
/** Request headers the leader needs to handle the write exactly as the follower received it. */
const PASS_REQUEST = ['content-type', 'if-match', 'if-none-match', 'raftkv-ttl'] as const
/** Response headers relayed back to the client. */
const PASS_RESPONSE = ['content-type', 'etag', 'raftkv-revision'] as const
/** Pause between proxy attempts: long enough for an election to make progress. */
const RETRY_MS = 25

export interface ForwardDeps {
  node: RaftNode
  /** A member's HTTP base URL (no trailing slash), or null when it cannot be derived. */
  peerHttp: (id: NodeId) => string | null
  /** The node runs in redirect mode (--redirect): 307 unless the request says ?redirect=0. */
  redirect: boolean
  requestTimeoutMs: number
}

interface ForwardableRequest {
  query: { redirect?: string }
  headers: Record<string, string | string[] | undefined>
}

export function wantsRedirect(req: ForwardableRequest, d: ForwardDeps): boolean {
  const q = req.query.redirect
  if (q === '1' || q === 'true') return true
  if (q === '0' || q === 'false') return false
  return req.headers['raftkv-redirect'] === '1' || d.redirect
}

export function isForwarded(req: ForwardableRequest): boolean {
  return req.headers[FORWARDED_HEADER] !== undefined
}

function send(reply: FastifyReply, f: HttpFailure): FastifyReply {
  return reply.code(f.code).send(f.body)
}

/** 307 to the leader, keeping the method, path, query and body (307 forbids changing them). */
export function redirectToLeader(req: FastifyRequest, reply: FastifyReply, d: ForwardDeps, leader: NodeId): FastifyReply {
  if (!leader) return send(reply, NO_LEADER)
  const base = d.peerHttp(leader)
  if (!base) return send(reply, { code: 503, body: { error: `the leader is node ${leader}; its HTTP address is unknown`, leader } })
  return reply.code(307).header('location', base + req.url).header('raftkv-leader', String(leader)).send({ leader, location: base + req.url })
}

/** A connection refused never reached the leader; any other failure might have. */
function neverSent(e: unknown): boolean {
  const cause = e instanceof Error ? (e.cause as { code?: string } | undefined) : undefined
  return cause?.code === 'ECONNREFUSED'
}

/** A leader's answer that means "nothing happened here, try the leader again". */
function retryable(status: number, body: Buffer): boolean {
  if (status !== 503) return false
  try {
    const j = JSON.parse(body.toString()) as { outcome?: string }
    return j.outcome !== 'unknown'
  } catch {
    return false
  }
}

/**
 * Proxies a write to the leader and relays its answer. Retries (same Idempotency-Key) while there
 * is time left; without an answer in the end: 504 if any attempt may have reached a leader, else
 * 503 (nothing was proposed).
 */
export async function proxyToLeader(req: FastifyRequest, reply: FastifyReply, d: ForwardDeps, body: Uint8Array | undefined): Promise<FastifyReply> {
  const deadline = Date.now() + d.requestTimeoutMs + 1000
  const idem = (req.headers['idempotency-key'] as string | undefined) ?? `proxy-${d.node.id}-${randomUUID()}`
  const headers: Record<string, string> = { 'idempotency-key': idem, [FORWARDED_HEADER]: String(d.node.id) }
  for (const h of PASS_REQUEST) {
    const v = req.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  let mayHaveReached = false
  let last: HttpFailure = NO_LEADER
  while (Date.now() < deadline) {
    const leader = d.node.status().leader
    const base = leader ? d.peerHttp(leader) : null
    if (!leader || !base) {
      if (leader) last = { code: 503, body: { error: `the leader is node ${leader}; its HTTP address is unknown`, leader } }
      await sleep(RETRY_MS)
      continue
    }
    try {
      const r = await fetch(base + req.url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(Math.max(50, deadline - Date.now())),
      })
      const payload = Buffer.from(await r.arrayBuffer())
      if (retryable(r.status, payload)) {
        last = { code: r.status, body: JSON.parse(payload.toString()) as Record<string, unknown> }
        await sleep(RETRY_MS)
        continue
      }
      for (const h of PASS_RESPONSE) {
        const v = r.headers.get(h)
        if (v !== null) void reply.header(h, v)
      }
      return reply.code(r.status).header('raftkv-leader', String(leader)).send(payload)
    } catch (e) {
      if (!neverSent(e)) mayHaveReached = true
      await sleep(RETRY_MS)
    }
  }
  return send(reply, mayHaveReached ? unknownOutcome('the leader did not answer in time') : last)
}
