// Parsing of `raftkv node` flags: where a node expects its peers' RESP ports.
import t from 'tap'
import { parseNodeArgs, resolveRespTemplate } from '../../src/node/options.ts'

const peers = '1=127.0.0.1:24281,2=127.0.0.1:24282,3=127.0.0.1:24283'

t.test('an explicit --resp-port without a base implies the other members are laid out the same way', async (t) => {
  // Found by bench/memory: a follower started with --resp-port 24303 proxied writes to port 6379
  // (the default base), so every write it took answered -CLUSTERDOWN.
  const cfg = parseNodeArgs(['--id', '3', '--peers', peers, '--resp-port', '24303'], {})
  t.equal(cfg.respPort, 24303)
  t.equal(cfg.respPortBase, 24300)
  t.equal(cfg.respPortBase + 1, 24301, 'member 1 is expected on 24301')
})

t.test('an explicit base wins over the inferred one', async (t) => {
  const cfg = parseNodeArgs(['--id', '2', '--peers', peers, '--resp-port', '5000', '--resp-port-base', '6000'], {})
  t.equal(cfg.respPort, 5000)
  t.equal(cfg.respPortBase, 6000)
})

t.test('defaults: RESP on 6378 + id', async (t) => {
  const cfg = parseNodeArgs(['--id', '2', '--peers', peers], {})
  t.equal(cfg.respPort, 6380)
  t.equal(cfg.respPortBase, 6378)
  t.same(resolveRespTemplate('raftkv-{ordinal}.raftkv:{resp}', 2, cfg.respPortBase), { host: 'raftkv-1.raftkv', port: 6380 })
})

t.test('--resp-port 0 (RESP off) keeps the default base', async (t) => {
  const cfg = parseNodeArgs(['--id', '1', '--peers', peers, '--resp-port', '0'], {})
  t.equal(cfg.respPort, 0)
  t.equal(cfg.respPortBase, 6378)
})

t.test('--read-mode: safe by default, lease on request, anything else a usage error', async (t) => {
  t.equal(parseNodeArgs(['--id', '1', '--peers', peers], {}).readMode, 'safe')
  t.equal(parseNodeArgs(['--id', '1', '--peers', peers, '--read-mode', 'lease'], {}).readMode, 'lease')
  t.equal(parseNodeArgs(['--id', '1', '--peers', peers], { RAFTKV_READ_MODE: 'lease' }).readMode, 'lease', 'or RAFTKV_READ_MODE')
  t.throws(() => parseNodeArgs(['--id', '1', '--peers', peers, '--read-mode', 'fast'], {}), /--read-mode must be safe or lease, got "fast"/)
})
