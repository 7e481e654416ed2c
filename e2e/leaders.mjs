// Browser test of the leaders' view (领导驾驶舱, issue 17 item 5) in headless Chromium,
// against a `cityloop demo` WITH its sample history (演示数据):
//
//   node e2e/leaders.mjs http://127.0.0.1:8080
//
// crates/cityloop/tests/browser_leaders.rs starts the server and runs this. At 1920×1080
// every panel shows demo data; a case reported through the API shows in today's count
// within one refresh (?refresh=5); with the network cut the page keeps its figures and
// says 网络中断. Screenshots (1920×1080, 1440×900, 390×844) go to CITYLOOP_SCREENSHOTS
// (default test-artifacts/screenshots/leaders). The last line is
// "browser leaders: N passed, N failed"; the exit code is non-zero on any failure.

import { check, suite } from './harness.mjs';

const { BASE, api, login, signedIn, shot, scenario, finish } = await suite('leaders');

async function todayReported(page) {
  return Number((await page.locator('[data-testid="tiles-today"] [data-testid="value-reported"]').innerText()).replace(/[^0-9]/g, ''));
}

await scenario('the wall screen shows every panel with demo data and counts a new report', async () => {
  const { page, context, outside } = await signedIn({ width: 1920, height: 1080 }, 'supervisor');
  await page.goto(`${BASE}/leaders?refresh=5`);
  await page.waitForSelector('[data-testid="tile-reported"]');
  await page.waitForFunction(() => document.querySelectorAll('#lv-trend canvas, #lv-cats canvas, #lv-sources canvas').length >= 3);
  await page.waitForFunction(() => Number(document.querySelector('#lv-map')?.dataset.clusterTotal || 0) > 0);
  check(await page.locator('[data-testid="demo-badge"]').isVisible(), 'the 演示数据 badge shows');
  check((await page.locator('[data-testid="overdue"] li').count()) >= 3, 'overdue cases are listed');
  check((await page.locator('[data-testid="league-street"] li').count()) >= 3, 'street league table rows');
  check((await page.locator('[data-testid="league-department"] li').count()) >= 3, 'department league table rows');
  for (const id of ['tiles-today', 'tiles-month', 'map', 'trend', 'categories', 'sources', 'overdue', 'league-street', 'league-department']) {
    const box = await page.locator(`[data-testid="${id}"]`).boundingBox();
    check(box && box.width > 100 && box.height > 40 && box.y + box.height <= 1080 + 1, `${id} is on the screen: ${JSON.stringify(box)}`);
  }
  const month = Number((await page.locator('[data-testid="tiles-month"] [data-testid="value-reported"]').innerText()).replace(/[^0-9]/g, ''));
  check(month > 0, `this month's reports: ${month}`);
  check(!/undefined|NaN|null/.test(await page.locator('#lv-main').innerText()), 'no undefined, NaN or null on the page');
  await shot(page, 'leaders-1920x1080');

  const before = await todayReported(page);
  const inspector = (await login('inspector')).token;
  const r = await api('POST', '/api/v1/cases', {
    token: inspector,
    body: { source: 'inspector', category: '06010', description: '驾驶舱刷新测试', lat: 34.7503, lon: 113.6615 },
  });
  check(r.status === 201, `report: ${r.status}`);
  await page.waitForFunction((n) => {
    const el = document.querySelector('[data-testid="tiles-today"] [data-testid="value-reported"]');
    return el && Number(el.textContent.replace(/[^0-9]/g, '')) === n + 1;
  }, before, { timeout: 15_000 });

  // The network drops: the figures stay, the notice says so, the last update time stays.
  const updated = await page.locator('[data-testid="updated"]').innerText();
  await context.setOffline(true);
  await page.waitForSelector('[data-testid="offline"]:not([hidden])', { timeout: 15_000 });
  check((await page.locator('[data-testid="offline"]').innerText()).includes('网络中断'), 'the 网络中断 notice');
  check((await todayReported(page)) === before + 1, 'figures kept while offline');
  check((await page.locator('[data-testid="updated"]').innerText()) === updated, 'last update time kept');
  await shot(page, 'leaders-offline-1920x1080');
  await context.setOffline(false);
  await page.waitForSelector('[data-testid="offline"]', { state: 'hidden', timeout: 15_000 });
  check(outside.length === 0, `nothing loaded from outside: ${outside.join(', ')}`);
  await context.close();
});

await scenario('the desktop and phone layouts show the figures', async () => {
  for (const [w, hgt] of [[1440, 900], [390, 844]]) {
    const { page, context } = await signedIn({ width: w, height: hgt }, 'supervisor');
    await page.goto(`${BASE}/leaders`);
    await page.waitForSelector('[data-testid="tile-reported"]');
    await page.waitForFunction(() => document.querySelectorAll('#lv-trend canvas').length >= 1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no sideways scrolling at ${w}: ${overflow}px`);
    await shot(page, `leaders-${w}x${hgt}`);
    await context.close();
  }
});

await scenario('a handler is told the view needs a whole-district account', async () => {
  const { page, context } = await signedIn({ width: 1440, height: 900 }, 'handler-hw');
  await page.goto(`${BASE}/leaders`);
  await page.waitForSelector('#lv-login:not([hidden])');
  check((await page.locator('#lv-login-form [data-form-error]').innerText()).includes('全区'), 'the refusal says why');
  await context.close();
});

await finish();
