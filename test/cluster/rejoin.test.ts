// A node that joined an existing cluster keeps waiting for the leader after a restart, even when
// restarted without --join: it never invents a configuration from its command line.
import t from 'tap'
import { Cluster, sleep, waitFor } from './fixtures/helpers.ts'

t.test('a joined node restarted without --join does not take the initial members', async (t) => {
  const c = await Cluster.create(t, { nodes: 4, name: 'rejoin' })
  for (const id of [1, 2, 3]) c.spawn(id, ['--initial-members', '1,2,3'])
  const { leader } = await c.waitForLeader([1, 2, 3])
  c.spawn(4, ['--join'])
  const joined = await waitFor('node 4 up', async () => (await c.status(4)) ?? undefined, 20_000)
  t.same(joined.voters, [], 'a joining node starts with no configuration')
  await c.kill(4)
  // Restarted with the same flags as the founders, i.e. without --join.
  c.spawn(4, ['--initial-members', '1,2,3,4'])
  const st = await waitFor('node 4 up again', async () => (await c.status(4)) ?? undefined, 20_000)
  await sleep(500)
  const again = (await c.status(4)) ?? st
  t.same(again.voters, [], 'still no configuration: it waits to be added')
  t.not(again.role, 'leader', 'and never leads')
  const l = await c.status(leader)
  t.same(l?.voters, [1, 2, 3], 'the cluster is unchanged')
})
