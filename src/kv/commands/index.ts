// The command table: every command by lower-case name.
import { clusterCommands } from './cluster.ts'
import { connectionCommands } from './connection.ts'
import { Dispatcher } from './dispatch.ts'
import { keyCommands } from './keys.ts'
import { peerCommands } from './peer.ts'
import { serverCommands } from './server-info.ts'
import { stringCommands } from './strings.ts'
import { transactionCommands } from './transactions.ts'
import type { Command } from './types.ts'
import type { KvService } from '../service.ts'

/** Builds the table and the dispatcher over it (transactions and peers need the dispatcher). */
export function buildDispatcher(svc: KvService): Dispatcher {
  const table = new Map<string, Command>()
  const d = new Dispatcher(svc, table)
  for (const c of [...connectionCommands, ...stringCommands, ...keyCommands, ...serverCommands, ...clusterCommands, ...transactionCommands(d), ...peerCommands(d)]) {
    if (table.has(c.name)) throw new Error(`command ${c.name} defined twice`)
    table.set(c.name, c)
  }
  return d
}
