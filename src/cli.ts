// The `raftkv` command.
import { runLocal } from './cluster/local.ts'
import { parseNodeArgs, UsageError } from './node/options.ts'
import { runNode } from './node/main.ts'
import { ObserveUsageError, splitObserveArgs } from './observe/options.ts'

const usage = `usage:
  raftkv node --id N [--peers 1=host:port,…] [--data-dir DIR] [--http-port P] [--cluster-secret S] …
              [--rpc-log-size 50000 (0: off)] [--http-port-base B | --http-template host:{http}]
  raftkv local [--nodes 3] [--data-dir ./data]     a local cluster of processes on loopback`

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'node': {
      // The observability flags (--rpc-log-size …) are taken off first; the node parses the rest.
      const { rest: nodeArgv, observe } = splitObserveArgs(rest)
      const cfg = parseNodeArgs(nodeArgv)
      const running = await runNode(cfg, undefined, observe)
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
  if (e instanceof UsageError || e instanceof ObserveUsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`raftkv: ${e.message}\n${usage}`)
    process.exit(2)
  }
  console.error('raftkv: fatal:', e)
  process.exit(1)
})
