/**
 * End-to-end smoke of the PWA in Debian's Chromium (playwright-core): starts a relay (temp DATA_DIR), the demo
 * sidecar and the PWA (Vite dev server, or `vite preview` of dist/ with `preview`), all on 127.0.0.1, then pairs,
 * runs plans (a small and a 5 MiB diff), approves, rejects, chats, reloads, enrolls OTP and approves with a step-up,
 * revokes (dev: also a malformed payload and the push button without a service worker); in `preview` also the
 * service worker, a push (delivered through CDP) and the offline shell.
 * Prints one line per step; screenshots go to OUT (default /tmp/pwa-smoke).
 *
 *   npx tsc -b && npm run bundle && node examples/pwa/scripts/smoke.mjs dev
 *   npm run build:pwa && node examples/pwa/scripts/smoke.mjs preview
 *   QR=1 node examples/pwa/scripts/smoke.mjs dev   # pairs by scanning a QR code from a fake camera
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, '0');
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT = process.env.OUT ?? '/tmp/pwa-smoke';
mkdirSync(OUT, { recursive: true });
const mode = process.argv[2] ?? 'dev';
const require = createRequire(`${ROOT}/package.json`);
const { chromium } = require('playwright-core');
const vite = await import(`${ROOT}/examples/pwa/node_modules/vite/dist/node/index.js`);

const freePort = () =>
  new Promise((res) => {
    const s = netServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

const dir = mkdtempSync(join(tmpdir(), 'pwa-smoke-'));
const relayPort = await freePort();
const relayUrl = `http://127.0.0.1:${relayPort}`;
const procs = [];
const relay = spawn('node', ['server/dist/main.js'], {
  cwd: ROOT,
  env: { ...process.env, PORT: String(relayPort), HOST: '127.0.0.1', DATA_DIR: join(dir, 'relay'), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
procs.push(relay);
relay.stderr.on('data', (d) => process.stderr.write(`[relay] ${d}`));
for (let i = 0; i < 50; i++) {
  const ok = await fetch(`${relayUrl}/api/health`).then(
    (r) => r.ok,
    () => false, // not listening yet
  );
  if (ok) break;
  await new Promise((r) => setTimeout(r, 200));
}
console.log('relay up', relayUrl);

const sidecar = spawn(
  'node',
  ['examples/sidecar-demo/dist/main.js', '--relay', relayUrl, '--state', join(dir, 'sidecar'), '--step-ms', '150'],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
);
procs.push(sidecar);
let out = '';
sidecar.stdout.on('data', (d) => {
  out += d;
});
sidecar.stderr.on('data', (d) => process.stderr.write(`[sidecar] ${d}`));
let link;
for (let i = 0; i < 100 && link === undefined; i++) {
  link = /oppie:\/\/pair\?\S+/.exec(out)?.[0];
  await new Promise((r) => setTimeout(r, 100));
}
console.log('link', link?.slice(0, 60));

const pwaPort = await freePort();
process.env.OPPIE_RELAY_URL = relayUrl;
let server;
if (mode === 'dev') {
  server = await vite.createServer({
    root: `${ROOT}/examples/pwa`,
    server: { port: pwaPort, strictPort: true },
    logLevel: 'warn',
  });
  await server.listen();
} else {
  server = await vite.preview({
    root: `${ROOT}/examples/pwa`,
    preview: { port: pwaPort, strictPort: true },
    logLevel: 'warn',
  });
}
const url = `http://127.0.0.1:${pwaPort}/`;
console.log('pwa', url, mode);

const QR = process.env.QR === '1';
const args = ['--no-sandbox'];
if (QR) {
  const QRCode = require('qrcode');
  const qr = QRCode.create(link, { errorCorrectionLevel: 'M' });
  const W = 640,
    H = 480,
    n = qr.modules.size,
    scale = Math.floor(400 / (n + 8));
  const y = Buffer.alloc(W * H, 235);
  const ox = Math.floor((W - n * scale) / 2),
    oy = Math.floor((H - n * scale) / 2);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++)
      if (qr.modules.get(r, c))
        for (let dy = 0; dy < scale; dy++)
          y.fill(16, (oy + r * scale + dy) * W + ox + c * scale, (oy + r * scale + dy) * W + ox + (c + 1) * scale);
  const uv = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, uv]);
  writeFileSync(
    `${OUT}/qr.y4m`,
    Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F30:1 Ip A1:1 C420jpeg\n`), frame, frame]),
  );
  args.push(
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${OUT}/qr.y4m`,
  );
}
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
const page = await ctx.newPage();
const errors = [];
page.on('console', (m) => {
  if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
});
page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
const t = (id) => page.getByTestId(id);
let otpSecret = '';
let failed = 0;
const step = async (name, fn) => {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    await page.screenshot({ path: `${OUT}/fail-${name.replace(/\W+/g, '_')}.png`, fullPage: true });
  }
};
try {
  await page.goto(url);
  await step('renders idle', async () => {
    await t('conn-state').waitFor();
    console.log('     conn-state', await t('conn-state').textContent(), 'path', await t('path').textContent());
  });
  if (!QR)
    await step('scan without camera -> clear error', async () => {
      await t('scan-qr').click();
      await t('scan-error').waitFor({ timeout: 10000 });
      console.log('     scan error:', await t('scan-error').textContent());
      await t('scan-qr').click();
    });
  await step('pair', async () => {
    if (QR) await t('scan-qr').click();
    else {
      await t('pair-link').fill(link);
      await t('pair-submit').click();
    }
    await t('sas').waitFor({ timeout: 15000 });
    const sas = await t('sas').textContent();
    for (let i = 0; i < 30 && !/same code: (\S+)/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    console.log('     sas', sas, 'sidecar says', /same code: (\S+)/.exec(out)?.[1]);
  });
  await step('open', async () => {
    await page.waitForFunction(() => document.querySelector('[data-testid=conn-state]')?.textContent === 'open');
    console.log('     workstations', await t('workstation').count());
  });
  await page.screenshot({ path: `${OUT}/pair.png`, fullPage: true });
  await step('plan -> diff awaiting approval', async () => {
    await t('nav-work').click();
    await t('plan-input').fill('Add a health endpoint');
    await t('plan-start').click();
    await page.locator('[data-testid=plan][data-status=awaiting-approval]').waitFor({ timeout: 20000 });
    await t('diff').first().waitFor({ timeout: 20000 });
    const d = t('diff').first();
    console.log('     diff bytes', await d.getAttribute('data-bytes'), 'files', await d.getAttribute('data-files'));
    console.log(
      '     progress',
      await t('progress').first().textContent(),
      await t('progress').first().getAttribute('data-step'),
      '/',
      await t('progress').first().getAttribute('data-total'),
    );
    console.log('     approval-status', await t('approval-status').first().textContent());
  });
  await page.screenshot({ path: `${OUT}/diff.png`, fullPage: false });
  await step('#/approvals focuses the pending approval', async () => {
    await t('nav-pair').click();
    await page.evaluate(() => {
      location.hash = '#/approvals';
    });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'approve', null, {
      timeout: 5000,
    });
  });
  await step('approve', async () => {
    await t('approve').first().click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid=approval-status]')?.textContent === 'approved',
      null,
      { timeout: 15000 },
    );
    await page.locator('[data-testid=plan][data-status=applied]').waitFor({ timeout: 15000 });
  });
  await step('chat', async () => {
    await t('chat-input').fill('what changed?');
    await t('chat-send').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=chat-message]').length >= 2, null, {
      timeout: 15000,
    });
    console.log('     chat', await t('chat-message').allTextContents());
  });
  await step('large diff with transfer bar', async () => {
    await page.evaluate(() => {
      window.__sawTransfer = 0;
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid=transfer]');
        if (el) window.__sawTransfer = Math.max(window.__sawTransfer, Number(el.getAttribute('data-done')));
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await t('plan-input').fill('Refactor auth, large');
    await t('plan-start').click();
    await page.locator('[data-testid=plan][data-status=awaiting-approval]').waitFor({ timeout: 60000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=diff]').length >= 2, null, {
      timeout: 60000,
    });
    const t0 = Date.now();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    const big = page.locator('[data-testid=diff]').filter({ has: page.getByTestId('approve') });
    console.log(
      '     big diff bytes',
      await big.getAttribute('data-bytes'),
      'files',
      await big.getAttribute('data-files'),
      'transfer seen done<=',
      await page.evaluate(() => window.__sawTransfer),
      'frame after render',
      Date.now() - t0,
      'ms',
      'dom nodes',
      await page.evaluate(() => document.getElementsByTagName('*').length),
    );
    await big.getByTestId('reject').click();
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid=approval-status]')].some((e) => e.textContent === 'rejected'),
      null,
      { timeout: 15000 },
    );
  });
  await page.screenshot({ path: `${OUT}/large.png`, fullPage: false });
  await step('reload keeps state', async () => {
    await page.reload();
    await t('plan').first().waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid=conn-state]')?.textContent === 'open', null, {
      timeout: 15000,
    });
    console.log(
      '     plans',
      await t('plan').count(),
      'diffs',
      await t('diff').count(),
      'chat',
      await t('chat-message').count(),
      'status',
      await t('plan').first().getAttribute('data-status'),
    );
  });
  await page.screenshot({ path: `${OUT}/work.png`, fullPage: true });
  await step('settings: enroll OTP', async () => {
    await t('nav-settings').click();
    await t('otp-enroll').click();
    const secret = await t('otp-secret').textContent();
    await page.screenshot({ path: `${OUT}/settings.png`, fullPage: true });
    console.log('     secret', secret);
    await t('totp-input').fill(totp(secret));
    await t('totp-submit').click();
    await page.getByText('Two-step approval is on.').waitFor({ timeout: 10000 });
    otpSecret = secret;
  });
  await step('approve with step-up', async () => {
    await t('nav-work').click();
    await t('plan-input').fill('Add logging');
    await t('plan-start').click();
    const d = page.locator('[data-testid=diff]').filter({ has: page.getByTestId('approve') });
    await d.waitFor({ timeout: 20000 });
    await d.getByTestId('approve').click();
    await t('totp-input').waitFor({ timeout: 5000 });
    await page.screenshot({ path: `${OUT}/step-up.png` });
    const wait = 30000 - (Date.now() % 30000) + 500; // a code is accepted once per time step
    await new Promise((r) => setTimeout(r, wait));
    await t('totp-input').fill(totp(otpSecret));
    await t('totp-submit').click();
    await page.waitForFunction(() => !document.querySelector('[data-testid=approve]'), null, { timeout: 15000 });
    console.log('     statuses', await t('approval-status').allTextContents());
  });
  if (mode === 'dev')
    await step('malformed payload -> APP_ERR_BAD_PAYLOAD, nothing stored', async () => {
      // As if the workstation sent a progress without planId (the SDK's event emitter, driven from the page).
      await page.evaluate(() =>
        window.oppie.client.events.emit('message', {
          type: 'progress',
          from: 'smoke',
          id: 'smoke-bad-1',
          payload: { step: 1, total: 2, message: 'x', status: 'running' },
        }),
      );
      await t('error').waitFor({ timeout: 5000 });
      const code = await t('error').getAttribute('data-code');
      if (code !== 'APP_ERR_BAD_PAYLOAD') throw new Error(`expected APP_ERR_BAD_PAYLOAD, got ${code}`);
      const plans = await page.evaluate(() => Object.keys(JSON.parse(localStorage.getItem('oppie-pwa/view/v1')).plans));
      if (plans.includes('undefined')) throw new Error('a plan "undefined" was stored');
      await t('error').getByRole('button').click();
    });
  if (mode === 'dev')
    await step('push-enable in dev -> APP_ERR_PUSH_NEEDS_SW', async () => {
      // The dev server registers no service worker: the button must fail at once with a clear code, not hang.
      await t('nav-settings').click();
      await t('push-enable').click();
      await t('error').waitFor({ timeout: 5000 });
      const code = await t('error').getAttribute('data-code');
      const text = await t('error').textContent();
      if (code !== 'APP_ERR_PUSH_NEEDS_SW') throw new Error(`expected APP_ERR_PUSH_NEEDS_SW, got ${code}: ${text}`);
      if ((await t('push-enable').getAttribute('data-state')) !== 'idle') throw new Error('push-enable is not idle');
      console.log('     push-enable:', text);
      await t('error').getByRole('button').click();
    });
  if (mode === 'dev')
    await step('revoke (confirm)', async () => {
      await t('nav-pair').click();
      page.once('dialog', (d) => d.accept());
      await t('workstation').first().getByTestId('revoke').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=workstation]').length === 0, null, {
        timeout: 10000,
      });
    });
  if (mode !== 'dev') {
    await step('service worker', async () => {
      await page.waitForFunction(async () => (await navigator.serviceWorker.getRegistration()) !== undefined, null, {
        timeout: 10000,
      });
      console.log('     sw', await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state));
    });
    await step('push -> notification', async () => {
      await ctx.grantPermissions(['notifications'], { origin: url.replace(/\/$/, '') });
      const cdp = await ctx.newCDPSession(page);
      const regs = [];
      cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => regs.push(...e.registrations));
      await cdp.send('ServiceWorker.enable');
      for (let i = 0; i < 20 && regs.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      const reg = regs.find((r) => !r.isDeleted);
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: url.replace(/\/$/, ''),
        registrationId: reg.registrationId,
        data: JSON.stringify({ t: 'wake', ids: ['e1'], from: 'dev1' }),
      });
      await page.waitForFunction(
        async () => (await (await navigator.serviceWorker.ready).getNotifications()).length > 0,
        null,
        { timeout: 5000 },
      );
      console.log(
        '     notifications',
        await page.evaluate(async () =>
          (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({
            title: n.title,
            body: n.body,
            tag: n.tag,
            data: n.data,
          })),
        ),
      );
    });
    await step('push-enable button', async () => {
      await t('nav-settings').click();
      await t('push-enable').click();
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid=push-enable]')?.getAttribute('data-state') === 'on' ||
          document.querySelector('[data-testid=error]') !== null,
        null,
        { timeout: 15000 },
      );
      const err = await t('error').count();
      // Headless Chromium has no push service: subscribe() fails there; the banner must say so with a code.
      console.log(
        '     push-enable:',
        err ? `error ${await t('error').getAttribute('data-code')}: ${await t('error').textContent()}` : 'on',
      );
    });
    await step('offline shell', async () => {
      await ctx.setOffline(true);
      await page.reload();
      await t('conn-state').waitFor({ timeout: 10000 });
      await t('nav-work').click();
      await t('plan').first().waitFor({ timeout: 5000 });
      console.log('     offline conn-state', await t('conn-state').textContent(), 'plans', await t('plan').count());
      await ctx.setOffline(false);
      await page.waitForFunction(
        () => document.querySelector('[data-testid=conn-state]')?.textContent === 'open',
        null,
        { timeout: 20000 },
      );
    });
  }
} finally {
  console.log('console errors/warnings:', errors.length ? errors : 'none');
  await browser.close();
  (await server.close?.()) ?? server.httpServer?.close();
  for (const p of procs) p.kill('SIGTERM');
}
process.exitCode = failed === 0 ? 0 : 1;
