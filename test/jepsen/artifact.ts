// What a failing run leaves behind under test-artifacts/jepsen/: the violation, the smallest
// failing window of the history, the nemesis schedule, the command that replays the seed, the
// whole history (JSON lines), node log tails, and an HTML page with an SVG timeline of the window.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../cluster/fixtures/helpers.ts'
import type { HOp } from './history.ts'

export interface ScheduleEntry {
  at: number
  kind: string
  what: string
  healedAt?: number
  healed?: string
}

export interface ViolationReport {
  seed: number
  replay: string
  violations: unknown[]
  window: HOp[]
  schedule: ScheduleEntry[]
  history: HOp[]
  logs: Record<string, string[]>
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
}

function label(o: HOp): string {
  const b = o.body
  const v = b.f === 'cas' ? `${b.expected}→${b.value}` : Array.isArray(b.value) ? `[${b.value.length}] …${b.value.slice(-2).join(' ')}` : String(b.value)
  return `#${o.id} ${b.f} ${o.key} ${v} ${o.outcome}${o.error ? ` (${o.error})` : ''} via ${o.via}@n${o.node}`
}

/** One lane per client; a bar per op from call to return (open-ended, hatched, when unknown). */
export function timelineSvg(ops: HOp[], schedule: ScheduleEntry[]): string {
  if (ops.length === 0) return '<svg xmlns="http://www.w3.org/2000/svg"/>'
  const t0 = Math.min(...ops.map((o) => o.call))
  const end = Math.max(...ops.map((o) => (Number.isFinite(o.ret) ? o.ret : (o.gaveUp ?? o.call) + 1)))
  const span = Math.max(1, end - t0)
  const lanes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b)
  const W = 1200
  const lh = 26
  const x = (t: number) => 160 + ((t - t0) / span) * (W - 180)
  const color = { ok: '#4a4', fail: '#c44', info: '#e90', pending: '#999' }
  const parts: string[] = []
  lanes.forEach((p, i) => parts.push(`<text x="4" y="${i * lh + 18}" font-size="12">client ${p}</text>`))
  for (const o of ops) {
    const y = lanes.indexOf(o.process) * lh + 4
    const x1 = x(o.call)
    const x2 = Number.isFinite(o.ret) ? x(o.ret) : W - 10
    parts.push(`<rect x="${x1}" y="${y}" width="${Math.max(2, x2 - x1)}" height="18" fill="${color[o.outcome]}" opacity="0.7"><title>${esc(label(o))}</title></rect>`)
    parts.push(`<text x="${x1 + 2}" y="${y + 13}" font-size="10">${esc(label(o).slice(0, 60))}</text>`)
  }
  const h = lanes.length * lh + 40
  for (const s of schedule) {
    if (s.at < t0 - span || s.at > end) continue
    const sx = x(Math.max(t0, s.at))
    parts.push(`<line x1="${sx}" y1="0" x2="${sx}" y2="${h - 20}" stroke="#55f" stroke-dasharray="4"/><text x="${sx + 2}" y="${h - 6}" font-size="10" fill="#55f">${esc(s.what)}</text>`)
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}">${parts.join('')}</svg>`
}

export function writeArtifact(r: ViolationReport): string {
  const dir = join(repoRoot, 'test-artifacts', 'jepsen', `seed-${r.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  mkdirSync(dir, { recursive: true })
  const ser = (o: HOp) => ({ ...o, ret: Number.isFinite(o.ret) ? o.ret : null })
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ seed: r.seed, replay: r.replay, violations: r.violations, window: r.window.map(ser), schedule: r.schedule }, null, 2))
  writeFileSync(join(dir, 'history.jsonl'), r.history.map((o) => JSON.stringify(ser(o))).join('\n') + '\n')
  writeFileSync(join(dir, 'node-logs.txt'), Object.entries(r.logs).map(([id, l]) => `---- node ${id} ----\n${l.join('\n')}`).join('\n'))
  const html = `<!doctype html><meta charset="utf-8"><title>raftkv violation, seed ${r.seed}</title>
<h1>Violation, seed ${r.seed}</h1><p>Replay: <code>${esc(r.replay)}</code></p>
<h2>Failing window (${r.window.length} ops)</h2>${timelineSvg(r.window, r.schedule)}
<pre>${esc(r.window.map(label).join('\n'))}</pre>
<h2>Violations</h2><pre>${esc(JSON.stringify(r.violations, null, 2))}</pre>
<h2>Nemesis schedule</h2><pre>${esc(r.schedule.map((s) => `${s.at.toFixed(0)} ms ${s.what}${s.healedAt !== undefined ? ` → ${s.healedAt.toFixed(0)} ms ${s.healed}` : ''}`).join('\n'))}</pre>`
  writeFileSync(join(dir, 'timeline.html'), html)
  return dir
}
