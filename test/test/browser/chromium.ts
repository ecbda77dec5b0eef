import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** The Debian package's binary; playwright's own browser downloads are not reachable from these machines. */
export const CHROMIUM = '/usr/bin/chromium';
const INSTALL = 'apt-get install chromium (Debian package, gives /usr/bin/chromium)';

/**
 * Whether Chromium is installed. Under CI=true a missing binary fails the test file; elsewhere the tests are skipped
 * with a loud line saying what to install. Never a silent skip.
 */
export function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is required in CI but missing: ${INSTALL}`);
  console.warn(`\n!!! SKIPPED: ${CHROMIUM} is not installed. Install it to run the browser tests: ${INSTALL}\n`);
  return false;
}

/**
 * Headless Chromium with the flags measured to work here (FIELD-NOTES, Chromium section), followed by `extraArgs`
 * (a fake camera's flags, say).
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
