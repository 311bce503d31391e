// Preloaded (node --import) into node processes of the clock nemesis: shifts this process's wall
// clock (Date.now) by the number of milliseconds in the file named by RAFTKV_CLOCK_FILE, re-read
// every 20 ms, so the harness can jump one node's clock forward or back while it runs — like
// setting a machine's clock, the monotonic clocks (performance.now, hrtime) are not touched.
import { readFileSync } from 'node:fs'

const file = process.env.RAFTKV_CLOCK_FILE
if (file) {
  const realNow = Date.now.bind(Date)
  let offset = 0
  const load = () => {
    try {
      const n = Number(readFileSync(file, 'utf8').trim())
      if (Number.isFinite(n)) offset = n
    } catch {
      // No file yet: no offset.
    }
  }
  load()
  setInterval(load, 20).unref()
  Date.now = () => realNow() + offset
}
