// The clients of a run and what they do. Each client has one operation in flight at a time and
// sticks to one node until an operation fails or times out, then moves to another at random (so
// followers' proxies and reads are exercised as much as the leader). Two workloads share the run:
//   register — GET / SET / compare-and-set on a few active keys, each retired after a bounded
//              number of ops (short per-key histories keep the linearizability search small);
//   append   — APPEND of unique tokens and reads of the whole value.
// Values and tokens are unique: `<client>.<n>`.
import { sleep } from '../cluster/fixtures/helpers.ts'
import type { JCluster } from './cluster.ts'
import type { History, HOp, Via } from './history.ts'
import { HttpOps, RespOps, type Result } from './ops.ts'
import type { Rng } from './rng.ts'

export interface WorkloadOptions {
  registerClients: number
  appendClients: number
  opTimeoutMs: number
  /** Ops on a register key before it is retired. */
  registerKeyOps: number
  appendKeyOps: number
}

/** Rotating keys: `active` live keys, each replaced by a fresh one after `limit` invocations. */
class Keys {
  private readonly active: { name: string; used: number }[] = []
  private n = 0
  readonly all: string[] = []
  /** The last value each register key is known to hold (a good CAS "expected"). */
  readonly last = new Map<string, string>()
  constructor(
    private readonly prefix: string,
    count: number,
    private readonly limit: number,
  ) {
    for (let i = 0; i < count; i++) this.active.push(this.fresh())
  }
  private fresh(): { name: string; used: number } {
    const name = `${this.prefix}${this.n++}`
    this.all.push(name)
    return { name, used: 0 }
  }
  take(rng: Rng): string {
    const i = Math.floor(rng.next() * this.active.length)
    const k = this.active[i]!
    if (++k.used >= this.limit) this.active[i] = this.fresh()
    return k.name
  }
}

interface Client {
  p: number
  via: Via
  node: number
  resp: RespOps
  http: HttpOps
  n: number
}

export class Workload {
  private running = true
  private readonly loops: Promise<void>[] = []
  readonly regKeys: Keys
  readonly appKeys: Keys
  private readonly clients: Client[] = []

  constructor(
    private readonly c: JCluster,
    private readonly h: History,
    private readonly rng: Rng,
    private readonly o: WorkloadOptions,
    tag: string,
  ) {
    this.regKeys = new Keys(`r${tag}-`, 3, o.registerKeyOps)
    this.appKeys = new Keys(`a${tag}-`, 2, o.appendKeyOps)
  }

  private client(p: number, via: Via): Client {
    const node = this.rng.pick(this.c.ids)
    const cl: Client = { p, via, node, resp: new RespOps(this.c.endpoint(node), this.o.opTimeoutMs), http: new HttpOps(this.c.url(node), this.o.opTimeoutMs), n: 0 }
    this.clients.push(cl)
    return cl
  }

  private move(cl: Client): void {
    cl.node = this.rng.pick(this.c.members())
    cl.resp.retarget(this.c.endpoint(cl.node))
    cl.http.retarget(this.c.url(cl.node))
  }

  /** Records one op around `run`; moves the client to another node after anything but ok. */
  private async record<T>(cl: Client, key: string, body: HOp['body'], run: () => Promise<Result<T>>, observed?: (v: T) => HOp['body']['value']): Promise<Result<T>> {
    const op = this.h.invoke(cl.p, cl.via, cl.node, key, body)
    const r = await run()
    if (r.t === 'ok') this.h.complete(op, 'ok', observed ? observed(r.v) : undefined)
    else this.h.complete(op, r.t, undefined, r.why)
    if (r.t !== 'ok') {
      this.move(cl)
      // A failed op usually means no leader right now: do not spin.
      await sleep(r.t === 'fail' ? 20 : 5)
    }
    return r
  }

  start(): void {
    let p = 0
    for (let i = 0; i < this.o.registerClients; i++) {
      const cl = this.client(p++, i % 2 === 0 ? 'resp' : 'http')
      const rng = this.rng.fork(cl.p)
      this.loops.push(this.loop(() => this.registerOp(cl, rng)))
    }
    for (let i = 0; i < this.o.appendClients; i++) {
      // Appends go over RESP (HTTP has no APPEND); every third append client reads over HTTP.
      const cl = this.client(p++, i % 3 === 2 ? 'http' : 'resp')
      const rng = this.rng.fork(cl.p)
      this.loops.push(this.loop(() => this.appendOp(cl, rng)))
    }
  }

  private async loop(step: () => Promise<unknown>): Promise<void> {
    while (this.running) await step()
  }

  private async registerOp(cl: Client, rng: Rng): Promise<void> {
    const key = this.regKeys.take(rng)
    const r = rng.next()
    if (r < 0.45) {
      await this.record(cl, key, { f: 'read', value: null }, () => (cl.via === 'resp' ? cl.resp.get(key) : this.httpRead(cl, key)), (v) => v)
      return
    }
    const value = `${cl.p}.${cl.n++}`
    const expected = this.regKeys.last.get(key)
    if (r < 0.75 || expected === undefined) {
      const res = await this.record(cl, key, { f: 'write', value }, () => (cl.via === 'resp' ? cl.resp.set(key, value) : cl.http.put(key, value)))
      if (res.t === 'ok') this.regKeys.last.set(key, value)
      return
    }
    const res = await this.record(cl, key, { f: 'cas', expected, value }, () => (cl.via === 'resp' ? cl.resp.cas(key, expected, value) : cl.http.cas(key, expected, value)))
    if (res.t === 'ok') this.regKeys.last.set(key, value)
  }

  private async httpRead(cl: Client, key: string): Promise<Result<string | null>> {
    const g = await cl.http.get(key)
    return g.t === 'ok' ? { t: 'ok', v: g.v.value } : g
  }

  private async appendOp(cl: Client, rng: Rng): Promise<void> {
    const key = this.appKeys.take(rng)
    if (cl.via === 'http' || rng.next() < 0.35) {
      await this.readList(cl, key)
      return
    }
    const token = `${cl.p}.${cl.n++}`
    await this.record(cl, key, { f: 'append', value: token }, () => cl.resp.append(key, `${token} `))
  }

  private readList(cl: Client, key: string): Promise<Result<string | null>> {
    return this.record(cl, key, { f: 'read-list', value: null }, () => (cl.via === 'resp' ? cl.resp.get(key) : this.httpRead(cl, key)), (v) => splitTokens(v))
  }

  /** Stops issuing ops and waits for the ones in flight (each is bounded by the op timeout). */
  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }

  /**
   * After the faults healed: one read of every key ever used, from a process of its own, retried
   * (bounded) until it succeeds. Acknowledged writes missing here are lost writes.
   */
  async finalReads(deadlineMs: number): Promise<number> {
    const cl = this.client(1000, 'resp')
    let failed = 0
    for (const [keys, f] of [
      [this.regKeys.all, 'read'],
      [this.appKeys.all, 'read-list'],
    ] as const) {
      for (const key of keys) {
        let done = false
        while (!done && Date.now() < deadlineMs) {
          const r = f === 'read' ? await this.record(cl, key, { f: 'read', value: null }, () => cl.resp.get(key), (v) => v) : await this.readList(cl, key)
          done = r.t === 'ok'
        }
        if (!done) failed++
      }
    }
    for (const c of this.clients) c.resp.close()
    return failed
  }
}

export function splitTokens(v: string | null): string[] {
  return v === null ? [] : v.split(' ').filter((t) => t.length > 0)
}
