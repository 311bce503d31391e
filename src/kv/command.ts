// The commands the replicated state machine applies, as they travel in Raft log entries.
// A compact binary form: op u8 | key length u32 | key | value length u32 | value.
// (The RESP layer adds more operations; the encoding leaves room by tagging each with its op.)

export const Op = {
  Set: 1,
  Del: 2,
} as const
export type Op = (typeof Op)[keyof typeof Op]

export type Command = { op: typeof Op.Set; key: Uint8Array; value: Uint8Array } | { op: typeof Op.Del; key: Uint8Array }

export function encodeCommand(c: Command): Uint8Array {
  const value = c.op === Op.Set ? c.value : new Uint8Array(0)
  const out = new Uint8Array(1 + 4 + c.key.length + 4 + value.length)
  const dv = new DataView(out.buffer)
  out[0] = c.op
  dv.setUint32(1, c.key.length)
  out.set(c.key, 5)
  dv.setUint32(5 + c.key.length, value.length)
  out.set(value, 9 + c.key.length)
  return out
}

/** Decodes a command; returns an error text for anything malformed (never throws). */
export function decodeCommand(data: Uint8Array): Command | string {
  if (data.length < 9) return 'command too short'
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const op = data[0]
  const klen = dv.getUint32(1)
  if (5 + klen + 4 > data.length) return 'key length out of range'
  const key = data.subarray(5, 5 + klen)
  const vlen = dv.getUint32(5 + klen)
  if (9 + klen + vlen !== data.length) return 'value length out of range'
  const value = data.subarray(9 + klen)
  switch (op) {
    case Op.Set:
      return { op, key, value }
    case Op.Del:
      return { op, key }
    default:
      return `unknown op ${op}`
  }
}
