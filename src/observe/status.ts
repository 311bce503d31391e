// A node's state as the visualizer draws it (GET /observe/status, SSE 'status' events), and the
// member list with the URLs other members and browsers reach them at.
import type { Status } from '../raft/rawnode.ts'
import type { NodeId } from '../raft/types.ts'
import type { MembersInfo, ObserveStatus, PeerProgress, ScaleProgress } from './json.ts'
import type { Observer } from './observer.ts'
import { clockOf } from './rpcquery.ts'

export interface StatusSource {
  status(): Status
}

/** `scale`: the cluster-resize progress (cluster/setup.ts), when the node runs a scaler. */
export function observeStatus(st: Status, obs: Observer | null, electionMs: number, heartbeatMs: number, scale?: () => ScaleProgress | null): ObserveStatus {
  const progress: PeerProgress[] = []
  for (const [id, p] of st.progress) {
    progress.push({ id, match: p.match, next: p.next, state: p.state, recentActive: p.recentActive, learner: p.learner, inflight: p.inflight })
  }
  const now = performance.now()
  const resize = scale?.() ?? null
  return {
    id: st.id,
    role: st.role,
    term: st.term,
    vote: st.vote,
    leader: st.leader,
    firstIndex: st.firstIndex,
    lastIndex: st.lastIndex,
    lastTerm: st.lastTerm,
    stableIndex: st.stableIndex,
    commit: st.commit,
    applied: st.applied,
    voters: [...st.conf.voters],
    learners: [...st.conf.learners],
    progress,
    electionElapsedMs: obs ? Math.round(obs.electionElapsedMs()) : 0,
    electionTimeoutMs: electionMs,
    heartbeatMs,
    clock: obs ? clockOf(obs.log) : { node: st.id, mono: Math.round(now * 1e6), wall: Date.now() },
    rpcLog: { size: obs?.log.size ?? 0, total: obs?.log.total ?? 0 },
    ...(resize ? { scale: resize } : {}),
  }
}

export function membersOf(st: Status, self: NodeId, url: (id: NodeId) => string | null, localControl: string | null): MembersInfo {
  const ids = new Set<NodeId>([...st.conf.voters, ...st.conf.learners, self])
  return {
    self,
    members: [...ids].sort((a, b) => a - b).map((id) => ({ id, url: url(id), self: id === self, voter: st.conf.voters.includes(id) })),
    localControl,
  }
}
