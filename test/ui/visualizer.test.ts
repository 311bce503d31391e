// The visualizer in a real browser (Debian's Chromium through playwright-core) against a real
// 3-node `raftkv local` cluster: the page loads without console errors and shows three servers
// with exactly one leader; a write made from the page and one made with redis-cli both show up as
// traced requests committed on a majority; killing the leader (SIGKILL, from the page's button)
// shows a new term and a new leader; the node comes back from the page too. Screenshots go to
// artifacts/ui/ for a person to look at.
import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { BrowserContext, Page } from 'playwright-core'
import t from 'tap'
import { chromiumSkip, launchChromium } from './browser.ts'
import { hasResp, repoRoot, startLocal, waitFor, waitForLeader } from './harness.ts'

const artifacts = join(repoRoot, 'artifacts', 'ui')
const run = promisify(execFile)
const hasRedisCli = spawnSync('redis-cli', ['--version']).status === 0

interface Summary {
  leader: number
  leaders: number
  term: number
  up: number
}

async function summary(page: Page): Promise<Summary> {
  const el = page.locator('#summary')
  const n = async (k: string): Promise<number> => Number((await el.getAttribute(`data-${k}`)) ?? 0)
  return { leader: await n('leader'), leaders: await n('leaders'), term: await n('term'), up: await n('up') }
}

