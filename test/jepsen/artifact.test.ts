// The violation artifact: the files a failing run leaves, and the SVG timeline of its window.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { timelineSvg, writeArtifact } from './artifact.ts'
import type { HOp } from './history.ts'

const ops: HOp[] = [
  { id: 0, process: 0, via: 'resp', node: 1, key: 'k', body: { f: 'write', value: 'a' }, call: 0, ret: 5, outcome: 'ok' },
  { id: 1, process: 1, via: 'http', node: 2, key: 'k', body: { f: 'write', value: 'b' }, call: 2, ret: Infinity, gaveUp: 8, outcome: 'info', error: 'timeout' },
  { id: 2, process: 2, via: 'resp', node: 3, key: 'k', body: { f: 'read', value: 'zz<&>' }, call: 6, ret: 9, outcome: 'ok' },
]

t.test('the timeline has a lane per client and a bar per op, escaped', async (t) => {
  const svg = timelineSvg(ops, [{ at: 3, kind: 'kill', what: 'kill -9 node 1' }])
  t.equal((svg.match(/<rect /g) ?? []).length, 3, 'one bar per op')
  t.match(svg, /client 0.*client 1.*client 2/s, 'one lane per client')
  t.match(svg, /zz&lt;&amp;&gt;/, 'values are escaped')
  t.notMatch(svg, /zz<&>/, 'never raw')
  t.match(svg, /kill -9 node 1/, 'the nemesis is drawn')
})

t.test('writeArtifact leaves the report, the history, the logs and the page', async (t) => {
  const dir = writeArtifact({ seed: 4242, replay: 'npm run jepsen -- --runs 1 --seed 4242', violations: [{ kind: 'test' }], window: ops, schedule: [], history: ops, logs: { '1': ['a log line'] } })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const f of ['report.json', 'history.jsonl', 'node-logs.txt', 'timeline.html']) t.ok(existsSync(join(dir, f)), f)
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { replay: string; window: { ret: number | null }[] }
  t.equal(report.replay, 'npm run jepsen -- --runs 1 --seed 4242')
  t.equal(report.window[1]!.ret, null, 'an unknown completion is null in JSON, not Infinity')
  t.match(readFileSync(join(dir, 'timeline.html'), 'utf8'), /--seed 4242/)
})
