// Cluster operations over HTTP (DESIGN §6–7): the seed's names (/scale-cluster,
// /get-raft-instances, /delete-pod) and cleaner REST names beside them (/cluster/scale,
// /cluster/instances, /cluster/pods/:name). Requests that need the leader's view are proxied to it
// from any node, like /kv writes (src/node/rest/forward.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { NodeId } from '../raft/types.ts'
import type { RaftNode } from '../node/raftnode.ts'
import { isForwarded, proxyToLeader, type ForwardDeps } from '../node/rest/forward.ts'
import { OrchestratorError, type Orchestrator } from './orchestrator.ts'
import { MAX_REPLICAS, MIN_REPLICAS } from './record.ts'
import type { Scaler } from './scaler.ts'

export interface ClusterRouteDeps {
  node: RaftNode
  scaler: Scaler
  orchestrator: Orchestrator | null
  peerHttp: (id: NodeId) => string | null
  requestTimeoutMs: number
}

const scaleBody = {
  type: 'object',
  required: ['replicas'],
  additionalProperties: false,
  properties: {
    replicas: { type: 'integer', minimum: MIN_REPLICAS, maximum: MAX_REPLICAS, description: 'The wanted number of voting members.' },
    force: { type: 'boolean', default: false, description: 'Replace the target of an operation in progress (e.g. one waiting for a member that never starts).' },
  },
} as const

const podBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' } },
} as const

const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const
const anyObject = { type: 'object', additionalProperties: true } as const

export async function clusterRoutes(app: FastifyInstance, d: ClusterRouteDeps): Promise<void> {
  const fwd: ForwardDeps = { node: d.node, peerHttp: d.peerHttp, redirect: false, requestTimeoutMs: d.requestTimeoutMs }

  /** Runs `here` on the leader; elsewhere proxies the request to it (once: no proxy loops). */
  const onLeader = async (req: FastifyRequest, reply: FastifyReply, here: () => Promise<FastifyReply>): Promise<FastifyReply> => {
    if (d.node.status().role === 'leader' || isForwarded({ query: {}, headers: req.headers })) return here()
    const body = req.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(req.body))
    return proxyToLeader(req, reply, fwd, body)
  }

  const scale = async (req: FastifyRequest<{ Body: { replicas: number; force: boolean } }>, reply: FastifyReply): Promise<FastifyReply> =>
    onLeader(req, reply, async () => {
      try {
        const a = await d.scaler.requestScale(req.body.replicas, req.body.force)
        return reply.code(a.code).send(a.body)
      } catch (e) {
        // The orchestrator could not be asked (API server or supervisor down): nothing changed.
        if (e instanceof OrchestratorError) return reply.code(503).send({ error: e.message })
        throw e
      }
    })
  const scaleSchema = {
    summary: 'Resize the cluster to `replicas` voting members, one member at a time',
    description: `Accepted (202) once the target is committed to the Raft log; progress at GET /cluster/scale. 409 while another change is in progress (unless force), 503 while a member is unhealthy, 400 unless ${MIN_REPLICAS} ≤ replicas ≤ ${MAX_REPLICAS}.`,
    tags: ['cluster'],
    body: scaleBody,
    response: { 200: anyObject, 202: anyObject, 409: anyObject, 501: anyObject, 503: anyObject },
  }
  app.post('/scale-cluster', { schema: scaleSchema }, scale)
  app.post('/cluster/scale', { schema: scaleSchema }, scale)

  app.get('/cluster/scale', { schema: { summary: 'The scale target and the progress toward it (leader view)', tags: ['cluster'], querystring: noQuery, response: { 200: anyObject } } }, (req, reply) =>
    onLeader(req, reply, async () => reply.send({ node: d.node.id, leader: d.node.status().leader, ...d.scaler.status() })),
  )

  const members = (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    onLeader(req, reply, async () => {
      const st = d.node.status()
      return reply.send({ leader: st.leader, term: st.term, commit: st.commit, ...d.scaler.status(), members: d.scaler.members() })
    })
  const membersSchema = { summary: 'Members and pods: roles, addresses, health, match index (leader view)', tags: ['cluster'], querystring: noQuery, response: { 200: anyObject } }
  app.get('/get-raft-instances', { schema: membersSchema }, members)
  // (/cluster/members is the visualizer's member list, src/observe/clusterroutes.ts.)
  app.get('/cluster/instances', { schema: membersSchema }, members)

  // preStop (k8s/statefulset.yaml): a leader about to stop hands over first, so the cluster does
  // not wait out an election timeout. Not a removal: the member stays in the configuration.
  app.post(
    '/cluster/leadership/transfer',
    { schema: { summary: 'If this node leads, hand leadership to the most up-to-date healthy voter', tags: ['cluster'], querystring: noQuery, response: { 200: anyObject, 409: anyObject } } },
    async (_req, reply) => {
      const st = d.node.status()
      if (st.role !== 'leader') return reply.send({ transferred: false, reason: 'not the leader', leader: st.leader })
      let to = 0
      let best = -1
      for (const id of st.conf.voters) {
        const p = st.progress.get(id)
        if (id !== st.id && p?.recentActive && p.match > best) {
          to = id
          best = p.match
        }
      }
      if (!to || !d.node.transferLeadership(to)) return reply.code(409).send({ transferred: false, reason: 'no voter can take over now' })
      const deadline = Date.now() + 5000
      while (Date.now() < deadline && d.node.status().role === 'leader') await new Promise((r) => setTimeout(r, 20))
      const done = d.node.status().role !== 'leader'
      return reply.send({ transferred: done, to, leader: d.node.status().leader })
    },
  )

  const deletePod = async (name: string, reply: FastifyReply): Promise<FastifyReply> => {
    const o = d.orchestrator
    if (!o) return reply.code(501).send({ error: 'no orchestrator: run the nodes under `raftkv local` or on Kubernetes' })
    const id = o.idOfPod(name)
    if (id === null) return reply.code(404).send({ error: `${name} is not a pod of this cluster` })
    try {
      await o.deletePod(name)
    } catch (e) {
      if (e instanceof OrchestratorError) return reply.code(e.status === 404 ? 404 : 502).send({ error: e.message })
      throw e
    }
    return reply.code(202).send({ deleted: name, id })
  }
  const podSchema = { tags: ['cluster'], response: { 202: anyObject, 404: anyObject, 501: anyObject, 502: anyObject } }
  app.post<{ Body: { name: string } }>(
    '/delete-pod',
    { schema: { ...podSchema, summary: 'Delete a pod (local: kill the process and start it again) to watch a re-election', body: podBody } },
    (req, reply) => deletePod(req.body.name, reply),
  )
  app.delete<{ Params: { name: string } }>(
    '/cluster/pods/:name',
    { schema: { ...podSchema, summary: 'Delete a pod (same as POST /delete-pod)', params: podBody } },
    (req, reply) => deletePod(req.params.name, reply),
  )
}
