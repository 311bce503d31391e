// Crash injection for fault testing (the fault harness in test/jepsen/): with
//   RAFTKV_FAILPOINT=before-fsync:<n>   the process dies (SIGKILL, no cleanup) right before its
//                                       n-th synced write: that batch never reaches the disk;
//   RAFTKV_FAILPOINT=after-write:<n>    the n-th synced batch is written without fsync and the
//                                       process dies before it could report success;
// <n> may also be a probability in (0, 1) applied to every synced write. Unset (production), the
// check is one comparison on a constant.
import { writeSync } from 'node:fs'

type Mode = 'before-fsync' | 'after-write'

function parse(v: string | undefined): { mode: Mode; count: number; p: number } | null {
  const m = /^(before-fsync|after-write):(\d+|0?\.\d+)$/.exec(v ?? '')
  if (!m) return null
  const n = Number(m[2])
  return n >= 1 ? { mode: m[1] as Mode, count: n, p: 0 } : { mode: m[1] as Mode, count: 0, p: n }
}

const fp = parse(process.env['RAFTKV_FAILPOINT'])
let synced = 0

/** Which crash (if any) this synced write is to suffer. */
export function syncFailpoint(): Mode | null {
  if (fp === null) return null
  synced++
  const hit = fp.count > 0 ? synced === fp.count : Math.random() < fp.p
  return hit ? fp.mode : null
}

/** Dies at once, as a power cut or kill -9 would (after one line on stderr for the harness). */
export function crashNow(mode: Mode): never {
  writeSync(2, `failpoint ${mode} fired at synced write ${synced}\n`)
  process.kill(process.pid, 'SIGKILL')
  throw new Error('unreachable: SIGKILL did not end the process')
}
