// Where a node's CPU goes, from V8 CPU profiles (.cpuprofile, written by `node --cpu-prof`): busy
// time split into the parts that matter for the kernel fast path — the control messages user
// space receives (what the XDP program can take over) and sends, the fast path's own code, and
// the rest of the node (HTTP, LevelDB, the TCP data plane, the Raft core, the state machine).
// Profile a benchmark's nodes with RAFTKV_NODE_FLAGS (test/offload/fixtures/netns.ts):
//
//   RAFTKV_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:offload -- --sizes 5 --rounds 1
//   npx tsx bench/cpuprofile.ts /tmp/prof/*.cpuprofile
//
// A sample counts once, for the first rule its stack matches (rules in order, frames anywhere in
// the stack), so the parts add up to the busy time. Start-up (module loading) is reported apart.

import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** A part of the node: matches a stack when any frame passes `frame`. */
interface Rule {
  name: string
  frame: (f: CallFrame) => boolean
}

const RULES: Rule[] = [
  { name: 'start-up (module loading, compiling)', frame: (f) => /internal\/modules|tsx\/dist|cjs-module-lexer|bootstrap\/realm/.test(f.url) },
  { name: 'kernel fast path (src/offload)', frame: (f) => f.url.includes('/src/offload/') },
  { name: 'control messages in (UDP receive, MAC, decode, step)', frame: (f) => f.url === 'node:dgram' && f.functionName === 'onMessage' },
  { name: 'control messages out (UDP send)', frame: (f) => f.url === 'node:dgram' && (f.functionName === 'doSend' || f.functionName === 'afterDns' || f.functionName === 'send') },
  { name: 'HTTP (fastify, node:http)', frame: (f) => /node_modules\/(fastify|find-my-way|avvio|light-my-request|@fastify)|node:_http|src\/observe\/httphooks|src\/node\/rest\//.test(f.url) },
  { name: 'TCP data plane (append frames)', frame: (f) => f.url.includes('/src/transport/') },
  { name: 'LevelDB (classic-level, storage)', frame: (f) => /classic-level|abstract-level|\/src\/storage\//.test(f.url) },
  { name: 'state machine (apply, KV)', frame: (f) => /\/src\/(kv|cluster)\//.test(f.url) },
  { name: 'Raft core and run loop', frame: (f) => /\/src\/(raft|node)\//.test(f.url) },
  { name: 'garbage collector', frame: (f) => f.functionName === '(garbage collector)' },
]
const IDLE = '(idle)'

function summarize(path: string): Map<string, number> {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // The part each profile node's stack belongs to, memoized: samples share stacks.
  const partOf = new Map<number, string>()
  const part = (id: number): string => {
    const known = partOf.get(id)
    if (known !== undefined) return known
    const stack: CallFrame[] = []
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) stack.push(byId.get(x)!.callFrame)
    let name = stack[0]?.functionName === IDLE ? IDLE : 'other'
    if (name !== IDLE) for (const r of RULES) if (stack.some(r.frame)) { name = r.name; break }
    partOf.set(id, name)
    return name
  }
  const out = new Map<string, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const k = part(p.samples[i]!)
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  }
  return out
}

const files = process.argv.slice(2)
if (files.length === 0) {
  console.log('usage: npx tsx bench/cpuprofile.ts FILE.cpuprofile …')
  process.exit(2)
}
for (const f of files) {
  const parts = summarize(f)
  const startup = parts.get(RULES[0]!.name) ?? 0
  let busy = 0
  for (const [k, ms] of parts) if (k !== IDLE && k !== RULES[0]!.name) busy += ms
  console.log(`${f}: ${busy.toFixed(0)} ms busy after start-up (start-up ${startup.toFixed(0)} ms, idle ${(parts.get(IDLE) ?? 0).toFixed(0)} ms)`)
  const rows = [...parts].filter(([k]) => k !== IDLE && k !== RULES[0]!.name).sort((a, b) => b[1] - a[1])
  for (const [k, ms] of rows) console.log(`  ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${k}`)
}
