// The next-step planner of cluster operations (src/cluster/plan.ts): one member at a time, the
// replica count follows the configuration, learners are promoted only once replicating and
// caught up, and a leader that must leave hands over first.
import t from 'tap'
import { CATCH_UP_SLACK, nextStep, type PlanInput } from '../../src/cluster/plan.ts'

type Prog = { match: number; healthy: boolean; replicating: boolean }
const up = (match: number): Prog => ({ match, healthy: true, replicating: true })

function input(o: Partial<PlanInput> & { voters: number[] }): PlanInput {
  const progress = new Map<number, Prog>()
  for (const id of [...o.voters, ...(o.learners ?? [])]) progress.set(id, up(100))
  return { self: 1, learners: [], target: o.voters.length, replicas: o.voters.length, lastIndex: 100, progress, ...o }
}

t.test('steady state: nothing to do', async (t) => {
  t.same(nextStep(input({ voters: [1, 2, 3] })), { kind: 'done' })
})

t.test('grow: learner first, then its process, then promotion once caught up', async (t) => {
  t.same(nextStep(input({ voters: [1, 2, 3], target: 5 })), { kind: 'add-learner', id: 4 })
  const base = input({ voters: [1, 2, 3], learners: [4], target: 5, replicas: 3 })
  t.match(nextStep(base), { kind: 'scale', replicas: 4 }, 'the learner gets a process before anything else')
  const probing = new Map(base.progress).set(4, { match: 0, healthy: true, replicating: false })
  t.match(nextStep({ ...base, replicas: 4, progress: probing }), { kind: 'wait-catch-up', id: 4 }, 'not promoted while probing, however short the log')
  const behind = new Map(base.progress).set(4, up(100 - CATCH_UP_SLACK - 1))
  t.match(nextStep({ ...base, replicas: 4, progress: behind }), { kind: 'wait-catch-up', id: 4 })
  const near = new Map(base.progress).set(4, up(100 - CATCH_UP_SLACK))
  t.same(nextStep({ ...base, replicas: 4, progress: near }), { kind: 'promote', id: 4 })
  const sick = new Map(base.progress).set(4, { match: 100, healthy: false, replicating: true })
  t.match(nextStep({ ...base, replicas: 4, progress: sick }), { kind: 'wait-catch-up' }, 'an unhealthy learner is not promoted')
  t.same(nextStep(input({ voters: [1, 2, 3, 4], target: 5 })), { kind: 'add-learner', id: 5 }, 'then the next ordinal')
})

t.test('shrink: highest first, each removal followed by its scale-down', async (t) => {
  t.match(nextStep(input({ voters: [1, 2, 3, 4, 5, 6, 7], target: 3 })), { kind: 'remove', id: 7 })
  t.match(nextStep(input({ voters: [1, 2, 3, 4, 5, 6], target: 3, replicas: 7 })), { kind: 'scale', replicas: 6 })
  t.match(nextStep(input({ voters: [1, 2, 3], target: 3, replicas: 5 })), { kind: 'scale', replicas: 4 }, 'one ordinal at a time')
})

t.test('a leader that must leave transfers to the most up-to-date voter that stays', async (t) => {
  const progress = new Map<number, Prog>([
    [1, up(90)],
    [2, up(99)],
    [3, { match: 100, healthy: false, replicating: true }],
    [4, up(100)],
    [5, up(100)],
  ])
  const i = input({ voters: [1, 2, 3, 4, 5], target: 3, self: 5, progress })
  t.same(nextStep(i), { kind: 'transfer', to: 2 }, 'not 3 (unhealthy), not 4 (leaving)')
  t.match(nextStep({ ...i, self: 4 }), { kind: 'remove', id: 5 }, 'a leader below the highest removes the highest first')
  progress.set(1, { match: 1, healthy: false, replicating: false })
  progress.set(2, { match: 1, healthy: false, replicating: false })
  t.same(nextStep(i), { kind: 'wait-transfer-target' }, 'nobody fit to take over: wait')
})

t.test('crash recovery: the same facts give the same next step', async (t) => {
  t.match(nextStep(input({ voters: [1, 2, 3], learners: [4], target: 5, replicas: 3 })), { kind: 'scale', replicas: 4 }, 'a learner added just before a crash gets its process')
  t.match(nextStep(input({ voters: [1, 2, 3], learners: [4], target: 3, replicas: 4 })), { kind: 'remove', id: 4 }, 'a learner the target no longer wants is removed')
  t.match(nextStep(input({ voters: [1, 2, 3], target: 3, replicas: 2 })), { kind: 'scale', replicas: 3 }, 'a member whose process is missing is started')
  t.same(nextStep(input({ voters: [1, 2, 4], target: 3, replicas: 4 })), { kind: 'add-learner', id: 3 }, 'a hole in the ordinals is filled before the extra one leaves')
})
