// Preloaded into every node process the cluster tests and benchmarks start (through NODE_OPTIONS,
// so grandchildren of `raftkv local` get it too): if the process that started us dies without
// killing us (a test runner timeout, a crash), exit instead of squatting on ports forever.
// The timer is unref'd: it never keeps a node alive, and a node that exits normally is unaffected.
const parent = process.ppid
const timer = setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL')
}, 500)
timer.unref()
