// Crash safety: a child process writes in a loop and is killed with SIGKILL at a random moment.
// After each kill the storage must load, and hold exactly the state after the last step the child
// saw resolve — or after the one step it had started (each step is one atomic batch).
import { spawn } from 'node:child_process'
import t from 'tap'
import { RaftStorage, type LoadedState } from '../../src/storage/index.ts'
import { dec, rng, tempDir, tsChild } from './fixtures/helpers.ts'

interface Model {
  terms: Map<number, number> // index → term, for indexes above snapIndex
  last: number
  snapIndex: number
  applied: number
}

function fromLoaded(st: LoadedState): Model {
  return {
    terms: new Map(st.entries.map((e) => [e.index, e.term])),
    last: st.snapshot.index + st.entries.length,
    snapIndex: st.snapshot.index,
    applied: st.applied,
  }
}

function step(m: Model, line: string): Model {
  const [op, a, b, c] = line.split(' ')
  const n = { terms: new Map(m.terms), last: m.last, snapIndex: m.snapIndex, applied: m.applied }
  if (op === 'B') {
    const first = Number(a)
    const count = Number(b)
    for (let i = first; i <= n.last; i++) n.terms.delete(i)
    for (let i = first; i < first + count; i++) n.terms.set(i, Number(c))
    n.last = first + count - 1
  } else if (op === 'A') n.applied = Number(a)
  else if (op === 'C') {
    for (let i = n.snapIndex + 1; i <= Number(a); i++) n.terms.delete(i)
    n.snapIndex = Number(a)
  }
  return n
}

function describe(m: Model): string {
  const t = [...m.terms].sort((x, y) => x[0] - y[0]).map(([i, term]) => `${i}/${term}`)
  return `snap=${m.snapIndex} last=${m.last} applied=${m.applied} log=${t.join(',')}`
}

t.test('SIGKILL at random moments never loses a resolved write or leaves a torn one', async (t) => {
  const dir = tempDir(t)
  const r = rng(7)
  const rounds = 8
  for (let round = 0; round < rounds; round++) {
    // the model starts from what is durable now
    let s = await RaftStorage.open(dir)
    let model = fromLoaded(await s.load())
    await s.close()

    const child = spawn(process.execPath, tsChild('crash-child.ts', dir, String(1000 + round)), {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let buf = ''
    let pending: string | null = null
    let steps = 0
    let started = false
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line === 'ready') {
          started = true
          // kill somewhere in the next 50–500 ms of writing
          setTimeout(() => child.kill('SIGKILL'), 50 + r() * 450)
        } else if (line === 'ok') {
          model = step(model, pending!)
          pending = null
          steps++
        } else pending = line
      }
    })
    await exited
    t.ok(started, `round ${round}: child started`)

    s = await RaftStorage.open(dir)
    const st = await s.load() // throws StorageCorruptionError if anything is torn or missing
    const applied = await s.kv.get(new TextEncoder().encode('applied'))
    await s.close()
    const got = fromLoaded(st)
    for (const e of st.entries) {
      if (dec(e.data) !== `entry ${e.index} term ${e.term}`) t.fail(`entry ${e.index} has wrong data`)
    }
    const candidates = [model, ...(pending ? [step(model, pending)] : [])]
    const match = candidates.findIndex((m) => describe(m) === describe(got))
    t.ok(match >= 0, `round ${round}: ${steps} steps resolved, pending ${pending ?? 'none'}`, {
      got: describe(got).slice(0, 300),
      expected: candidates.map((m) => describe(m).slice(0, 300)),
    })
    t.equal(applied ? Number(dec(applied)) : 0, st.applied, 'kv and applied index were written together')
    t.ok(st.hardState.commit <= got.last)
  }
})
