// Browser tests of the maps (issue 17) in headless Chromium, against a fresh `cityloop demo --empty`:
//
//   node e2e/maps.mjs http://127.0.0.1:8080
//
// crates/cityloop/tests/browser_maps.rs starts the server and runs this. Screenshots go to
// CITYLOOP_SCREENSHOTS (default test-artifacts/screenshots/maps). The last line is
// "browser maps: N passed, N failed"; the exit code is non-zero on any failure.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.argv[2] || process.env.CITYLOOP_BASE_URL || '').replace(/\/$/, '');
if (!BASE) {
  console.error('usage: node e2e/maps.mjs BASE_URL');
  process.exit(2);
}
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = process.env.CITYLOOP_SCREENSHOTS || path.resolve(HERE, '..', 'test-artifacts', 'screenshots', 'maps');
mkdirSync(SHOTS, { recursive: true });
const CHROMIUM = process.env.CITYLOOP_CHROMIUM || '/usr/bin/chromium';
const PHONE = { width: 390, height: 844 };
const DESK = { width: 1440, height: 900 };
/** A point in 德化街 near 中原路 (WGS84), inside the district. */
const DEHUA = { latitude: 34.7503, longitude: 113.6615, accuracy: 35 };

class Failure extends Error {}
function check(cond, message) {
  if (!cond) throw new Failure(message);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const pageErrors = [];

async function newPage({ viewport = DESK, geolocation } = {}) {
  const context = await browser.newContext({
    viewport,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    geolocation,
    permissions: geolocation ? ['geolocation'] : [],
  });
  const outside = [];
  // Nothing loads from outside the server unless a tile source is configured (then: tiles only).
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(BASE) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.outside = outside;
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function shot(page, name) {
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

async function api(method, p, { token, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${BASE}${p}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function login(user) {
  const r = await api('POST', '/api/v1/auth/login', { body: { username: user, password: 'demo' } });
  check(r.status === 200, `login ${user}: ${r.status}`);
  return r.body.token;
}

/** Metres between two WGS84 points (small distances). */
function metres(a, b) {
  const k = Math.PI / 180;
  const x = (b.lon - a.lon) * k * Math.cos(((a.lat + b.lat) / 2) * k) * 6371008.8;
  const y = (b.lat - a.lat) * k * 6371008.8;
  return Math.hypot(x, y);
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('public page on a phone: an address search places the pin and fills the address', async () => {
  const page = await newPage({ viewport: PHONE });
  await page.goto(`${BASE}/#report`);
  await page.waitForSelector('#report-map path.road', { state: 'attached' });
  await page.fill('#report-place', '大学路与陇海路');
  await page.waitForSelector('.place-results li');
  const first = await page.locator('.place-results li').first().textContent();
  check(/路口/.test(first) && /大学路/.test(first) && /陇海路/.test(first), `first answer is the intersection: ${first}`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /北纬/.test(document.getElementById('picked').textContent));
  await page.waitForFunction(() => document.getElementById('address').value.includes('交叉口'));
  const submit = await page.textContent('#submit-place');
  check(submit.includes('提交位置') && submit.includes('大学路'), `the place is shown above submit: ${submit}`);
  check((await page.locator('#report-map .leaflet-marker-icon').count()) === 1, 'one pin');
  await page.locator('#report-map').scrollIntoViewIfNeeded();
  await shot(page, 'public-phone-search');
  check(page.outside.length === 0, `nothing loaded from outside: ${page.outside}`);
});

test('public page on a phone: locate me draws the accuracy circle and names the place', async () => {
  const page = await newPage({ viewport: PHONE, geolocation: DEHUA });
  await page.goto(`${BASE}/#report`);
  await page.waitForSelector('#report-map path.road', { state: 'attached' });
  await page.click('#locate');
  await page.waitForFunction(() => /34\.7503/.test(document.getElementById('picked').textContent));
  await page.waitForSelector('#report-map path.accuracy-circle', { state: 'attached' });
  await page.waitForFunction(() => document.getElementById('picked-place').textContent.startsWith('二七区 · '));
  const words = await page.textContent('#picked-place');
  check(/附近/.test(words), `a place in words: ${words}`);
  // Dragging the pin moves the spot and renames it.
  const before = await page.textContent('#picked');
  const pin = await page.locator('#report-map .leaflet-marker-icon').boundingBox();
  await page.mouse.move(pin.x + pin.width / 2, pin.y + pin.height - 4);
  await page.mouse.down();
  await page.mouse.move(pin.x + pin.width / 2 + 60, pin.y + pin.height - 40, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction((b) => document.getElementById('picked').textContent !== b, before);
  await page.locator('#report-map').scrollIntoViewIfNeeded();
  await shot(page, 'public-phone-locate');
});

test('the console map draws named roads with no tile source', async () => {
  const page = await newPage({ viewport: DESK });
  await page.goto(`${BASE}/staff`);
  await page.fill('#username', 'dispatcher');
  await page.fill('#password', 'demo');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#nav-list a[aria-current="page"]');
  const map = page.locator('.territory-map').first();
  await map.waitFor();
  // Even the whole district shows its main roads.
  await page.waitForSelector('.territory-map path.road', { state: 'attached' });
  await shot(page, 'console-district-offline');
  // Zoom in until names are written along the roads.
  const el = await map.elementHandle();
  await el.evaluate((m) => m.cityloopMap.map.setView([34.7445, 113.6445], 15));
  await page.waitForSelector('.territory-map text.road-label', { state: 'attached' });
  const labels = await page.$$eval('.territory-map text.road-label', (ts) => ts.map((x) => x.textContent));
  check(labels.some((l) => /路|街/.test(l)), `road names drawn: ${labels.slice(0, 8)}`);
  check((await page.locator('.territory-map .leaflet-tile').count()) === 0, 'no tiles');
  await shot(page, 'console-map-offline');
  check(page.outside.length === 0, `nothing loaded from outside: ${page.outside}`);
});

test('a GCJ-02 tile source: a click at a known GCJ-02 position stores the right WGS84 point', async () => {
  const admin = await login('admin');
  const put = await api('PUT', '/api/v1/admin/map/tiles', {
    token: admin,
    body: { tiles: { url: 'https://tiles.example.invalid/{z}/{x}/{y}.png', attribution: '测试底图（GCJ-02）', max_zoom: 18, coord: 'gcj02' } },
  });
  check(put.status === 200, `tile source set: ${put.status} ${JSON.stringify(put.body)}`);
  try {
    // A vertex of the 二七区 outline in both systems (../shared/data/geo/erqi_district.*).
    const gcj = { lat: Number(process.env.CITYLOOP_E2E_GCJ_LAT), lon: Number(process.env.CITYLOOP_E2E_GCJ_LON) };
    const wgs = { lat: Number(process.env.CITYLOOP_E2E_WGS_LAT), lon: Number(process.env.CITYLOOP_E2E_WGS_LON) };
    check(Number.isFinite(gcj.lat) && Number.isFinite(wgs.lat), 'the known pair is given by tests/browser_maps.rs');
    const page = await newPage({ viewport: DESK });
    await page.goto(`${BASE}/#report`);
    await page.waitForSelector('#report-map path.road', { state: 'attached' });
    await page.locator('#report-map').scrollIntoViewIfNeeded();
    const at = await page.locator('#report-map').evaluate((m, p) => {
      const h = m.cityloopMap;
      h.map.setView([p.lat, p.lon], 19, { animate: false });
      const pt = h.map.latLngToContainerPoint([p.lat, p.lon]);
      return { x: pt.x, y: pt.y };
    }, gcj);
    await page.waitForTimeout(300);
    const box = await page.locator('#report-map').boundingBox();
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await page.waitForFunction(() => /北纬/.test(document.getElementById('picked').textContent));
    // Submit the report and read back the stored point.
    await page.waitForSelector('#category option[value="06010"]');
    await page.selectOption('#category', '06010');
    await page.waitForSelector('#attributes select[name="attribute[severity]"]');
    await page.selectOption('#attributes select[name="attribute[severity]"]', 'serious');
    await page.fill('#description', '测试：GCJ-02 底图上点选的位置');
    await page.click('#submit');
    await page.waitForSelector('#receipt:not([hidden])');
    const number = (await page.textContent('#receipt-number')).trim();
    const tok = await login('operator');
    const list = await api('GET', `/api/v1/cases?limit=200`, { token: tok });
    const found = list.body.items.find((c) => c.number === number);
    check(found, `case ${number} listed`);
    const d = metres({ lat: found.lat, lon: found.lon }, wgs);
    console.log(`     GCJ-02 click stored ${d.toFixed(3)} m from the published WGS84 point`);
    check(d <= 1.0, `stored ${found.lat},${found.lon}: ${d.toFixed(2)} m from the published WGS84 point`);
    const tiles = page.outside.filter((u) => u.startsWith('https://tiles.example.invalid/'));
    check(tiles.length > 0 && tiles.length === page.outside.length, `only the configured tile host was asked: ${page.outside.slice(0, 3)}`);
  } finally {
    await api('PUT', '/api/v1/admin/map/tiles', { token: admin, body: { tiles: null } });
  }
});

let passed = 0;
let failed = 0;
for (const { name, fn } of tests) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${e.stack || e}`);
  }
}
if (pageErrors.length) {
  failed += 1;
  console.log(`FAIL page errors:\n     ${pageErrors.join('\n     ')}`);
}
await browser.close();
console.log(`browser maps: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
