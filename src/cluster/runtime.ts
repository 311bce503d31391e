// How a node process is run (by `raftkv local`, the container image, the benchmarks): the V8 and
// malloc settings that keep a node's resident memory near what it holds rather than what it has
// churned through.
//
// - A 4 MiB young-generation semi-space (V8's default grows to 16 MiB ×3): applying a stream of
//   large entries makes short-lived garbage, and a big young generation is memory held, not saved.
// - Two malloc arenas: LevelDB allocates on libuv's threads, and an arena per thread keeps tens of
//   megabytes of freed memory per node.
// - A 4 MiB trim threshold: freed buffers above it go back to the system instead of waiting.
// Measured by bench/memory (a node holding 1,000,000 keys of 100 bytes).
export const NODE_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=4']
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '4194304' }
