// INCRBYFLOAT's arithmetic, bit for bit as Redis on x86-64: both operands are parsed with strtold
// into an 80-bit long double (64-bit significand), added with round-to-nearest-even, and printed
// with "%.17Lf" minus trailing zeros. Emulated exactly with BigInt, so every replica (and every
// platform) computes the same bytes, and `0.1 + 0.2` gives Redis's "0.3", not JS's 0.30000000000000004.

/** A finite binary value m × 2^e (m may be negative or zero). */
interface Bin {
  m: bigint
  e: number
}

const SIG_BITS = 64
/** Redis's MAX_LONG_DOUBLE_CHARS: longer inputs are not valid floats, longer outputs fail. */
const MAX_CHARS = 5 * 1024
/** |v| ≥ 2^16384 does not fit an 80-bit long double: it is infinity. */
const MAX_EXP = 16384

function bitlen(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length
}

/** Rounds n / d (both > 0) to the nearest integer, ties to even. */
function divRound(n: bigint, d: bigint): bigint {
  const q = n / d
  const r2 = (n % d) * 2n
  if (r2 > d || (r2 === d && (q & 1n) === 1n)) return q + 1n
  return q
}

/** Rounds a positive exact value n × 2^e to SIG_BITS significant bits. */
function roundSig(n: bigint, e: number): Bin {
  const len = bitlen(n)
  if (len <= SIG_BITS) return { m: n, e }
  const shift = len - SIG_BITS
  let m = divRound(n, 1n << BigInt(shift))
  let ee = e + shift
  if (bitlen(m) > SIG_BITS) {
    m >>= 1n
    ee++
  }
  return { m, e: ee }
}

/** Rounds the positive rational n / d to SIG_BITS significant bits (as strtold does). */
function ratioToBin(n: bigint, d: bigint): Bin {
  // Find k with 2^63 ≤ n·2^k/d < 2^64, then round that quotient once, from the exact ratio.
  let k = SIG_BITS - (bitlen(n) - bitlen(d))
  const floorAt = (k: number): bigint => (k >= 0 ? (n << BigInt(k)) / d : n / (d << BigInt(-k)))
  while (bitlen(floorAt(k)) > SIG_BITS) k--
  while (bitlen(floorAt(k)) < SIG_BITS) k++
  const m = k >= 0 ? divRound(n << BigInt(k), d) : divRound(n, d << BigInt(-k))
  // Rounding up to 2^64 is exact after one more halving.
  return bitlen(m) > SIG_BITS ? { m: m >> 1n, e: -k + 1 } : { m, e: -k }
}

type Parsed = Bin | 'inf' | '-inf'

/** strtold for decimal input (no hex floats): a value, ±infinity, or undefined if not a float. */
export function parseLongDouble(s: string): Parsed | undefined {
  if (s.length === 0 || s.length >= MAX_CHARS) return undefined
  const m = /^([+-]?)(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?$/.exec(s)
  if (!m) {
    const inf = /^([+-]?)inf(inity)?$/i.exec(s)
    if (!inf) return undefined
    return inf[1] === '-' ? '-inf' : 'inf'
  }
  const neg = m[1] === '-'
  const intPart = m[2] ?? ''
  const frac = m[3] ?? m[4] ?? ''
  const exp = m[5] ? Number(m[5]) : 0
  const digits = BigInt((intPart + frac).replace(/^0+(?=\d)/, '') || '0')
  const e10 = exp - frac.length
  if (digits === 0n) return { m: 0n, e: 0 }
  // Far outside the long double range: overflow (strtold's ERANGE → not a valid float in Redis)
  // or underflow to zero (also ERANGE; Redis rejects it).
  const magnitude = (intPart + frac).replace(/^0+/, '').length + e10
  if (magnitude > 4933 || magnitude < -4951) return undefined
  let b: Bin
  if (e10 >= 0) b = roundSig(digits * 10n ** BigInt(e10), 0)
  else b = ratioToBin(digits, 10n ** BigInt(-e10))
  if (bitlen(b.m) + b.e > MAX_EXP) return undefined
  return { m: neg ? -b.m : b.m, e: b.e }
}

function add(a: Bin, b: Bin): Bin {
  const e = Math.min(a.e, b.e)
  const s = (a.m << BigInt(a.e - e)) + (b.m << BigInt(b.e - e))
  if (s === 0n) return { m: 0n, e: 0 }
  const r = roundSig(s < 0n ? -s : s, e)
  return { m: s < 0n ? -r.m : r.m, e: r.e }
}

/** "%.17Lf" of m × 2^e, then Redis's trailing-zero trim (LD_STR_HUMAN). */
function format(v: Bin): string {
  const neg = v.m < 0n
  const m = neg ? -v.m : v.m
  const scale = 10n ** 17n
  const x = v.e >= 0 ? (m << BigInt(v.e)) * scale : divRound(m * scale, 1n << BigInt(-v.e))
  const ip = (x / scale).toString()
  const fp = (x % scale).toString().padStart(17, '0').replace(/0+$/, '')
  const s = (neg ? '-' : '') + ip + (fp ? `.${fp}` : '')
  return s === '-0' ? '0' : s
}

/**
 * old + by as Redis's INCRBYFLOAT stores it; null when the result is NaN or infinite (Redis:
 * "increment would produce NaN or Infinity"). Both strings are valid floats (checked by callers).
 */
export function formatIncrFloat(old: string, by: string): string | null {
  const a = parseLongDouble(old)
  const b = parseLongDouble(by)
  if (a === undefined || b === undefined) return null
  if (typeof a === 'string' || typeof b === 'string') return null
  const s = add(a, b)
  if (bitlen(s.m < 0n ? -s.m : s.m) + s.e > MAX_EXP) return null
  const out = format(s)
  return out.length + 1 > MAX_CHARS ? '' : out
}
