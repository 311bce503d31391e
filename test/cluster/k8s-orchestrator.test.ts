// The Kubernetes orchestrator against a narrow stand-in for the API server: a loopback HTTP server
// that serves exactly the four endpoints the orchestrator calls (read scale, merge-patch scale,
// merge-patch pod labels, delete pod), checks method, path, content type and bearer token, and
// answers 404 to everything else. The client is configured from a kubeconfig file pointing at it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import t from 'tap'
import { KubernetesOrchestrator, LEADER_LABEL } from '../../src/cluster/k8s-orchestrator.ts'
import { OrchestratorError } from '../../src/cluster/orchestrator.ts'
import { NS, STS, kubeconfigFile, standIn } from './fixtures/k8s-standin.ts'

t.test('the Kubernetes orchestrator calls exactly the endpoints the Role allows', async (t) => {
  const s = await standIn()
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-k8s-'))
  t.teardown(async () => {
    await s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfigFile(dir, s.url))
  const o = new KubernetesOrchestrator({ namespace: NS, statefulSet: STS, kubeConfig: kc })

  t.equal(await o.replicas(), 3, 'reads spec.replicas from the scale subresource')
  await o.scale(5)
  t.equal(s.replicas(), 5, 'the merge patch set spec.replicas')
  t.equal(await o.replicas(), 5, 'and reads it back')
  const patch = s.calls.find((c) => c.method === 'PATCH' && c.url.endsWith('/scale'))
  t.equal(patch?.contentType, 'application/merge-patch+json', 'scale is a merge patch')
  t.same(patch?.body, { spec: { replicas: 5 } }, 'that touches spec.replicas only')

  await o.labelLeader(2, true)
  await o.labelLeader(1, false)
  t.same(s.labels.get('raftkv-1'), { [LEADER_LABEL]: 'true' }, 'the leader (id 2 = ordinal 1) labels its pod')
  t.same(s.labels.get('raftkv-0'), { [LEADER_LABEL]: 'false' }, 'and clears the label on another')

  await o.deletePod('raftkv-2')
  t.same(s.deleted, ['raftkv-2'], 'delete-pod deletes the pod')

  const err = await o.deletePod('raftkv-8').catch((e: unknown) => e)
  t.ok(err instanceof OrchestratorError, 'a failure is an OrchestratorError')
  t.equal((err as OrchestratorError).status, 404, 'carrying the API status')
  t.match((err as OrchestratorError).message, /delete pod raftkv-8/, 'and saying what failed')

  t.equal(o.podName(1), 'raftkv-0', 'pod name of id 1')
  t.equal(o.idOfPod('raftkv-6'), 7, 'id of a pod')
  t.equal(o.idOfPod('other-0'), null, 'a pod of another StatefulSet is not ours')
  t.equal(o.idOfPod('raftkv-01'), null, 'nor a malformed ordinal')

  t.same(s.unexpected, [], 'no request outside the four endpoints')
  t.same(
    [...new Set(s.calls.map((c) => `${c.method} ${c.url.replace(/\?.*$/, '').replace(/raftkv-\d/, 'POD')}`))].sort(),
    [
      `DELETE /api/v1/namespaces/${NS}/pods/POD`,
      `GET /apis/apps/v1/namespaces/${NS}/statefulsets/${STS}/scale`,
      `PATCH /api/v1/namespaces/${NS}/pods/POD`,
      `PATCH /apis/apps/v1/namespaces/${NS}/statefulsets/${STS}/scale`,
    ],
    'exactly the four endpoints',
  )
})

t.test('a wrong token is refused with the API status', async (t) => {
  const s = await standIn()
  t.teardown(() => s.close())
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: s.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'wrong' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  })
  const o = new KubernetesOrchestrator({ namespace: NS, statefulSet: STS, kubeConfig: kc })
  const err = await o.replicas().catch((e: unknown) => e)
  t.ok(err instanceof OrchestratorError && err.status === 401, 'reading the scale fails with 401')
})
