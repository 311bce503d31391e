// A real node process orchestrated through Kubernetes — against the API stand-in, with the pod's
// identity from its hostname (raftkv-0) and $KUBECONFIG pointing at the stand-in: the node labels
// its pod as the leader, adopts the StatefulSet's replica count, and on /scale-cluster adds the
// next ordinal as a learner and merge-patches the scale subresource; while that learner (which no
// kubelet starts here) has not caught up, another request is refused unless forced, and a forced
// target undoes the stuck grow; /delete-pod deletes the pod.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { LEADER_LABEL } from '../../src/cluster/k8s-orchestrator.ts'
import { childEnv, cliPath, freePortBlock, repoRoot, waitFor } from './fixtures/helpers.ts'
import { NS, kubeconfigFile, standIn } from './fixtures/k8s-standin.ts'

t.test('a node in pod raftkv-0 scales its StatefulSet through the API', async (t) => {
  const api = await standIn(1)
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-k8s-node-'))
  const base = await freePortBlock(10)
  const out: string[] = []
  const proc = spawn(
    process.execPath,
    [
      '--import', 'tsx', cliPath, 'node',
      '--id-from-hostname', '--bootstrap-id=1', '--orchestrator=kubernetes', `--k8s-namespace=${NS}`,
      '--host', '127.0.0.1', '--raft-port', String(base + 1), '--http-port', String(base + 2), '--resp-port', String(base + 3),
      // Members added later are unreachable here: nobody starts their pods.
      '--peer-template', `127.0.0.1:{port}`, '--raft-port-base', String(base + 4),
      '--data-dir', join(dir, 'data'), '--log-level', 'warn',
    ],
    { cwd: repoRoot, env: childEnv({ HOSTNAME: 'raftkv-0', KUBECONFIG: kubeconfigFile(dir, api.url) }), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  proc.stdout!.on('data', (d: Buffer) => out.push(d.toString()))
  proc.stderr!.on('data', (d: Buffer) => out.push(d.toString()))
  const exited = new Promise((r) => proc.on('exit', r))
  t.teardown(async () => {
    if (!t.passing()) console.error(out.join(''))
    proc.kill('SIGKILL')
    await exited
    await api.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${base + 2}`
  const json = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await fetch(url + path, { ...init, signal: AbortSignal.timeout(5000) })
    return { status: r.status, body: (await r.json()) as Record<string, unknown> }
  }
  const post = (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> =>
    json(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })

  const st = await waitFor('the node to lead and adopt the replica count', async () => {
    const s = await json('/cluster/scale').catch(() => null)
    return s?.status === 200 && s.body['target'] === 1 ? s.body : undefined
  }, 60_000, 100)
  t.equal(st['orchestrator'], 'kubernetes', 'orchestrated through Kubernetes')
  t.same(st['voters'], [1], 'pod raftkv-0 is node 1 and bootstrapped alone')
  await waitFor('the leader label', () => api.labels.get('raftkv-0')?.[LEADER_LABEL] === 'true', 10_000)
  t.pass('the leader labelled its own pod')

  const r = await post('/scale-cluster', { replicas: 2 })
  t.equal(r.status, 202, '1 → 2 accepted')
  await waitFor('the scale patch', () => api.replicas() === 2, 20_000)
  t.pass('the StatefulSet was patched to 2 replicas')
  const mid = await json('/cluster/scale')
  t.same(mid.body['learners'], [2], 'node 2 (pod raftkv-1) is a learner')
  t.match(mid.body['step'], /learner 2/, 'waiting for it to catch up')
  const busy = await post('/scale-cluster', { replicas: 3 })
  t.equal(busy.status, 409, 'a second request meanwhile: 409')
  const inst = await json('/get-raft-instances')
  const members = inst.body['members'] as { name: string; role: string; healthy: boolean }[]
  t.same(members.map((m) => `${m.name}:${m.role}`), ['raftkv-0:leader', 'raftkv-1:learner'], 'pods and roles')
  t.equal(members[1]!.healthy, false, 'the learner without a pod is unhealthy')

  // The way out of an operation that cannot finish (no pod will ever run node 2): force a new
  // target; the learner beyond it is removed and the StatefulSet scaled back.
  const forced = await post('/scale-cluster', { replicas: 1, force: true })
  t.equal(forced.status, 202, 'force replaces the target of the stuck operation')
  const back = await waitFor('the cluster back at 1 member', async () => {
    const s = await json('/cluster/scale')
    return s.body['inProgress'] === false && api.replicas() === 1 ? s.body : undefined
  }, 20_000, 100)
  t.same([back['voters'], back['learners']], [[1], []], 'the stuck learner was removed')

  const del = await post('/delete-pod', { name: 'raftkv-1' })
  t.equal(del.status, 202, '/delete-pod accepted')
  t.same(api.deleted, ['raftkv-1'], 'the pod was deleted through the API')
  t.same(api.unexpected, [], 'nothing outside the four endpoints was called')
})
