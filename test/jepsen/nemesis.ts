// The faults a run injects. Each injection returns what it did (for the schedule) and how to
// heal it; a nemesis that cannot run here says why instead (never silently skipped).
import { sleep } from '../cluster/fixtures/helpers.ts'
import type { JCluster } from './cluster.ts'
import type { NetnsLab } from './netns.ts'
import type { Rng } from './rng.ts'

export const NEMESES = ['kill', 'pause', 'partition', 'netem', 'scale', 'failpoint', 'clock'] as const
export type NemesisKind = (typeof NEMESES)[number]

export interface Fault {
  desc: string
  heal(): Promise<string>
}

export interface NemesisEnv {
  c: JCluster
  lab: NetnsLab | null
  rng: Rng
}

export type Injection = { fault: Fault } | { skipped: string }

/** Whether a nemesis can run in this setting at all (null = yes). */
export function unavailable(kind: NemesisKind, lab: NetnsLab | null, why: { netns: string | null; scale: string | null }): string | null {
  if ((kind === 'partition' || kind === 'netem') && !lab) return `needs network namespaces: ${why.netns ?? 'not in namespace mode'}`
  if (kind === 'scale') return why.scale
  return null
}

/** Probes POST /scale-cluster on a node: null when the route exists, else why not. */
export async function scaleUnavailable(c: JCluster): Promise<string | null> {
  for (const id of c.alive()) {
    try {
      // An empty body: a route that exists rejects it (400) without changing anything.
      const r = await fetch(`${c.url(id)}/scale-cluster`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(1000) })
      await r.arrayBuffer()
      if (r.status === 404) return 'not available: POST /scale-cluster answers 404 in this build'
      return null
    } catch {
      continue
    }
  }
  return 'not available: no node answered the probe'
}

async function target(env: NemesisEnv, mode: 'leader' | 'follower' | 'random'): Promise<number | null> {
  const alive = env.c.alive().filter((id) => !env.c.paused.has(id))
  if (alive.length === 0) return null
  if (mode === 'random') return env.rng.pick(alive)
  const leader = await env.c.findLeader()
  if (mode === 'leader') return leader || null
  const followers = alive.filter((id) => id !== leader)
  return followers.length ? env.rng.pick(followers) : null
}

const modes = ['leader', 'follower', 'random'] as const

async function kill(env: NemesisEnv): Promise<Injection> {
  const mode = env.rng.pick(modes)
  const id = await target(env, mode)
  if (id === null) return { skipped: `kill ${mode}: no such node now` }
  await env.c.kill(id)
  return {
    fault: {
      desc: `kill -9 node ${id} (${mode})`,
      heal: async () => {
        env.c.spawn(id)
        return `restarted node ${id}`
      },
    },
  }
}

async function pause(env: NemesisEnv): Promise<Injection> {
  const mode = env.rng.pick(modes)
  const id = await target(env, mode)
  if (id === null) return { skipped: `pause ${mode}: no such node now` }
  env.c.pause(id)
  return {
    fault: {
      desc: `SIGSTOP node ${id} (${mode})`,
      heal: async () => {
        env.c.resume(id)
        return `SIGCONT node ${id}`
      },
    },
  }
}

async function partition(env: NemesisEnv, lab: NetnsLab): Promise<Injection> {
  const ids = env.rng.shuffle(env.c.members())
  const shape = env.rng.pick(['majority-minority', 'isolate-leader', 'bridge'] as const)
  let groups: number[][]
  if (shape === 'isolate-leader') {
    const l = (await env.c.findLeader()) || ids[0]!
    groups = [[l], ids.filter((x) => x !== l)]
  } else if (shape === 'bridge') {
    // One node sees both halves; the halves do not see each other (Jepsen's "bridge").
    const half = Math.floor(ids.length / 2)
    groups = [ids.slice(0, half + 1), ids.slice(half)]
  } else {
    const half = Math.floor(ids.length / 2)
    groups = [ids.slice(0, half), ids.slice(half)]
  }
  lab.partition(groups)
  return {
    fault: {
      desc: `partition ${shape} ${groups.map((g) => `{${g.join(',')}}`).join(' ')}`,
      heal: async () => {
        lab.healPartition()
        return 'partition healed'
      },
    },
  }
}

