// Everything a run must undo even when it is interrupted: node processes and namespaces. Each run
// registers synchronous undo functions; they run on normal exit, on SIGINT/SIGTERM and on an
// uncaught error, and are removed when the run cleans up after itself.
const undo = new Set<() => void>()
let installed = false

function runAll(): void {
  for (const f of [...undo].reverse()) {
    try {
      f()
    } catch {
      // Best effort: keep undoing the rest.
    }
  }
  undo.clear()
}

export function onCleanup(f: () => void): () => void {
  if (!installed) {
    installed = true
    process.on('exit', runAll)
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        runAll()
        process.exit(130)
      })
    }
  }
  undo.add(f)
  return () => undo.delete(f)
}
