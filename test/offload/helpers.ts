// Shared helpers for the offload tests (not a test file itself: tap runs *.test.ts only):
// building the artifacts on demand, skip reasons, and crafted Ethernet/IP/UDP packets.

import { spawnSync } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { emptyMessage, type Message, type MsgType } from '../../src/raft/types.ts'
import { encodeControl, WIRE_SIZE } from '../../src/transport/wire.ts'
import { missingPrivileges } from '../../src/offload/addon.ts'
import type { PublishedState } from '../../src/offload/state.ts'

export const here = dirname(fileURLToPath(import.meta.url))
export const repoRoot = resolve(here, '..', '..')

let built: string | false | null = null

/**
 * Builds bpf/build/raft_xdp.o and the addon when their sources are newer (a no-op otherwise).
 * Returns false when both are there, or why the BPF tests must skip (a tool is missing). A build
 * that fails (a compile error, not a missing tool) throws: that is a bug, never a skip.
 */
export function buildSkipReason(): string | false {
  if (built !== null) return built
  const r = spawnSync('bash', [resolve(repoRoot, 'scripts', 'build-native.sh')], { encoding: 'utf8' })
  if (r.status !== 0 && r.status !== 3) throw new Error(`scripts/build-native.sh failed (exit ${r.status}):\n${r.stderr}`)
  built = r.status === 0 ? false : `native build unavailable: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`
  return built
}

/**
 * Why BPF_PROG_RUN tests cannot run here (false when they can). A program the verifier rejects
 * is not a reason to skip: the tests then fail, with the verifier's log.
 */
export function bpfSkipReason(): string | false {
  const priv = missingPrivileges()
  if (priv) return `BPF tests need root or CAP_BPF + CAP_NET_ADMIN: ${priv}`
  return buildSkipReason()
}

// ---- packets ---------------------------------------------------------------------------------

export interface Endpoints {
  srcMac: string
  dstMac: string
  srcIp: string
  dstIp: string
  sport: number
  dport: number
}

export const LEADER_EP = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.77.0.1', dstIp: '10.77.0.2', sport: 7001, dport: 7002 }

function macBytes(s: string): Buffer {
  return Buffer.from(s.split(':').map((h) => parseInt(h, 16)))
}

function ip4Bytes(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number))
}

function ip6Bytes(s: string): Buffer {
  // Expands "fd00::1"-style addresses.
  const [head, tail] = s.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i))
  return b
}

/** The Internet checksum (RFC 1071) of `parts` concatenated (each of even length but the last). */
export function inetChecksum(...parts: Buffer[]): number {
  let sum = 0
  const all = Buffer.concat(parts)
  for (let i = 0; i + 1 < all.length; i += 2) sum += all.readUInt16BE(i)
  if (all.length & 1) sum += all[all.length - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** Ethernet + IPv4 + UDP around `payload`, with correct IP and UDP checksums. */
export function ipv4Packet(payload: Buffer, ep: Endpoints = LEADER_EP, opts: { udpLen?: number; ipLen?: number; proto?: number; ihl?: number; frag?: number } = {}): Buffer {
  const eth = Buffer.concat([macBytes(ep.dstMac), macBytes(ep.srcMac), Buffer.from([0x08, 0x00])])
  const ihl = opts.ihl ?? 5
  const ip = Buffer.alloc(ihl * 4)
  ip[0] = 0x40 | ihl
  ip.writeUInt16BE(opts.ipLen ?? ihl * 4 + 8 + payload.length, 2)
  ip.writeUInt16BE(0x1234, 4)
  ip.writeUInt16BE(opts.frag ?? 0x4000, 6) // DF
  ip[8] = 63
  ip[9] = opts.proto ?? 17
  ip4Bytes(ep.srcIp).copy(ip, 12)
  ip4Bytes(ep.dstIp).copy(ip, 16)
  ip.writeUInt16BE(inetChecksum(ip), 10)
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(ep.sport, 0)
  udp.writeUInt16BE(ep.dport, 2)
  udp.writeUInt16BE(opts.udpLen ?? 8 + payload.length, 4)
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 17]), Buffer.from([(8 + payload.length) >> 8, (8 + payload.length) & 0xff])])
  udp.writeUInt16BE(inetChecksum(pseudo, udp, payload) || 0xffff, 6)
  return Buffer.concat([eth, ip, udp, payload])
}

