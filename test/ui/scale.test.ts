// Cluster resizing in the visualizer: a real 3-node `raftkv local` cluster grown to 4 with
// POST /scale-cluster while Debian's Chromium (playwright-core) shows the page. The members'
// 'status' events carry the scaler's progress (target, step, in-progress flag, events); the page
// shows a "Scaling: 3 → 4 — …" banner while it runs, feed lines for the steps and the end, and
// then four servers. Screenshots go to artifacts/ui/ for a person to look at.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import t from 'tap'
import { chromiumSkip, launchChromium } from './browser.ts'
import type { ObserveStatus } from '../../src/observe/json.ts'
import { repoRoot, startLocal, waitFor, waitForLeader } from './harness.ts'

const artifacts = join(repoRoot, 'artifacts', 'ui')

async function pageUntil<T>(what: string, page: Page, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  return waitFor(what, fn, ms, 100).catch(async (e: unknown) => {
    await page.screenshot({ path: join(artifacts, `failed-scale-${what.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined)
    throw e
  })
}

/**
 * Collects the 'status' events of one member's SSE stream until aborted: the same stream the page
 * reads, so what is asserted here is what the page is given.
 */
function collectStatus(url: string, into: ObserveStatus[], signal: AbortSignal, failures: string[]): Promise<void> {
  return (async () => {
    const r = await fetch(`${url}/rpc-log/stream?status=true&kind=conf`, { signal })
    const reader = r.body!.getReader()
    const dec = new TextDecoder()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buf += dec.decode(value, { stream: true })
      let end: number
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end)
        buf = buf.slice(end + 2)
        const lines = block.split('\n')
        if (!lines.includes('event: status')) continue
        const data = lines.find((l) => l.startsWith('data: '))
        if (data) into.push(JSON.parse(data.slice(6)) as ObserveStatus)
      }
    }
  })().catch((e: unknown) => {
    // Aborting at the end of the test is how the stream stops; anything else is a failure,
    // recorded (not thrown) so that it is asserted rather than left an unhandled rejection.
    if (!signal.aborted) failures.push(`${url}: ${String(e)}`)
  })
}

t.test('a resize 3 → 4 in the visualizer', { skip: chromiumSkip }, async (t) => {
  mkdirSync(artifacts, { recursive: true })
  const cluster = await startLocal(3)
  let ctx: BrowserContext | null = null
  const profile = mkdtempSync(join(tmpdir(), 'raftkv-chromium-'))
  const streams = new AbortController()
  t.teardown(async () => {
    streams.abort()
    await ctx?.close().catch(() => undefined)
    if (!t.passing()) console.error(cluster.out.join(''))
    await cluster.stop()
    rmSync(profile, { recursive: true, force: true })
  })
  const leader = await waitForLeader(cluster)
  t.comment(`S${leader.id} leads`)

  ctx = await launchChromium(profile)
  const page = await ctx.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  await page.goto(`${cluster.url(1)}/ui/`)
  const panel = page.locator('#scale')

  await t.test('before: three servers, nothing in progress', async (t) => {
    await pageUntil('three servers', page, async () => (await page.locator('svg#ring g.server').count()) === 3 && (await page.locator('#summary').getAttribute('data-up')) === '3')
    // The first leader adopts the running size as the target: the panel shows it, idle.
    await pageUntil('the idle size panel', page, async () => (await panel.isVisible()) && (await panel.getAttribute('data-in-progress')) === 'false' && (await panel.getAttribute('data-target')) === '3')
    t.equal(await page.locator('#scale-banner').count(), 0, 'no scaling banner while idle')
  })

  // Every member's status events from here on (the leader plans; the others report null steps).
  const seen: ObserveStatus[] = []
  const streamFailures: string[] = []
  const collectors = [1, 2, 3].map((id) => collectStatus(cluster.url(id), seen, streams.signal, streamFailures))

  await t.test('POST /scale-cluster {"replicas":4}', async (t) => {
    // Right after the start the leader may still be catching up or a member not yet healthy
    // (503): the request is refused then, and asked again.
    const r = await waitFor(
      'the scale request to be accepted',
      async () => {
        const a = await fetch(`${cluster.url(1)}/scale-cluster`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas: 4 }), signal: AbortSignal.timeout(8000) })
        const body = (await a.json()) as Record<string, unknown>
        return a.status === 503 ? undefined : { status: a.status, body }
      },
      30_000,
      250,
    )
    t.equal(r.status, 202, `accepted: ${JSON.stringify(r.body)}`)
  })

  await t.test('the page shows the operation in progress', async (t) => {
    const banner = page.locator('#scale-banner')
    const text = await pageUntil('the scaling banner', page, async () => ((await banner.count()) > 0 ? ((await banner.textContent()) ?? undefined) : undefined))
    t.match(text, /^Scaling: 3 → 4 — \S/, `banner: ${text}`)
    t.equal(await panel.getAttribute('data-in-progress'), 'true')
    await pageUntil('the accepted request in the feed', page, async () => /resize: accepted scale 3 → 4 \(op \d+\)/.test((await page.textContent('#feed')) ?? ''))
    await page.screenshot({ path: join(artifacts, 'scale-in-progress.png'), fullPage: true })
  })

  await t.test('then four servers, the banner gone, the steps in the feed', async (t) => {
    await pageUntil(
      'four servers, idle',
      page,
      async () => (await page.locator('svg#ring g.server').count()) === 4 && (await page.locator('#summary').getAttribute('data-up')) === '4' && (await panel.getAttribute('data-in-progress')) === 'false' && (await panel.getAttribute('data-voters')) === '4',
      120_000,
    )
    t.equal(await page.locator('#scale-banner').count(), 0, 'the banner is gone')
    t.match(await panel.textContent(), /4 voters, target 4/)
    // The newest lines are on screen; the whole feed (older lines scroll out of the last 60) is
    // read from the page's store.
    const shown = (await page.textContent('#feed')) ?? ''
    t.match(shown, /resize: reached 4 members|resize 3 → 4 done/, 'the end of the operation is in the feed')
    const feed = await page.evaluate(() => (globalThis as unknown as { raftkv: { store: { feed: { text: string; cls: string }[] } } }).raftkv.store.feed.filter((f) => f.cls === 'scale').map((f) => f.text))
    t.ok(feed.some((l) => /resize: accepted scale 3 → 4/.test(l)), 'the accepted request')
    t.ok(feed.some((l) => /add node 4 as a learner/.test(l)), 'the learner step')
    t.ok(feed.some((l) => /promote learner 4 to voter/.test(l)), 'the promotion step')
    t.equal(feed.filter((l) => /promote learner 4 to voter/.test(l)).length, 1, 'each step said once')
    t.match(shown, /applied membership change: add-node S4/, 'beside the membership changes it caused')
    await page.screenshot({ path: join(artifacts, 'scale-done.png'), fullPage: true })
    // The page opens the new member's stream as soon as it is a member, which can be a moment
    // before its process listens: refused connections are expected; nothing else is.
    t.same(
      errors.filter((e) => !/ERR_CONNECTION_REFUSED|EventSource/.test(e)),
      [],
      'no console errors but the new member’s refused connections',
    )
  })

  await t.test('the status events carry the progress', async (t) => {
    const during = seen.filter((s) => s.scale?.inProgress === true && s.scale.target === 4)
    t.ok(during.length > 0, `an in-progress status event (of ${seen.length})`)
    const d = during[0]!.scale!
    t.equal(d.orchestrator, 'local')
    t.equal(d.from, 3)
    t.type(d.step, 'string')
    t.not(d.step, 'idle')
    t.ok(
      seen.some((s) => s.scale?.events.some((e) => /^accepted scale 3 → 4/.test(e.text))),
      'the accepted request among the events',
    )
    // And the route the page polls, now that it is over: done, with four voters.
    // A leader says whether an operation is in progress once it has planned in its term (null
    // until then): asked until it knows.
    const st = await waitFor(
      'the leader to report the operation',
      async () => {
        const now = await waitForLeader(cluster)
        const s = (await (await fetch(`${cluster.url(now.id)}/observe/status`)).json()) as ObserveStatus
        return s.scale?.inProgress === null ? undefined : s
      },
      30_000,
      200,
    )
    t.equal(st.scale?.target, 4)
    t.equal(st.scale?.inProgress, false, `not in progress (step: ${st.scale?.step})`)
    t.equal(st.scale?.voters.length, 4)
    t.equal(st.scale?.lastError, null)
    streams.abort()
    await Promise.all(collectors)
    t.same(streamFailures, [], 'the status streams stayed up')
  })
})
