// The `raftkv` command.
import { runLocal } from './cluster/local.ts'
import { ClusterUsageError, splitClusterArgs } from './cluster/options.ts'
import { parseNodeArgs, UsageError } from './node/options.ts'
import { runNode } from './node/main.ts'
import { ObserveUsageError, splitObserveArgs } from './observe/options.ts'

const usage = `usage:
  raftkv node --id N [--peers 1=host:port,…] [--data-dir DIR] [--http-port P] [--cluster-secret S] …
              [--rpc-log-size 50000 (0: off)] [--http-port-base B | --http-template host:{http}]
              [--offload auto|native|generic|off (default off)] [--offload-ifname IF (default: the --host interface)]
              [--read-mode safe|lease (default safe: every linearizable read confirmed by a quorum)]
              [--id-from-hostname] [--bootstrap-id 1] [--orchestrator local|kubernetes|none]
  raftkv local [--nodes 3] [--data-dir ./data]     a local cluster of processes on loopback`

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'node': {
      // The observability flags (--rpc-log-size …) are taken off first; the node parses the rest.
      // So are the cluster flags (--id-from-hostname, --bootstrap-id, --orchestrator …).
      const { rest: afterObserve, observe } = splitObserveArgs(rest)
      const { rest: nodeArgv, cluster } = splitClusterArgs(afterObserve)
      const cfg = parseNodeArgs(nodeArgv)
      const running = await runNode(cfg, undefined, observe, cluster)
      let closing = false
      const shutdown = (sig: string): void => {
        if (closing) return
        closing = true
        // Graceful: hand leadership away, drain the loop, close the database.
        running
          .close()
          .then(() => process.exit(0))
          .catch((e: unknown) => {
            console.error(`shutdown after ${sig} failed:`, e)
            process.exit(1)
          })
      }
      process.on('SIGTERM', () => shutdown('SIGTERM'))
      process.on('SIGINT', () => shutdown('SIGINT'))
      return
    }
    case 'local':
      await runLocal(rest)
      return
    default:
      console.error(usage)
      process.exit(2)
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError || e instanceof ObserveUsageError || e instanceof ClusterUsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`raftkv: ${e.message}\n${usage}`)
    process.exit(2)
  }
  console.error('raftkv: fatal:', e)
  process.exit(1)
})
