// A log record damaged on disk on purpose (one bit flipped in a record value, written with
// \`level\` directly while the node is stopped) makes the node refuse to start with a clear
// corruption error on stderr and a non-zero exit; the rest of the cluster keeps serving.
import { Level } from 'level'
import t from 'tap'
import { Cluster, sleep } from './fixtures/helpers.ts'

t.test('a log record damaged on disk: the node refuses to start with a corruption error', async (t) => {
  const c = await Cluster.start(t, { nodes: 3, name: 'corrupt' })
  const { leader } = await c.waitForLeader(c.ids, 30_000)
  for (let i = 0; i < 30; i++) await c.put(`k${i}`, `value ${i}`)
  const commit = (await c.status(leader))!.commit
  await c.waitApplied(commit, c.ids)
  const victim = c.ids.find((id) => id !== leader)!
  const exit = await c.kill(victim, 'SIGTERM')
  t.equal(exit.code, 0, `follower ${victim} stopped cleanly`)

  // Flip one byte in the data of a log record (layout: src/storage/raft-storage.ts and codec.ts:
  // sublevel 'log', key = u64 BE index, value = 18-byte header then the entry data).
  const db = new Level<Uint8Array, Uint8Array>(c.dataDir(victim), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const log = db.sublevel<Uint8Array, Uint8Array>('log', { keyEncoding: 'view', valueEncoding: 'view' })
  let damaged = -1
  for await (const [k, v] of log.iterator()) {
    const index = Buffer.from(k).readBigUInt64BE(0)
    if (v.length > 18 + 4 && index > 5n) {
      const bad = new Uint8Array(v)
      bad[18 + 2]! ^= 0x01
      await log.put(k, bad)
      damaged = Number(index)
      break
    }
  }
  await db.close()
  t.ok(damaged > 0, `flipped a bit in log record ${damaged}`)

  const p = c.spawn(victim)
  const ex = await Promise.race([p.exited, sleep(20_000).then(() => null)])
  t.ok(ex, 'the node exits instead of starting')
  t.equal(ex?.code, 1, 'with exit code 1')
  t.match(p.stderr, new RegExp(`storage corruption at log\\[${damaged}\\]: checksum mismatch`), 'stderr names the damaged record and the cause')
  t.notMatch(p.stderr, /node listening/, 'it never started serving')

  // The rest of the cluster is unaffected.
  await c.put('after', 'still works')
  t.equal(await c.get(leader, 'after'), 'still works', 'the two healthy nodes keep serving writes')
})
