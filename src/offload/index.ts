// The kernel fast path, TypeScript side: see DESIGN.md §5 and bpf/raft_xdp.c.
export * from './addon.ts'
export * from './events.ts'
export * from './offload.ts'
export * from './publisher.ts'
export * from './state.ts'
export * from './binding.ts'
export * from './driver.ts'
export * from './metrics.ts'
