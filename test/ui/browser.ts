// Debian's headless Chromium driven by playwright-core (no browser is downloaded), shared by the
// visualizer's browser tests.
import { existsSync } from 'node:fs'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** Why the browser tests cannot run here, or false when they can. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (scripts/setup.sh installs it)`

/** A headless Chromium with its own profile directory and a tall viewport. */
export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1400 },
  })
}
