// MessagePack for the KV layer's log entries, dedup sessions and proxy payloads.
// Integers beyond 2^53 travel as int64 and come back as bigint; every integer that fits a double
// comes back as a number, and binary comes back as a Buffer view (no copy), so callers see the
// same shapes they packed.
import { Decoder, Encoder } from '@msgpack/msgpack'

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true })
const decoder = new Decoder({ useBigInt64: true })

export function pack(v: unknown): Uint8Array {
  return encoder.encode(v)
}

function normalize(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  }
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = normalize(v[i])
    return v
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) o[k] = normalize(o[k])
    return o
  }
  return v
}

/** Decodes one value; throws on malformed input (callers turn that into an error reply). */
export function unpack(b: Uint8Array): unknown {
  return normalize(decoder.decode(b))
}
