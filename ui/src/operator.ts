// Operator actions: write a key through any member (the server finds the leader) and follow it
// in the tracer; in local mode, stop, kill and restart node processes.
import type { Api, LocalNode } from './api.ts'
import { h } from './dom.ts'
import type { Tracer } from './tracer.ts'

export class Operator {
  private readonly result: HTMLElement
  private readonly nodesBox: HTMLElement
  private nodesKey = ''

  constructor(
    root: HTMLElement,
    private readonly api: Api,
    private readonly tracer: Tracer,
    private readonly note: (text: string) => void,
  ) {
    const key = h('input', { id: 'put-key', placeholder: 'key', value: 'greeting', size: 12 })
    const value = h('input', { id: 'put-value', placeholder: 'value', value: 'hello', size: 14 })
    const go = h('button', { id: 'put-go' }, 'Write')
    const form = h('form', { class: 'row' }, key, value, go)
    this.result = h('div', { id: 'put-result', class: 'muted' })
    form.onsubmit = (e) => {
      e.preventDefault()
      void this.write(key.value, value.value)
    }
    this.nodesBox = h('div', { id: 'local-nodes' })
    root.append(h('h2', {}, 'Operate'), form, this.result, this.nodesBox)
  }

  async write(key: string, value: string): Promise<void> {
    if (!key) return
    this.result.textContent = `writing ${key}…`
    try {
      const r = await this.api.write(key, value)
      this.result.textContent = r.ok ? `✓ ${key} written via S${r.node} (request ${r.request ?? '?'})` : `✕ ${key}: HTTP ${r.status} ${JSON.stringify(r.body)}`
      this.result.dataset['request'] = r.request ?? ''
      this.note(r.ok ? `wrote ${key} through S${r.node}` : `write of ${key} failed (${r.status})`)
      // Give the followers a moment to apply, then show the request's path.
      if (r.request) setTimeout(() => void this.tracer.trace(r.request!), 400)
    } catch (e) {
      this.result.textContent = `✕ ${key}: ${(e as Error).message}`
    }
  }

  /** Refreshes the stop/start buttons (local mode only). */
  async refreshNodes(): Promise<void> {
    let nodes: LocalNode[] = []
    try {
      nodes = await this.api.localNodes()
    } catch {
      nodes = []
    }
    const key = JSON.stringify(nodes.map((n) => [n.id, n.running]))
    if (key === this.nodesKey) return
    this.nodesKey = key
    if (nodes.length === 0) {
      this.nodesBox.replaceChildren()
      return
    }
    const act = (id: number, a: 'stop' | 'kill' | 'start') => async () => {
      this.note(`${a} S${id}…`)
      try {
        await this.api.localAction(id, a)
        this.note(`${a} S${id}: done`)
      } catch (e) {
        this.note(`${a} S${id} failed: ${(e as Error).message}`)
      }
      this.nodesKey = ''
      await this.refreshNodes()
    }
    const rows = nodes.map((n) => {
      const b = (label: string, a: 'stop' | 'kill' | 'start', enabled: boolean, title: string) => {
        const el = h('button', { 'data-action': a, 'data-node': n.id, disabled: !enabled, title }, label)
        el.onclick = act(n.id, a)
        return el
      }
      return h(
        'div',
        { class: 'row local-node' },
        h('span', { class: n.running ? 'up' : 'down' }, `S${n.id} ${n.running ? `pid ${n.pid}` : 'stopped'}`),
        b('Stop', 'stop', n.running, 'SIGTERM: hands leadership away, then exits'),
        b('Kill -9', 'kill', n.running, 'SIGKILL: a crash'),
        b('Start', 'start', !n.running, 'restart over its data'),
      )
    })
    this.nodesBox.replaceChildren(h('h3', {}, 'Local nodes'), ...rows)
  }
}
