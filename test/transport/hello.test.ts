import t from 'tap'
import { HELLO_SIZE, HELLO_WINDOW_MS, HelloVerifier, encodeHello, helloKey } from '../../src/transport/hello.ts'
import { deriveKey } from '../../src/transport/wire.ts'

const key = helloKey(deriveKey('s3cret'))
const peers = new Set([1, 2, 3])
const verifier = () => new HelloVerifier(key, 7, 2, (id) => peers.has(id))

t.test('a hello signed with the cluster secret opens a connection, once', async (t) => {
  const v = verifier()
  const h = encodeHello(key, 7, 1, 2)
  t.equal(h.length, HELLO_SIZE)
  t.same(v.verify(h), { ok: true, from: 1 })
  t.same(v.verify(h), { ok: false, reason: 'replayed hello' })
})

t.test('every forged or misdirected hello is refused with its reason', async (t) => {
  const v = verifier()
  const now = Date.now()
  t.same(v.verify(encodeHello(helloKey(deriveKey('other')), 7, 1, 2)), { ok: false, reason: 'bad hello mac' })
  t.same(v.verify(encodeHello(null, 7, 1, 2)), { ok: false, reason: 'bad hello mac' })
  t.same(v.verify(encodeHello(key, 8, 1, 2)), { ok: false, reason: 'another cluster' })
  t.same(v.verify(encodeHello(key, 7, 9, 2)), { ok: false, reason: 'unknown peer 9' })
  t.same(v.verify(encodeHello(key, 7, 2, 2)), { ok: false, reason: 'unknown peer 2' })
  t.same(v.verify(encodeHello(key, 7, 1, 3)), { ok: false, reason: 'hello addressed to node 3' })
  t.same(v.verify(encodeHello(key, 7, 1, 2, now - HELLO_WINDOW_MS - 1000)), { ok: false, reason: 'stale hello' })
  t.same(v.verify(Buffer.alloc(HELLO_SIZE)), { ok: false, reason: 'bad hello magic' })
  t.same(v.verify(Buffer.alloc(10)), { ok: false, reason: 'bad hello size' })
  const flipped = encodeHello(key, 7, 1, 2)
  flipped[30]! ^= 1
  t.same(v.verify(flipped), { ok: false, reason: 'bad hello mac' })
})

t.test('without a secret (development), unsigned hellos are accepted', async (t) => {
  const v = new HelloVerifier(null, 7, 2, (id) => peers.has(id))
  t.same(v.verify(encodeHello(null, 7, 3, 2)), { ok: true, from: 3 })
  t.same(v.verify(encodeHello(key, 7, 3, 2)), { ok: false, reason: 'bad hello mac' })
})