async function netem(env: NemesisEnv, lab: NetnsLab): Promise<Injection> {
  const ids = env.rng.chance(0.5) ? env.c.members() : [env.rng.pick(env.c.members())]
  const spec = { delayMs: env.rng.int(10, 80), lossPct: env.rng.int(2, 20) }
  lab.netem(ids, spec)
  return {
    fault: {
      desc: `netem on ${ids.join(',')}: delay ${spec.delayMs} ms, loss ${spec.lossPct}% (${lab.netemHow})`,
      heal: async () => {
        lab.healNetem()
        return 'netem cleared'
      },
    },
  }
}

async function failpoint(env: NemesisEnv): Promise<Injection> {
  const id = env.rng.pick(env.c.members())
  const mode = env.rng.pick(['before-fsync', 'after-write'] as const)
  const n = env.rng.int(2, 40)
  await env.c.kill(id)
  const p = env.c.spawn(id, { RAFTKV_FAILPOINT: `${mode}:${n}` })
  // A restart takes seconds on a loaded machine: give the node time to start and reach its n-th
  // synced write (bounded), so the crash happens under traffic rather than never.
  await Promise.race([p.exited, sleep(20_000)])
  return {
    fault: {
      desc: `restart node ${id} with RAFTKV_FAILPOINT=${mode}:${n}${p.alive ? '' : ' (crashed at it)'}`,
      heal: async () => {
        const fired = !p.alive && p.stderr.includes('failpoint')
        await env.c.kill(id)
        env.c.spawn(id)
        return `node ${id} ${fired ? 'crashed at the failpoint' : 'did not reach the failpoint (killed)'}; restarted without it`
      },
    },
  }
}

async function clock(env: NemesisEnv): Promise<Injection> {
  const id = env.rng.pick(env.c.members())
  const big = env.rng.chance(0.5)
  const ms = (env.rng.chance(0.5) ? 1 : -1) * (big ? env.rng.int(10_000, 120_000) : env.rng.int(100, 2_000))
  env.c.setClock(id, ms)
  return {
    fault: {
      desc: `clock of node ${id} shifted by ${ms} ms`,
      heal: async () => {
        env.c.setClock(id, 0)
        return `clock of node ${id} restored`
      },
    },
  }
}

/** Grows the cluster to 4 or 5 members, or shrinks it back to 3, through POST /scale-cluster. */
async function scale(env: NemesisEnv): Promise<Injection> {
  const want = env.c.replicas > 3 ? 3 : env.rng.int(4, env.c.maxNodes)
  // Ask a node that is up (a member just started may not listen yet).
  const up: number[] = []
  for (const id of env.c.alive()) if ((await env.c.status(id)) !== null) up.push(id)
  if (up.length === 0) return { skipped: 'scale: no node answers /status' }
  const via = env.rng.pick(up)
  let answer: string
  try {
    const r = await fetch(`${env.c.url(via)}/scale-cluster`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas: want }), signal: AbortSignal.timeout(3000) })
    answer = `${r.status} ${(await r.text()).slice(0, 120)}`
  } catch (e) {
    answer = `no answer: ${(e as Error).message}`
  }
  return {
    fault: {
      desc: `POST /scale-cluster {replicas: ${want}} via node ${via}: ${answer}`,
      // Membership changes are not undone: the scaler keeps working toward the target.
      heal: async () => `scaling toward ${want} (orchestrator runs ${env.c.replicas})`,
    },
  }
}

export async function inject(kind: NemesisKind, env: NemesisEnv): Promise<Injection> {
  switch (kind) {
    case 'kill':
      return kill(env)
    case 'pause':
      return pause(env)
    case 'partition':
      return env.lab ? partition(env, env.lab) : { skipped: 'partition: no namespaces' }
    case 'netem':
      return env.lab ? netem(env, env.lab) : { skipped: 'netem: no namespaces' }
    case 'failpoint':
      return failpoint(env)
    case 'clock':
      return clock(env)
    case 'scale':
      return scale(env)
  }
}

/** Brings every node back: resumes, restarts the dead, clears link faults and clocks. */
export async function healAll(env: NemesisEnv): Promise<void> {
  env.lab?.healPartition()
  env.lab?.healNetem()
  for (const id of env.c.members()) {
    env.c.resume(id)
    env.c.setClock(id, 0)
    if (!env.c.procs.get(id)?.alive) env.c.spawn(id)
  }
  await sleep(50)
}
