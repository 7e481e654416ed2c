// Browser test of the monitoring pages (污染防治联动, issue 19) in headless Chromium, against
// a `cityloop demo` after `cityloop sensors replay-demo` sent its sample episode:
//
//   node e2e/sensors.mjs http://127.0.0.1:8080
//
// crates/cityloop/tests/browser_sensors.rs starts the server, runs the replay and this.
// The sites list shows both demo sites labelled 演示; the building site's page draws the
// PM10 chart with the rule's alarm (150) and clear (120) lines and lists the episode's case;
// the devices page lists both devices with battery and signal; the case page of the
// episode draws the chart too. 1440×900 and 390×844 have no sideways scroll. Screenshots
// go to CITYLOOP_SCREENSHOTS (default test-artifacts/screenshots/sensors). The last line is
// "browser sensors: N passed, N failed"; the exit code is non-zero on any failure.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.argv[2] || process.env.CITYLOOP_BASE_URL || '').replace(/\/$/, '');
if (!BASE) {
  console.error('usage: node e2e/sensors.mjs BASE_URL');
  process.exit(2);
}
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = process.env.CITYLOOP_SCREENSHOTS || path.resolve(HERE, '..', 'test-artifacts', 'screenshots', 'sensors');
mkdirSync(SHOTS, { recursive: true });
const CHROMIUM = process.env.CITYLOOP_CHROMIUM || '/usr/bin/chromium';

class Failure extends Error {}
function check(cond, message) {
  if (!cond) throw new Failure(message);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const pageErrors = [];

async function login(viewport) {
  const page = await browser.newPage({ viewport, locale: 'zh-CN' });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${BASE}/staff`);
  await page.fill('#username', 'dispatcher');
  await page.fill('#password', 'demo');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#nav-list a[aria-current="page"]');
  return page;
}

async function noSideScroll(page, what) {
  const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(over <= 1, `${what}: no sideways scroll (${over}px over)`);
}

const scenarios = [];
const scenario = (name, f) => scenarios.push([name, f]);

for (const [tag, viewport] of [['desk', { width: 1440, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
  scenario(`sites list and the building site's chart with the demo episode (${tag})`, async () => {
    const page = await login(viewport);
    await page.goto(`${BASE}/staff#/sensors`);
    await page.waitForSelector('[data-testid=sensor-sites] tbody tr');
    const rows = await page.locator('[data-testid=sensor-sites] tbody tr').allInnerTexts();
    check(rows.length === 2, `two demo sites, got ${rows.length}`);
    check(rows.every((r) => r.includes('演示')), `each labelled 演示: ${rows}`);
    await page.screenshot({ path: path.join(SHOTS, `sites-${tag}.png`), fullPage: true });
    await page.click('a[href="#/sensor/DEMO-GD-01"]');
    await page.waitForSelector('[data-testid=sensor-chart] svg path', { state: 'attached' });
    const points = Number(await page.getAttribute('[data-testid=sensor-chart]', 'data-points'));
    check(points >= 100, `the chart has the replay's four hours in two-minute buckets (${points})`);
    const svg = await page.textContent('[data-testid=sensor-chart]');
    check(svg.includes('告警阈值 150') && svg.includes('解除阈值 120'), `threshold lines labelled: ${svg.slice(0, 300)}`);
    const cases = await page.textContent('[data-testid=sensor-site-cases]');
    check(cases.includes('超标立案') && cases.includes('恢复达标'), `the episode's case with its log: ${cases}`);
    check((await page.textContent('#view h2')).includes('演示'), 'the site page says 演示');
    await noSideScroll(page, `site page ${tag}`);
    await page.screenshot({ path: path.join(SHOTS, `site-${tag}.png`), fullPage: true });
    await page.close();
  });
  scenario(`devices by health and the episode's case page chart (${tag})`, async () => {
    const page = await login(viewport);
    await page.goto(`${BASE}/staff#/sensor-devices`);
    await page.waitForSelector('[data-testid=sensor-devices] tbody tr');
    const text = await page.textContent('[data-testid=sensor-devices]');
    check(text.includes('DEMO-PM10-01') && text.includes('DEMO-WQ-01'), `both devices: ${text}`);
    check(text.includes('%') && text.includes('dBm'), `battery and signal shown: ${text}`);
    await noSideScroll(page, `devices ${tag}`);
    await page.screenshot({ path: path.join(SHOTS, `devices-${tag}.png`), fullPage: true });
    await page.goto(`${BASE}/staff#/sensor/DEMO-GD-01`);
    await page.waitForSelector('[data-testid=sensor-site-cases] a');
    await page.click('[data-testid=sensor-site-cases] a');
    await page.waitForSelector('.sensor-box [data-testid=sensor-chart] svg path', { state: 'attached' });
    await page.screenshot({ path: path.join(SHOTS, `case-${tag}.png`), fullPage: true });
    await page.close();
  });
}

let passed = 0;
let failed = 0;
for (const [name, f] of scenarios) {
  try {
    await f();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e instanceof Failure ? e.message : e && e.stack}`);
  }
}
if (pageErrors.length) {
  failed += 1;
  console.log(`FAIL page errors: ${pageErrors.join(' | ')}`);
}
await browser.close();
console.log(`browser sensors: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
