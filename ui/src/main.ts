// The visualizer page: wires the store, the members' streams and the views, and draws a frame
// for the chosen time on every animation frame.
import { Api } from './api.ts'
import { byId, h } from './dom.ts'
import { Feed } from './feed.ts'
import { Logs } from './logs.ts'
import { Operator } from './operator.ts'
import { Progress } from './progress.ts'
import { ScalePanel } from './scale.ts'
import { legend, Ring } from './ring.ts'
import { Store } from './store.ts'
import { Streams } from './streams.ts'
import { Timeline } from './timeline.ts'
import { Tracer } from './tracer.ts'

const store = new Store()
const api = new Api(location.origin)
const note = (node: number, text: string, cls: 'warn' | 'ops' | 'info' = 'ops'): void => store.addFeed({ g: Date.now() + streams.skew, node, text, cls })
const streams = new Streams(store, note)
const timeline = new Timeline(byId('timebar'), store, () => streams.skew)
const ring = new Ring(byId<SVGSVGElement>('ring'), store, (id) => streams.state(id))
const logs = new Logs(byId('logs'), store)
const progress = new Progress(byId('progress'))
const scale = new ScalePanel(byId('scale'))
const feed = new Feed(byId('feed'), store)
const tracer = new Tracer(byId('tracer'), api)
const operator = new Operator(byId('operator'), api, tracer, (t) => note(0, t, 'ops'))
byId('legend').append(legend())
const summary = byId('summary')

async function refreshMembers(): Promise<void> {
  try {
    const info = await api.refreshMembers()
    streams.sync(info.members)
  } catch {
    // Every member we know is unreachable: keep drawing what we have and try again.
  }
}

async function refreshOffsets(): Promise<void> {
  try {
    const r = await api.offsets()
    for (const o of r.offsets) if (o.samples > 0) store.offsets.set(o.node, o.offsetMs)
  } catch {
    // Offsets are a refinement; on one host they are ~0 anyway.
  }
}

function frame(): void {
  const T = timeline.now()
  const views = ring.render(T, timeline.rate())
  logs.render(views)
  progress.render(views)
  scale.render(views)
  feed.render(T)
  timeline.render(T)
  const up = views.filter((v) => !v.down)
  const leaders = up.filter((v) => v.st?.role === 'leader')
  const leader = leaders.sort((a, b) => b.st!.term - a.st!.term)[0]
  const term = Math.max(0, ...up.map((v) => v.st!.term))
  const text = `${leader ? `leader S${leader.id}` : 'no leader'} · term ${term} · ${up.length}/${views.length} up · commit ${leader?.st?.commit ?? '–'}`
  if (summary.textContent !== text) summary.textContent = text
  // For tests and scripts: the same, machine-readable (an old leader that has not yet heard of
  // the new term still counts as one, so "leaders" can briefly be 2).
  const data: Record<string, string> = { leader: String(leader?.id ?? 0), leaders: String(leaders.length), term: String(term), up: String(up.length) }
  for (const [k, v] of Object.entries(data)) if (summary.dataset[k] !== v) summary.dataset[k] = v
  requestAnimationFrame(frame)
}

await refreshMembers()
void refreshOffsets()
void operator.refreshNodes()
setInterval(() => void refreshMembers(), 3000)
setInterval(() => void refreshOffsets(), 10_000)
setInterval(() => void operator.refreshNodes(), 2000)
setInterval(() => store.prune(timeline.liveEdge()), 10_000)
requestAnimationFrame(frame)
// For tests and the curious: the page's state from the console.
Object.assign(window, { raftkv: { store, api, tracer, timeline, operator } })
document.body.append(h('footer', {}, 'raftkv visualizer · data from each member’s /rpc-log/stream · ', h('a', { href: '/cluster/status' }, 'cluster status JSON')))