/** Ethernet + IPv6 + UDP around `payload`, with the (mandatory) UDP checksum. */
export function ipv6Packet(payload: Buffer, ep: { srcMac: string; dstMac: string; srcIp: string; dstIp: string; sport: number; dport: number }): Buffer {
  const eth = Buffer.concat([macBytes(ep.dstMac), macBytes(ep.srcMac), Buffer.from([0x86, 0xdd])])
  const ip = Buffer.alloc(40)
  ip.writeUInt32BE(0x60000000, 0)
  ip.writeUInt16BE(8 + payload.length, 4)
  ip[6] = 17
  ip[7] = 63
  ip6Bytes(ep.srcIp).copy(ip, 8)
  ip6Bytes(ep.dstIp).copy(ip, 24)
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(ep.sport, 0)
  udp.writeUInt16BE(ep.dport, 2)
  udp.writeUInt16BE(8 + payload.length, 4)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(8 + payload.length)
  udp.writeUInt16BE(inetChecksum(ip.subarray(8, 40), len, Buffer.from([0, 0, 0, 17]), udp, payload) || 0xffff, 6)
  return Buffer.concat([eth, ip, udp, payload])
}

export interface ParsedPacket {
  v6: boolean
  srcMac: string
  dstMac: string
  srcIp: string
  dstIp: string
  sport: number
  dport: number
  ttl: number
  ipChecksumOk: boolean
  udpChecksum: number
  udpChecksumOk: boolean
  payload: Buffer
}

function macStr(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** Parses what the program returned; checks both checksums (UDP 0 = none, valid for IPv4 only). */
export function parsePacket(b: Buffer): ParsedPacket {
  const v6 = b.readUInt16BE(12) === 0x86dd
  if (!v6) {
    const ip = b.subarray(14, 34)
    const udp = b.subarray(34, 42)
    const payload = b.subarray(42, 14 + ip.readUInt16BE(2))
    const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 17]), udp.subarray(4, 6)])
    const csum = udp.readUInt16BE(6)
    return {
      v6,
      dstMac: macStr(b.subarray(0, 6)),
      srcMac: macStr(b.subarray(6, 12)),
      srcIp: [...ip.subarray(12, 16)].join('.'),
      dstIp: [...ip.subarray(16, 20)].join('.'),
      sport: udp.readUInt16BE(0),
      dport: udp.readUInt16BE(2),
      ttl: ip[8]!,
      ipChecksumOk: inetChecksum(ip) === 0,
      udpChecksum: csum,
      udpChecksumOk: csum === 0 || inetChecksum(pseudo, udp, payload) === 0,
      payload: Buffer.from(payload),
    }
  }
  const ip = b.subarray(14, 54)
  const udp = b.subarray(54, 62)
  const plen = ip.readUInt16BE(4)
  const payload = b.subarray(62, 54 + plen)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(plen)
  const csum = udp.readUInt16BE(6)
  return {
    v6,
    dstMac: macStr(b.subarray(0, 6)),
    srcMac: macStr(b.subarray(6, 12)),
    srcIp: ip.subarray(8, 24).toString('hex'),
    dstIp: ip.subarray(24, 40).toString('hex'),
    sport: udp.readUInt16BE(0),
    dport: udp.readUInt16BE(2),
    ttl: ip[7]!,
    ipChecksumOk: true,
    udpChecksum: csum,
    udpChecksumOk: csum !== 0 && inetChecksum(ip.subarray(8, 40), len, Buffer.from([0, 0, 0, 17]), udp, payload) === 0,
    payload: Buffer.from(payload),
  }
}

/** A control message with the given fields. */
export function msg(type: MsgType, from: number, to: number, term: number, f: Partial<Message> = {}): Message {
  return { ...emptyMessage(type, from, to, term), ...f }
}

export const CLUSTER = 0xc1a55e
export const KEY = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i)

/** The UDP payload of a control message (MAC'd with KEY unless told otherwise). */
export function wire(m: Message, opts: { key?: Uint8Array | null; cluster?: number } = {}): Buffer {
  return encodeControl(m, opts.cluster ?? CLUSTER, opts.key === undefined ? KEY : opts.key)
}
export { WIRE_SIZE }

export const MS = 1_000_000n

/** A follower of leader 1 in term 5 (self = 2, voters 1 2 3), log (10, 5), commit 8. */
export function followerState(over: Partial<PublishedState> = {}): PublishedState {
  return {
    nodeId: 2,
    clusterId: CLUSTER,
    port: LEADER_EP.dport,
    key: KEY,
    role: 'follower',
    term: 5,
    votedFor: 1,
    leader: 1,
    lastIndex: 10,
    lastTerm: 5,
    commit: 8,
    termStart: 0,
    voters: [1, 2, 3],
    learners: [],
    checkQuorum: true,
    electionTimeoutNs: 150n * MS,
    leaseMarginNs: 20n * MS,
    aliveMaxNs: 10_000n * MS,
    contactNs: 0n,
    quietUntilNs: 0n,
    entries: Array.from({ length: 10 }, (_, i) => ({ index: i + 1, term: i < 6 ? 4 : 5 })),
    ...over,
  }
}

export const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const
