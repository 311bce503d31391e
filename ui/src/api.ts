// Talking to the cluster: which members there are, which one to ask (the "gateway": the member
// that served the page, or any other that answers when it is down), and the actions.
import type { ClockOffset, Member, MembersInfo, Trace } from '../../src/observe/json.ts'

export interface WriteResult {
  ok: boolean
  status: number
  node: number
  request: string | null
  body: unknown
}

export interface LocalNode {
  id: number
  pid: number | null
  running: boolean
  held: boolean
  http: string
}

async function json<T>(url: string, init: RequestInit = {}, timeoutMs = 3000): Promise<T> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  const body = (await r.json()) as T & { error?: string }
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`)
  return body
}

export class Api {
  /** Base URLs to try, the working one first. */
  private candidates: string[]
  members: Member[] = []
  localControl: string | null = null

  constructor(origin: string) {
    this.candidates = [origin]
  }

  get gateway(): string {
    return this.candidates[0]!
  }

  /** Runs `fn` against the gateway, moving on to the next member that answers. */
  private async any<T>(fn: (base: string) => Promise<T>): Promise<T> {
    let last: unknown = null
    for (let i = 0; i < this.candidates.length; i++) {
      const base = this.candidates[i]!
      try {
        const v = await fn(base)
        if (i > 0) this.candidates = [base, ...this.candidates.filter((c) => c !== base)]
        return v
      } catch (e) {
        last = e
      }
    }
    throw last instanceof Error ? last : new Error('no member answers')
  }

  async refreshMembers(): Promise<MembersInfo> {
    const info = await this.any((b) => json<MembersInfo>(`${b}/cluster/members`))
    this.members = info.members
    this.localControl = info.localControl
    for (const m of info.members) if (m.url && !this.candidates.includes(m.url)) this.candidates.push(m.url)
    return info
  }

  offsets(): Promise<{ reference: number; offsets: ClockOffset[] }> {
    return this.any((b) => json(`${b}/cluster/offsets`))
  }

  trace(q: string): Promise<Trace> {
    // Request ids: h<node>.<n>, i<index> / <index>, client:seq. Anything else is a key.
    const isId = /^h\d+\.\d+$/.test(q) || /^i?\d+$/.test(q) || /:\d+$/.test(q)
    const path = isId ? `/trace/${encodeURIComponent(q)}` : `/trace?key=${encodeURIComponent(q)}`
    return this.any((b) => json<Trace>(`${b}${path}`, {}, 8000))
  }

  write(key: string, value: string): Promise<WriteResult> {
    // text/plain keeps this a "simple" cross-origin request: no preflight.
    return this.any((b) => json<WriteResult>(`${b}/cluster/kv/${encodeURIComponent(key)}`, { method: 'POST', body: value, headers: { 'content-type': 'text/plain' } }, 8000))
  }

  async localNodes(): Promise<LocalNode[]> {
    if (!this.localControl) return []
    return (await json<{ nodes: LocalNode[] }>(`${this.localControl}/local/nodes`)).nodes
  }

  async localAction(id: number, action: 'stop' | 'kill' | 'start'): Promise<void> {
    if (!this.localControl) throw new Error('not running under `raftkv local`')
    const path = action === 'start' ? 'start' : `stop?signal=${action === 'kill' ? 'SIGKILL' : 'SIGTERM'}`
    await json(`${this.localControl}/local/nodes/${id}/${path}`, { method: 'POST' }, 10_000)
  }
}
