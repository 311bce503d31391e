// The Raft core must stay a pure state machine: no I/O, no timers, no clock, no ambient randomness.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { builtinModules } from 'node:module'

const dir = new URL('../src/raft/', import.meta.url).pathname
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))

const forbidden: [RegExp, string][] = [
  [/\bDate\b/, 'Date'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bperformance\b/, 'performance'],
  [/\bprocess\./, 'process'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'timers'],
  [/\brequire\(/, 'require'],
  [/\bimport\(/, 'dynamic import'],
]
const nodeModules = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))

t.ok(files.length >= 5, 'found the core sources')
for (const f of files) {
  const src = readFileSync(join(dir, f), 'utf8')
  // Comments may mention anything; only code counts.
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  t.test(f, async (t) => {
    for (const m of code.matchAll(/from\s+'([^']+)'/g)) {
      const spec = m[1]!
      t.notOk(nodeModules.has(spec), `${f} must not import ${spec}`)
      t.ok(spec.startsWith('./'), `${f} imports only sibling core files (${spec})`)
    }
    for (const [re, what] of forbidden) t.notMatch(code, re, `${f} must not use ${what}`)
  })
}

t.test('the check itself catches a forbidden use', async (t) => {
  const bad = "import { readFile } from 'node:fs'\nconst x = Date.now()"
  t.ok(nodeModules.has('node:fs'))
  t.match(bad, forbidden[0]![0])
})
