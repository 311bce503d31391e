// Argument parsing with Redis's rules and error texts (object.c getLongLongFromObject & co.).
import { E, err, type Reply } from '../reply.ts'

export const LLONG_MAX = 2n ** 63n - 1n
export const LLONG_MIN = -(2n ** 63n)

/** An option name, lower-cased for case-insensitive comparison (as strcasecmp). */
export function opt(b: Buffer): string {
  return b.toString('latin1').toLowerCase()
}

/** Bytes as text for error messages and names. */
export function text(b: Buffer): string {
  return b.toString('utf8')
}

/** Redis's string2ll: optional '-', digits without leading zeros, within 64 bits. */
export function parseLL(b: Buffer): bigint | undefined {
  if (b.length === 0 || b.length > 20) return undefined
  const s = b.toString('latin1')
  if (!/^-?[1-9][0-9]*$/.test(s) && s !== '0') return undefined
  const v = BigInt(s)
  return v < LLONG_MIN || v > LLONG_MAX ? undefined : v
}

/** A 64-bit integer argument, or the "not an integer" error reply. */
export function llArg(b: Buffer): bigint | Reply {
  const v = parseLL(b)
  return v === undefined ? err(E.notInt) : v
}

/** An int (32-bit) argument (getIntFromObjectOrReply). */
export function intArg(b: Buffer): number | Reply {
  const v = parseLL(b)
  if (v === undefined) return err(E.notInt)
  if (v > 2147483647n || v < -2147483648n) return err('ERR value is out of range, value must between -2147483648 and 2147483647')
  return Number(v)
}

export function isReply(x: unknown): x is Reply {
  return typeof x === 'object' && x !== null && 'k' in x
}

/** Clamps a 64-bit integer into the doubles' exact range (lengths never come close to the edges). */
export function clampNum(v: bigint): number {
  const lim = 2n ** 53n
  return Number(v > lim ? lim : v < -lim ? -lim : v)
}
