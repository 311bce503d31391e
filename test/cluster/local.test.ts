// `npm start` equivalent: `raftkv local --nodes 3 --data-dir <tmp>` prints each node's addresses,
// serves writes, stops cleanly on Ctrl-C (SIGINT to the whole process group, as a terminal sends
// it) and on a SIGINT to the parent alone, and a second start resumes with the same data.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { childEnv, cliPath, freePortBlock, repoRoot, sleep, waitFor, type NodeStatus } from './fixtures/helpers.ts'

interface Local {
  proc: ChildProcess
  out: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function startLocal(dataDir: string, base: number): Local {
  const args = [
    '--import', 'tsx', cliPath, 'local',
    '--nodes', '3',
    '--data-dir', dataDir,
    '--raft-port-base', String(base),
    '--http-port-base', String(base + 10),
    // Keep RESP off the default ports other tests may use.
    '--resp-port-base', String(base + 20),
  ]
  // detached: its own process group, so a "Ctrl-C" can go to the whole group like a terminal's.
  const proc = spawn(process.execPath, args, { cwd: repoRoot, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const out: string[] = []
  let buf = ''
  const onData = (d: Buffer): void => {
    buf += d.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      out.push(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
    }
  }
  proc.stdout!.on('data', onData)
  proc.stderr!.on('data', onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.on('exit', (code, signal) => res({ code, signal })))
  return { proc, out, exited }
}

async function status(port: number): Promise<NodeStatus | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(1000) })
    return r.ok ? ((await r.json()) as NodeStatus) : null
  } catch {
    return null
  }
}

async function leaderOf(ports: number[]): Promise<{ id: number; term: number }> {
  return waitFor(
    'a leader all three agree on',
    async () => {
      const st = (await Promise.all(ports.map(status))).filter((s): s is NodeStatus => s !== null)
      if (st.length !== ports.length) return undefined
      const l = st.filter((s) => s.role === 'leader')
      if (l.length !== 1 || st.some((s) => s.leader !== l[0]!.id)) return undefined
      return { id: l[0]!.id, term: l[0]!.term }
    },
    30_000,
  )
}

async function portClosed(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/livez`, { signal: AbortSignal.timeout(500) })
    return false
  } catch {
    return true
  }
}

t.test('raftkv local: addresses, writes, clean stop on SIGINT, resume from the same data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-local-'))
  const base = await freePortBlock(40)
  const running = new Set<Local>()
  const all: Local[] = []
  t.teardown(async () => {
    if (!t.passing()) for (const l of all) console.error(`---- raftkv local output ----\n${l.out.slice(-60).join('\n')}`)
    for (const l of running) {
      try {
        process.kill(-l.proc.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
      await l.exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const httpPorts = [1, 2, 3].map((i) => base + 10 + i)

  // ---- first start ----
  const a = startLocal(dir, base)
  running.add(a)
  all.push(a)
  const banner = await waitFor('the address banner', () => ([1, 2, 3].every((i) => a.out.some((l) => l.startsWith(`  node ${i}:`))) ? a.out : undefined), 30_000)
  for (const i of [1, 2, 3]) {
    const line = banner.find((l) => l.startsWith(`  node ${i}:`)) ?? ''
    t.match(line, `http http://127.0.0.1:${base + 10 + i}`, `node ${i}'s HTTP address is printed`)
    t.match(line, `raft 127.0.0.1:${base + i}`, `node ${i}'s Raft address is printed`)
  }
  t.ok(banner.some((l) => l.includes(`data under ${dir}`)), 'the data directory is printed')

  const l1 = await leaderOf(httpPorts)
  const url = `http://127.0.0.1:${base + 10 + l1.id}`
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${url}/kv/key${i}`, { method: 'PUT', body: `value ${i}` })
    t.equal(r.status, 200, `PUT key${i}`)
    await r.arrayBuffer()
  }
  const r0 = await fetch(`${url}/kv/key7`)
  t.equal(await r0.text(), 'value 7', 'read back from the leader')

  // Ctrl-C: SIGINT to the whole group (the parent and every node), as a terminal does.
  process.kill(-a.proc.pid!, 'SIGINT')
  const ea = await a.exited
  running.delete(a)
  t.same(ea, { code: 0, signal: null }, 'the cluster stops with exit code 0 on Ctrl-C')
  t.notOk(a.out.some((l) => /exited \((?!0\))/.test(l)), 'no node reported an abnormal exit')
  for (const p of httpPorts) t.ok(await portClosed(p), `port ${p} is closed: node stopped`)
  for (const i of [1, 2, 3]) t.ok(existsSync(join(dir, `node${i}`)), `node${i}'s data is under ${dir}`)

  // ---- second start: same data ----
  const b = startLocal(dir, base)
  running.add(b)
  all.push(b)
  await waitFor('the address banner', () => [1, 2, 3].every((i) => b.out.some((l) => l.startsWith(`  node ${i}:`))), 30_000)
  const l2 = await leaderOf(httpPorts)
  t.ok(l2.term > l1.term, `a new term (${l1.term} → ${l2.term})`)
  const url2 = `http://127.0.0.1:${base + 10 + l2.id}`
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${url2}/kv/key${i}`)
    t.equal(await r.text(), `value ${i}`, `key${i} survived the restart`)
  }
  t.equal(b.out.filter((l) => l.includes('restarting from persisted state')).length, 3, 'all three nodes resumed from their data')
  const w = await fetch(`${url2}/kv/again`, { method: 'PUT', body: 'yes' })
  t.equal(w.status, 200, 'and take writes again')
  await w.arrayBuffer()

  // SIGINT to the parent alone: it stops its nodes itself.
  b.proc.kill('SIGINT')
  const eb = await b.exited
  running.delete(b)
  t.same(eb, { code: 0, signal: null }, 'SIGINT to the parent alone also stops everything with exit code 0')
  await sleep(100)
  for (const p of httpPorts) t.ok(await portClosed(p), `port ${p} is closed`)
})
