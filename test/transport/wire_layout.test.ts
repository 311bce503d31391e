// bpf/raft_wire.h and src/transport/wire.ts describe the same bytes: compile a C program
// against the header, print every size, offset and constant, and compare with WIRE_LAYOUT.
// Also checks the header's raft_wire_mac() (what XDP will run) against the TypeScript MAC.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { MsgType, emptyMessage } from '../../src/raft/types.ts'
import {
  WIRE_LAYOUT, WIRE_MAGIC, WIRE_SIZE, WIRE_TYPE_MAX, WIRE_TYPE_MIN, WIRE_VERSION, WireFlag, WireType,
  encodeControl,
} from '../../src/transport/wire.ts'
import { compileC, findCompiler, here, hex, repoRoot, rng, run } from './helpers.ts'

t.test('WIRE_LAYOUT is self-consistent: contiguous, aligned, mac last', async (t) => {
  let next = 0
  for (const [name, f] of Object.entries(WIRE_LAYOUT.fields)) {
    t.equal(f.offset, next, `${name} follows the previous field`)
    t.equal(f.offset % f.size, 0, `${name} is naturally aligned`)
    next = f.offset + f.size
  }
  t.equal(next, WIRE_LAYOUT.size, 'fields cover the whole header')
  t.equal(WIRE_LAYOUT.fields.mac.offset + 8, WIRE_LAYOUT.size, 'mac is the last 8 bytes')
  t.equal(WIRE_LAYOUT.fields.mac.offset % 8, 0, 'the MACed prefix is whole 64-bit words')
})

t.test('WireType equals MsgType for every control type', async (t) => {
  for (const [name, v] of Object.entries(WireType)) {
    t.equal(v, MsgType[name as keyof typeof MsgType], name)
    t.ok(v >= WIRE_TYPE_MIN && v <= WIRE_TYPE_MAX, `${name} within the control range`)
  }
  const control = Object.values(MsgType).filter((v) => v >= WIRE_TYPE_MIN && v <= WIRE_TYPE_MAX)
  t.same([...control].sort((a, b) => a - b), Object.values(WireType).sort((a, b) => a - b), 'no control MsgType is missing')
})

const cc = findCompiler()
const noCc = cc === null ? 'no C compiler (tried $CC, cc, gcc, clang): cannot compile bpf/raft_wire.h' : false
const noClang = spawnSync('clang', ['--version']).status === 0
  ? false
  : 'clang not installed: BPF-target compile check skipped (apt-get install clang)'

t.test('C header layout and constants equal the TypeScript table', { skip: noCc }, async (t) => {
  const { bin, cleanup } = compileC(cc!, [join(here, 'wire_layout.c')])
  t.teardown(cleanup)
  const c = new Map<string, number>()
  for (const line of run(bin, []).trim().split('\n')) {
    const [k, v] = line.split(' ')
    c.set(k!, Number(v))
  }
  t.equal(c.get('size'), WIRE_LAYOUT.size, 'sizeof(struct raft_wire_hdr)')
  t.equal(c.get('const.RAFT_WIRE_SIZE'), WIRE_SIZE, 'RAFT_WIRE_SIZE')
  t.equal(c.get('const.RAFT_WIRE_MAC_OFFSET'), WIRE_LAYOUT.fields.mac.offset, 'RAFT_WIRE_MAC_OFFSET')
  const cFields = [...c.keys()].filter((k) => k.startsWith('field.') && k.endsWith('.offset')).map((k) => k.split('.')[1])
  t.same(cFields, Object.keys(WIRE_LAYOUT.fields), 'same fields in the same order')
  for (const [name, f] of Object.entries(WIRE_LAYOUT.fields)) {
    t.equal(c.get(`field.${name}.offset`), f.offset, `offsetof(${name})`)
    t.equal(c.get(`field.${name}.size`), f.size, `sizeof(${name})`)
  }
  t.equal(c.get('const.RAFT_WIRE_MAGIC'), WIRE_MAGIC, 'magic')
  t.equal(c.get('const.RAFT_WIRE_VERSION'), WIRE_VERSION, 'version')
  t.equal(c.get('const.RAFT_WIRE_TYPE_MIN'), WIRE_TYPE_MIN, 'type min')
  t.equal(c.get('const.RAFT_WIRE_TYPE_MAX'), WIRE_TYPE_MAX, 'type max')
  for (const [name, v] of Object.entries(WireType)) t.equal(c.get(`type.${name}`), v, `type ${name}`)
  t.equal([...c.keys()].filter((k) => k.startsWith('type.')).length, Object.keys(WireType).length, 'no extra C types')
  for (const [name, v] of Object.entries(WireFlag)) t.equal(c.get(`flag.${name}`), v, `flag ${name}`)
  t.equal(c.get('flag.KNOWN'), WireFlag.Reject | WireFlag.Transfer, 'known flag mask')
})

t.test('raft_wire_mac() in C equals the TypeScript MAC on encoded packets', { skip: noCc }, async (t) => {
  const { bin, cleanup } = compileC(cc!, [join(here, 'wire_layout.c')])
  t.teardown(cleanup)
  const r = rng(0xc0ffee)
  const pkts: Buffer[] = []
  const keys: Uint8Array[] = []
  for (let i = 0; i < 500; i++) {
    const m = emptyMessage(WireType.Heartbeat + (i % 8) as MsgType, 1 + r.int(0xffff), 1 + r.int(0xffff), r.u32())
    m.index = r.u32() * 0x200000 + r.int(0x200000)
    m.commit = r.u32()
    m.ctx = r.int(1000)
    m.reject = (i & 1) === 1
    const key = r.bytes(16)
    keys.push(key)
    pkts.push(encodeControl(m, r.u32(), key))
  }
  const out = run(bin, ['mac'], pkts.map((p, i) => `${hex(keys[i]!)} ${hex(p)}\n`).join('')).trim().split('\n')
  let bad = 0
  for (let i = 0; i < pkts.length; i++) {
    if (out[i] !== pkts[i]!.subarray(WIRE_LAYOUT.fields.mac.offset).toString('hex')) bad++
  }
  t.equal(bad, 0, `${pkts.length} packets: C mac == stored TS mac`)
})

t.test('the header compiles for the BPF target', { skip: noClang }, async (t) => {
  const args = ['-target', 'bpf', '-O2', '-Wall', '-Werror', '-I', join(repoRoot, 'bpf')]
  // <linux/types.h> includes <asm/types.h>, which Debian/Ubuntu keep under the multiarch directory.
  for (const dir of ['/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu']) args.push('-idirafter', dir)
  const r = spawnSync('clang', [...args, '-c', join(here, 'wire_bpf_check.c'), '-o', '/dev/null'], { encoding: 'utf8' })
  t.equal(r.status, 0, `clang -target bpf: ${r.stderr}`)
})
