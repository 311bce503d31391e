// A connection state with no socket: forwarded writes are planned under one (a fresh one per
// request on the leader, so that CLIENT SETNAME or HELLO inside a forwarded transaction changes
// nothing on the peer's proxy connection; the client's own connection applied them already).
import type { ClientState } from '../commands/types.ts'
import { Gate } from './gate.ts'

export class InternalClient implements ClientState {
  readonly id = 0
  name = 'raftkv-internal'
  proto: 2 | 3 = 2
  authenticated = true
  readonlyMode = false
  libName = ''
  libVer = ''
  multi: Buffer[][] | null = null
  multiDirty = false
  watches: ClientState['watches'] = []
  peer = true
  closeAfterReply = false
  readonly gate = new Gate()

  describe(): string {
    return `id=0 name=${this.name}`
  }

  reset(): void {}
}
