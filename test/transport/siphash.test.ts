// SipHash-2-4: the official test vectors, and agreement with an independent C implementation.

import t from 'tap'
import { siphash24, siphash24Into } from '../../src/transport/siphash.ts'
import { compileC, findCompiler, here, hex, rng, run } from './helpers.ts'
import { join } from 'node:path'

// vectors_sip64 from the reference implementation (github.com/veorq/SipHash, vectors.h):
// key 00 01 … 0f, message i = bytes 00 01 … (i-1); each output as its 8 little-endian bytes.
const VECTORS = [
  '310e0edd47db6f72', 'fd67dc93c539f874', '5a4fa9d909806c0d', '2d7efbd796666785',
  'b7877127e09427cf', '8da699cd64557618', 'cee3fe586e46c9cb', '37d1018bf50002ab',
  '6224939a79f5f593', 'b0e4a90bdf82009e', 'f3b9dd94c5bb5d7a', 'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75', '903d84c02756ea14', 'eef27a8e90ca23f7', 'e545be4961ca29a1',
  'db9bc2577fcc2a3f', '9447be2cf5e99a69', '9cd38d96f0b3c14b', 'bd6179a71dc96dbb',
  '98eea21af25cd6be', 'c7673b2eb0cbf2d0', '883ea3e395675393', 'c8ce5ccd8c030ca8',
  '94af49f6c650adb8', 'eab8858ade92e1bc', 'f315bb5bb835d817', 'adcf6b0763612e2f',
  'a5c91da7acaa4dde', '716595876650a2a6', '28ef495c53a387ad', '42c341d8fa92d832',
  'ce7cf2722f512771', 'e37859f94623f3a7', '381205bb1ab0e012', 'ae97a10fd434e015',
  'b4a31508beff4d31', '81396229f0907902', '4d0cf49ee5d4dcca', '5c73336a76d8bf9a',
  'd0a704536ba93e0e', '925958fcd6420cad', 'a915c29bc8067318', '952b79f3bc0aa6d4',
  'f21df2e41d4535f9', '87577519048f53a9', '10a56cf5dfcd9adb', 'eb75095ccd986cd0',
  '51a9cb9ecba312e6', '96afadfc2ce666c7', '72fe52975a4364ee', '5a1645b276d592a1',
  'b274cb8ebf87870a', '6f9bb4203de7b381', 'eaecb2a30b22a87f', '9924a43cc1315724',
  'bd838d3aafbf8db7', '0b1a2a3265d51aea', '135079a3231ce660', '932b2846e4d70666',
  'e1915f5cb1eca46c', 'f325965ca16d629f', '575ff28e60381be5', '724506eb4c328a95',
]

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i)
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i)
/** The vector's little-endian bytes as the u64 value siphash24 returns. */
const vectorValue = (v: string): bigint => Buffer.from(v, 'hex').readBigUInt64LE(0)

t.test('official 64-entry vector table (lengths 0..63)', async (t) => {
  for (let i = 0; i < VECTORS.length; i++) {
    t.equal(siphash24(KEY, seq(i)), vectorValue(VECTORS[i]!), `length ${i}`)
  }
})

t.test('the paper example: 15 bytes → a129ca6149be45e5', async (t) => {
  t.equal(siphash24(KEY, seq(15)), 0xa129ca6149be45e5n)
})

t.test('siphash24Into honours offset and length, and writes [hi, lo]', async (t) => {
  const out = new Uint32Array(2)
  for (const len of [0, 1, 7, 8, 15, 16, 63, 64]) {
    const buf = new Uint8Array(len + 10)
    buf.set(seq(len), 5)
    siphash24Into(KEY, buf, 5, len, out)
    const want = len < 64 ? vectorValue(VECTORS[len]!) : siphash24(KEY, seq(64))
    t.equal((BigInt(out[0]!) << 32n) | BigInt(out[1]!), want, `len ${len} at offset 5`)
  }
})

t.test('rejects a key that is not 16 bytes', async (t) => {
  t.throws(() => siphash24(new Uint8Array(8), new Uint8Array(1)), RangeError)
})

const cc = findCompiler()
const noCc = cc === null ? 'no C compiler (tried $CC, cc, gcc, clang): cannot build the C reference' : false

t.test('agrees with an independent C implementation on random inputs', { skip: noCc }, async (t) => {
  const { bin, cleanup } = compileC(cc!, [join(here, 'siphash_ref.c')])
  t.teardown(cleanup)
  // The C reference must itself reproduce the official vectors before it can judge anything.
  const vecOut = run(bin, [], VECTORS.map((_, i) => `${hex(KEY)} ${hex(seq(i))}\n`).join('')).trim().split('\n')
  t.same(vecOut.map((h) => BigInt('0x' + h)), VECTORS.map(vectorValue), 'C reference matches the vectors')

  const r = rng(0x5eed)
  const cases: { key: Uint8Array; msg: Uint8Array }[] = []
  for (let i = 0; i < 3000; i++) {
    // Mostly short messages (the control plane hashes 64 bytes), some up to 1 KiB.
    const len = i % 10 === 0 ? r.int(1025) : r.int(80)
    cases.push({ key: r.bytes(16), msg: r.bytes(len) })
  }
  const out = run(bin, [], cases.map((c) => `${hex(c.key)} ${hex(c.msg)}\n`).join('')).trim().split('\n')
  let mismatches = 0
  for (let i = 0; i < cases.length; i++) {
    if (siphash24(cases[i]!.key, cases[i]!.msg) !== BigInt('0x' + out[i]!)) mismatches++
  }
  t.equal(mismatches, 0, `${cases.length} random (key, message) pairs agree`)
})
