// Internal commands between members (hidden from COMMAND): a follower's proxy proves it is a peer
// (RAFTKV.PEER <id> <proof>), then forwards writes (RAFTKV.FWD <client> <seq> <ack> <payload>).
// Forwarded writes run under the proxy lane's deduplication session, so a retry after a lost
// connection is answered, not applied twice. Outcomes the proxy must act on are errors with a
// RAFTKV.* code; anything else is the command's reply, msgpack-encoded in one bulk string.
import { timingSafeEqual } from 'node:crypto'
import { bulk, err, OK } from '../reply.ts'
import { decodePayload, encodeReply, peerProof } from '../proxy.ts'
import { parseLL, text } from './args.ts'
import type { Dispatcher } from './dispatch.ts'
import { cmd, later, m, reply, type Command } from './types.ts'

const NONE: [number, number, number] = [0, 0, 0]

export function peerCommands(d: Dispatcher): Command[] {
  return [
    {
      ...cmd('raftkv.peer', m(3, 'fast', NONE, 'admin', 'raftkv', 'Identify this connection as a cluster peer', '0.1.0'), (c, a) => {
        const id = Number(parseLL(a[1]!) ?? 0n)
        const st = c.svc.node.status()
        const member = st.conf.voters.includes(id) || st.conf.learners.includes(id)
        const want = Buffer.from(peerProof(c.svc.cfg.secret, id))
        const got = a[2]!
        if (!member || want.length !== got.length || !timingSafeEqual(want, got)) return reply(err(`ERR peer ${text(a[1]!)} rejected`))
        c.c.peer = true
        return reply(OK)
      }),
      hidden: true,
    },
    {
      ...cmd('raftkv.fwd', m(5, 'write', NONE, 'admin', 'raftkv', 'A write forwarded by a follower', '0.1.0'), (c, a) => {
        if (!c.c.peer) return reply(err('ERR RAFTKV.FWD is only accepted from cluster peers'))
        const seq = parseLL(a[2]!)
        const ack = parseLL(a[3]!)
        const payload = decodePayload(a[4]!)
        if (seq === undefined || ack === undefined || !payload) return reply(err('ERR malformed RAFTKV.FWD'))
        const session = { client: text(a[1]!), seq: Number(seq), ack: Number(ack) }
        // Proposed in arrival order (the dispatch is synchronous up to the proposal).
        return later(async () => {
          const o = await d.runForwarded(payload, session)
          switch (o.t) {
            case 'reply':
              return bulk(encodeReply(o.reply))
            case 'not-leader':
              return err(`RAFTKV.NOTLEADER ${o.leader}`)
            case 'unknown':
              return err('RAFTKV.UNKNOWN not committed yet')
            case 'retry':
              return err('RAFTKV.RETRY not applied')
          }
        }, 'write')
      }),
      hidden: true,
    },
  ]
}
