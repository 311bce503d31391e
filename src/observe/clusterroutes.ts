// Cluster-wide views and actions for the visualizer, answered by whichever member it asks: the
// member list, every member's status, clock offsets between members, and a write that finds the
// leader (so the page needs no CORS preflight and no knowledge of who leads).
import type { FastifyInstance } from 'fastify'
import { estimateOffsets, pairSamples } from './clock.ts'
import { getJson, recentMessages } from './fanout.ts'
import { REQUEST_HEADER } from './httphooks.ts'
import type { MembersInfo, ObserveStatus, RpcRecord } from './json.ts'
import { queryPage } from './rpcquery.ts'
import { Kind, type RpcLog } from './rpclog.ts'

export interface ClusterDeps {
  self: number
  log: RpcLog | null
  members: () => MembersInfo
  status: () => ObserveStatus
}

export interface MemberStatus {
  id: number
  url: string | null
  ok: boolean
  status: ObserveStatus | null
  error?: string
}

export interface WriteResult {
  ok: boolean
  /** HTTP status of the member that answered last. */
  status: number
  node: number
  /** The request id to trace (x-raftkv-request), when the write reached a node. */
  request: string | null
  body: unknown
}

export function registerClusterRoutes(app: FastifyInstance, d: ClusterDeps): void {
  const noInput = { querystring: { type: 'object', properties: {} } }

  app.get('/cluster/members', { schema: noInput }, async () => d.members())

  app.get('/cluster/status', { schema: noInput }, async () => {
    const ms = d.members().members
    const out: MemberStatus[] = await Promise.all(
      ms.map(async (m): Promise<MemberStatus> => {
        if (m.self) return { id: m.id, url: m.url, ok: true, status: d.status() }
        if (!m.url) return { id: m.id, url: null, ok: false, status: null, error: 'address unknown' }
        try {
          return { id: m.id, url: m.url, ok: true, status: await getJson<ObserveStatus>(`${m.url}/observe/status`, 1000) }
        } catch (e) {
          return { id: m.id, url: m.url, ok: false, status: null, error: (e as Error).message }
        }
      }),
    )
    return { members: out }
  })

  app.get('/cluster/offsets', { schema: noInput }, async () => {
    const info = d.members()
    const log = d.log
    const pages = await recentMessages(d.self, info.members, () => (log ? queryPage(log, { limit: 600, kinds: new Set([Kind.Send, Kind.Recv]) }) : null), 600)
    const records: RpcRecord[] = []
    const answered: number[] = []
    for (const [id, p] of pages) {
      if (!p) continue
      answered.push(id)
      records.push(...p.records)
    }
    return { reference: d.self, offsets: estimateOffsets(d.self, answered, pairSamples(records)) }
  })

  app.post<{ Params: { key: string }; Body: string | Buffer | undefined }>(
    '/cluster/kv/:key',
    { schema: { params: { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 4096 } } } } },
    async (req) => {
      const body = req.body === undefined ? '' : req.body
      const urls = new Map(d.members().members.map((m) => [m.id, m.url]))
      let target = d.status().leader || d.self
      let last: WriteResult = { ok: false, status: 0, node: target, request: null, body: 'no member reachable' }
      // Follow "not leader" answers a few times: an election may be under way.
      for (let attempt = 0; attempt < 4; attempt++) {
        const url = urls.get(target)
        if (!url) break
        try {
          const r = await fetch(`${url}/kv/${encodeURIComponent(req.params.key)}`, {
            method: 'PUT',
            body: typeof body === 'string' ? body : new Uint8Array(body),
            headers: { 'content-type': 'application/octet-stream' },
            signal: AbortSignal.timeout(6000),
          })
          const text = await r.text()
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {
            // A non-JSON body is passed on as text.
          }
          last = { ok: r.ok, status: r.status, node: target, request: r.headers.get(REQUEST_HEADER), body: parsed }
          const leader = (parsed as { leader?: number } | null)?.leader
          if (r.status === 503 && typeof leader === 'number' && leader > 0 && leader !== target) {
            target = leader
            continue
          }
          break
        } catch (e) {
          last = { ok: false, status: 0, node: target, request: null, body: (e as Error).message }
          break
        }
      }
      return last
    },
  )
}
