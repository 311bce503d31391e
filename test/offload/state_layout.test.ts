// bpf/raft_state.h and src/offload/state.ts describe the same bytes: compile a C program
// against the header, print every size, offset and constant, and compare with STATE_LAYOUT.
// Needs only a C compiler (no root, no BPF).

import t from 'tap'
import { join } from 'node:path'
import {
  GLOBAL_STAT_COUNT, GlobalStat, RoleCode, STATE_LAYOUT, STATE_MAGIC, STATE_VERSION, StateFlag, VERDICT_COUNT, Verdict,
} from '../../src/offload/state.ts'
import { compileC, findCompiler, run } from '../transport/helpers.ts'
import { here } from './helpers.ts'

t.test('STATE_LAYOUT is self-consistent: contiguous, aligned', async (t) => {
  for (const [part, fields, size] of [
    ['user', STATE_LAYOUT.user.fields, STATE_LAYOUT.user.size],
    ['kern', STATE_LAYOUT.kern.fields, STATE_LAYOUT.kern.size],
    ['peer', STATE_LAYOUT.peer.fields, STATE_LAYOUT.peer.size],
    ['event', STATE_LAYOUT.event.fields, STATE_LAYOUT.event.size],
  ] as const) {
    let next = 0
    for (const [name, f] of Object.entries(fields)) {
      t.equal(f.offset, next, `${part}.${name} follows the previous field`)
      t.equal(f.offset % Math.min(f.size, 8), 0, `${part}.${name} is naturally aligned`)
      next = f.offset + f.size
    }
    t.equal(next, size, `${part}: fields cover the struct`)
  }
  t.equal(STATE_LAYOUT.kern.offset, STATE_LAYOUT.user.size, 'kernel half follows the user half')
  t.ok(STATE_LAYOUT.kern.offset + STATE_LAYOUT.kern.size <= STATE_LAYOUT.slotSize, 'both halves fit in a slot')
  t.equal(STATE_LAYOUT.user.fields.ring.size, STATE_LAYOUT.ringSize * STATE_LAYOUT.ringEntry.size, 'ring size')
  t.equal(STATE_LAYOUT.kern.fields.peers.size, STATE_LAYOUT.members * STATE_LAYOUT.peer.size, 'peers size')
  t.equal(STATE_LAYOUT.kern.fields.counters.size, 8 * STATE_LAYOUT.types * STATE_LAYOUT.verdicts, 'counters size')
  t.equal(STATE_LAYOUT.user.fields.alive_ns.offset % 8, 0, 'alive_ns can be stored atomically')
})

const cc = findCompiler()

t.test('C header layout and constants equal the TypeScript table', { skip: cc === null ? 'no C compiler' : false }, async (t) => {
  const { bin, cleanup } = compileC(cc!, [join(here, 'state_layout.c')])
  t.teardown(cleanup)
  const c = new Map<string, number>()
  for (const line of run(bin, []).trim().split('\n')) {
    const i = line.lastIndexOf(' ')
    c.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  t.equal(c.get('size.user'), STATE_LAYOUT.user.size, 'sizeof(raft_user)')
  t.equal(c.get('size.kern'), STATE_LAYOUT.kern.size, 'sizeof(raft_kern)')
  t.equal(c.get('size.slot'), STATE_LAYOUT.slotSize, 'sizeof(raft_slot)')
  t.equal(c.get('size.peer'), STATE_LAYOUT.peer.size, 'sizeof(raft_peer)')
  t.equal(c.get('size.event'), STATE_LAYOUT.event.size, 'sizeof(raft_event)')
  t.equal(c.get('size.ring_ent'), STATE_LAYOUT.ringEntry.size, 'sizeof(raft_ring_ent)')
  t.equal(c.get('offset.kern'), STATE_LAYOUT.kern.offset, 'offsetof(raft_slot, kern)')
  for (const [part, fields] of [
    ['user', STATE_LAYOUT.user.fields], ['kern', STATE_LAYOUT.kern.fields],
    ['peer', STATE_LAYOUT.peer.fields], ['event', STATE_LAYOUT.event.fields],
  ] as const) {
    const cFields = [...c.keys()].filter((k) => k.startsWith(`${part}.`) && k.endsWith('.offset')).map((k) => k.split('.')[1])
    t.same(cFields, Object.keys(fields), `${part}: same fields in the same order`)
    for (const [name, f] of Object.entries(fields)) {
      t.equal(c.get(`${part}.${name}.offset`), f.offset, `offsetof(${part}.${name})`)
      t.equal(c.get(`${part}.${name}.size`), f.size, `sizeof(${part}.${name})`)
    }
  }
  t.equal(c.get('const.RAFT_STATE_MAGIC'), STATE_MAGIC, 'magic')
  t.equal(c.get('const.RAFT_STATE_VERSION'), STATE_VERSION, 'version')
  t.equal(c.get('const.RAFT_STATE_SLOTS'), STATE_LAYOUT.slots, 'slots')
  t.equal(c.get('const.RAFT_STATE_SLOT_SIZE'), STATE_LAYOUT.slotSize, 'slot size')
  t.equal(c.get('const.RAFT_STATE_RING'), STATE_LAYOUT.ringSize, 'ring')
  t.equal(c.get('const.RAFT_STATE_MEMBERS'), STATE_LAYOUT.members, 'members')
  t.equal(c.get('const.RAFT_STATE_TYPES'), STATE_LAYOUT.types, 'types')
  t.equal(c.get('const.RAFT_STATE_VERDICTS'), STATE_LAYOUT.verdicts, 'verdict columns')
  t.equal(c.get('const.RAFT_TAG_SHIFT'), STATE_LAYOUT.tagShift, 'tag shift')
  t.equal(c.get('const.RAFT_VERDICT_COUNT'), VERDICT_COUNT, 'verdict count')
  t.equal(c.get('const.RAFT_G_COUNT'), GLOBAL_STAT_COUNT, 'global stats')
  for (const [k, v] of Object.entries(RoleCode)) t.equal(c.get(`role.${k}`), v, `role ${k}`)
  for (const [k, v] of Object.entries(StateFlag)) t.equal(c.get(`flag.${k}`), v, `flag ${k}`)
  for (const [k, v] of Object.entries(GlobalStat)) t.equal(c.get(`gstat.${k}`), v, `gstat ${k}`)
  for (const [k, v] of Object.entries(Verdict)) t.equal(c.get(`verdict.${k}`), v, `verdict ${k}`)
  t.equal([...c.keys()].filter((k) => k.startsWith('verdict.')).length, Object.keys(Verdict).length, 'no extra C verdicts')
})
