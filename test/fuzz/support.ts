// Shared by the fuzzers: how many inputs per path (FUZZ_RUNS; the full campaign is 100000, CI uses
// the small default), a bounded-concurrency runner, raw socket exchanges that never wait forever,
// and a process's resident memory (to catch leaks across many inputs).
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'

export const FUZZ_RUNS = Number(process.env['FUZZ_RUNS'] ?? 300)
export const FUZZ_CONCURRENCY = Number(process.env['FUZZ_CONCURRENCY'] ?? 16)
/** fast-check's seed, printed on failure by fast-check itself; fixed here unless FUZZ_SEED is set. */
export const FUZZ_SEED = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : undefined

/** Runs `n` tasks, `conc` at a time; the first failure rejects once the running ones settle. */
export async function pool(n: number, conc: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  let failure: unknown = null
  await Promise.all(
    Array.from({ length: Math.min(conc, n) }, async () => {
      while (next < n && failure === null) {
        const i = next++
        try {
          await task(i)
        } catch (e) {
          failure ??= e
        }
      }
    }),
  )
  if (failure !== null) throw failure
}

export interface Exchange {
  data: Buffer
  /** The server closed the connection. */
  closed: boolean
  /** The connection could not be opened (counts as a failure of the node). */
  refused: boolean
}

/**
 * Sends `bytes`, collects what comes back until the server closes or is silent for `idleMs` — or,
 * once `expectClose(data)` holds (an answer after which the server must hang up), for up to
 * `closeWaitMs`: on a loaded machine the close can lag the last reply.
 */
export function exchange(host: string, port: number, bytes: Buffer, idleMs: number, expectClose: (data: Buffer) => boolean = () => false, closeWaitMs = 5000): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const sock = connect({ host, port })
    let timer: NodeJS.Timeout | null = null
    let done = false
    const finish = (closed: boolean, refused = false) => {
      if (done) return
      done = true
      if (timer) clearTimeout(timer)
      sock.destroy()
      resolve({ data: Buffer.concat(chunks), closed, refused })
    }
    const arm = () => {
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => finish(false), expectClose(Buffer.concat(chunks)) ? closeWaitMs : idleMs)
    }
    sock.on('connect', () => {
      sock.write(bytes)
      arm()
    })
    sock.on('data', (d: Buffer) => {
      chunks.push(d)
      arm()
    })
    sock.on('end', () => finish(true))
    sock.on('close', () => finish(true))
    sock.on('error', (e: NodeJS.ErrnoException) => finish(true, e.code === 'ECONNREFUSED'))
  })
}

/** Resident set size of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

/**
 * Allowed growth of a node's memory over a campaign. Generous: V8 grows its heap lazily, so only a
 * leak proportional to the number of inputs can cross it.
 */
export const RSS_GROWTH_LIMIT = 150 * 1024 * 1024