async function pageUntil<T>(what: string, page: Page, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  return waitFor(what, fn, ms, 100).catch(async (e: unknown) => {
    await page.screenshot({ path: join(artifacts, `failed-${what.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined)
    throw e
  })
}

t.test('the visualizer against a live 3-node cluster', { skip: chromiumSkip }, async (t) => {
  mkdirSync(artifacts, { recursive: true })
  const cluster = await startLocal(3)
  let ctx: BrowserContext | null = null
  const profile = mkdtempSync(join(tmpdir(), 'raftkv-chromium-'))
  t.teardown(async () => {
    await ctx?.close().catch(() => undefined)
    if (!t.passing()) console.error(cluster.out.join(''))
    await cluster.stop()
    rmSync(profile, { recursive: true, force: true })
  })
  const first = await waitForLeader(cluster)

  ctx = await launchChromium(profile)
  const page = await ctx.newPage()
  const errors: { at: number; text: string }[] = []
  let killedAt = Infinity
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push({ at: Date.now(), text: m.text() })
  })
  page.on('pageerror', (e) => errors.push({ at: Date.now(), text: `page error: ${e.message}` }))
  // Served by a follower, so that killing the leader does not take the page's origin down.
  const served = [1, 2, 3].find((id) => id !== first.id)!
  t.comment(`page served by S${served}; S${first.id} leads`)
  await page.goto(`${cluster.url(served)}/ui/`)

  await t.test('three servers, exactly one leader', async (t) => {
    // Under load an election can happen at any time: wait for a settled picture, then compare it
    // with what the nodes say.
    // The drawn counts are read inside the settled picture: read again afterwards, they could
    // catch the ring between two renders (seen once in CI).
    const s = await pageUntil('one leader of three', page, async () => {
      const s = await summary(page)
      const drawn = await page.locator('svg#ring g.server').count()
      const drawnLeaders = await page.locator('svg#ring g.server[data-role=leader]').count()
      if (s.up !== 3 || s.leaders !== 1 || drawnLeaders !== 1) return undefined
      const now = await waitForLeader(cluster, 5000).catch(() => null)
      return now && now.id === s.leader ? { ...s, drawn, drawnLeaders } : undefined
    })
    t.ok(s.leader > 0, `S${s.leader} leads, as the nodes report`)
    t.equal(s.drawn, 3, 'three servers drawn')
    t.equal(s.drawnLeaders, 1, 'one of them leader')
    await pageUntil('messages in flight', page, async () => (await page.locator('svg#ring g.msg[visibility=visible]').count()) > 0)
    await pageUntil('the leader’s progress table', page, async () => (await page.locator('#progress tr[data-peer]').count()) === 3)
    await page.screenshot({ path: join(artifacts, 'cluster.png'), fullPage: true })
    t.same(errors, [], 'no console errors')
  })

  await t.test('a write from the page is traced to commit on a majority', async (t) => {
    await page.fill('#put-key', 'visual-key')
    await page.fill('#put-value', 'seen')
    await page.click('#put-go')
    await pageUntil('the write', page, async () => ((await page.textContent('#put-result')) ?? '').startsWith('✓'))
    const sum = page.locator('#trace-summary')
    await pageUntil('a committed trace', page, async () => (await sum.count()) > 0 && (await sum.getAttribute('data-committed')) === 'true' && Number(await sum.getAttribute('data-applied')) === 3)
    t.ok(Number(await sum.getAttribute('data-majority')) >= 2, 'held by a majority when committed')
    t.match(await sum.textContent(), /key visual-key/)
    t.ok((await page.locator('#trace-lanes line.arrow').count()) >= 4, 'Appends and acks drawn between members')
    await page.screenshot({ path: join(artifacts, 'trace-http.png'), fullPage: true })
  })

  await t.test('a SET through redis-cli is traced too', { skip: !hasResp ? 'no RESP service in this build' : !hasRedisCli ? 'redis-cli missing (redis-tools)' : false }, async (t) => {
    const resp = cluster.respPort((await waitForLeader(cluster)).id)
    const r = await run('redis-cli', ['-p', String(resp), 'SET', 'cli-key', 'from-redis-cli'])
    t.equal(r.stdout.trim(), 'OK')
    await page.fill('#trace-input', 'cli-key')
    await page.click('#trace-go')
    const sum = page.locator('#trace-summary')
    await pageUntil('the redis-cli trace', page, async () => ((await sum.textContent()) ?? '').includes('cli-key') && (await sum.getAttribute('data-committed')) === 'true')
    t.ok(Number(await sum.getAttribute('data-majority')) >= 2, 'committed on a majority')
    await page.screenshot({ path: join(artifacts, 'trace-redis-cli.png'), fullPage: true })
  })

  await t.test('pause and replay', async (t) => {
    await page.click('#btn-pause')
    await pageUntil('paused', page, async () => /^paused/.test((await page.textContent('#time-label')) ?? ''))
    // Back a few seconds on the slider, then replay from there until it catches up with live.
    await page.locator('#time-slider').fill('900')
    await page.click('#btn-replay')
    await pageUntil('replaying', page, async () => /^replay/.test((await page.textContent('#time-label')) ?? ''))
    await page.click('#btn-live')
    await pageUntil('live again', page, async () => (await page.textContent('#time-label')) === 'live')
    t.pass('paused, replayed, back to live')
  })

  await t.test('killing the leader shows a new term and a new leader', async (t) => {
    const before = await pageUntil('a settled leader', page, async () => {
      const s = await summary(page)
      const now = await waitForLeader(cluster, 5000).catch(() => null)
      return s.up === 3 && s.leaders === 1 && now?.id === s.leader && now.term === s.term ? s : undefined
    })
    t.equal(errors.length, 0, `no console errors before the kill: ${JSON.stringify(errors)}`)
    killedAt = Date.now()
    await page.click(`#local-nodes button[data-action=kill][data-node="${before.leader}"]`)
    const after = await pageUntil('a new leader', page, async () => {
      const s = await summary(page)
      return s.leaders === 1 && s.leader !== before.leader && s.term > before.term && s.up === 2 ? s : undefined
    })
    t.ok(after.term > before.term, `term ${before.term} → ${after.term}`)
    t.not(after.leader, before.leader, `leader S${before.leader} → S${after.leader}`)
    t.match(await page.textContent(`svg#ring g.server[data-id="${before.leader}"]`), /down/)
    await pageUntil('the election in the feed', page, async () => ((await page.textContent('#feed')) ?? '').includes(`S${after.leader} became leader (term ${after.term})`))
    await page.screenshot({ path: join(artifacts, 'failover.png'), fullPage: true })
    // Back up from the page.
    await page.click(`#local-nodes button[data-action=start][data-node="${before.leader}"]`)
    await pageUntil('three up again', page, async () => (await summary(page)).up === 3, 60_000)
    await page.screenshot({ path: join(artifacts, 'restarted.png'), fullPage: true })
  })

  // After the kill the browser may log the dead member's refused connections; nothing else.
  const unexpected = errors.filter((e) => e.at < killedAt || !/ERR_CONNECTION_REFUSED|Failed to load resource|EventSource/.test(e.text))
  t.same(unexpected, [], 'no console errors but the killed member’s refused connections')
})
