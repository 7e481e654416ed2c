// Browser test of 我的路段 and 巡查 on a phone (issue 21) in headless Chromium, against an
// empty `cityloop demo`:
//
//   node e2e/roads.mjs http://127.0.0.1:8080
//
// crates/cityloop/tests/browser_roads.rs starts the server and runs this. At 390×844 a 二级
// road chief lands on 我的路段, starts a patrol, walks a demo road of their street (the test
// moves the browser's geolocation along it), reports a problem on the way from the patrol
// (城管通 opens at the trail's position), loses the network for a stretch (the points stay
// queued and are sent when it returns), ends the patrol and sees the segment marked
// 已巡查 in the list. Screenshots (390×844 and 1440×900) go to CITYLOOP_SCREENSHOTS
// (default test-artifacts/screenshots/roads). The last line is
// "browser roads: N passed, N failed"; the exit code is non-zero on any failure.

import { check, suite } from './harness.mjs';

const { BASE, api, login, signedIn, shot, scenario, finish } = await suite('roads');
const PHONE = { width: 390, height: 844 };

/** Metres between two [lon, lat]. */
function metres(a, b) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dlat = (b[1] - a[1]) * rad;
  const dlon = (b[0] - a[0]) * rad;
  const s = Math.sin(dlat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(s));
}

/** Positions every ~12 m along a line of [lon, lat]. */
function along(line) {
  const out = [];
  for (let i = 1; i < line.length; i++) {
    const n = Math.max(1, Math.ceil(metres(line[i - 1], line[i]) / 12));
    for (let k = 0; k < n; k++) {
      const u = k / n;
      out.push([line[i - 1][0] + u * (line[i][0] - line[i - 1][0]), line[i - 1][1] + u * (line[i][1] - line[i - 1][1])]);
    }
  }
  out.push(line[line.length - 1]);
  return out;
}

await scenario('a road chief patrols a demo road on the phone, reports on the way and sees it patrolled', async () => {
  const units = (await api('GET', '/api/v1/units', { token: (await login('operator')).token })).body;
  const street = units.find((u) => u.kind === 'street');
  const user = `roadchief2-${street.code}`;
  const s = await login(user);
  const roads = (await api('GET', '/api/v1/me/roads', { token: s.token })).body;
  const len = (g) => g.line.slice(1).reduce((a, c, i) => a + metres(g.line[i], c), 0);
  const target = roads.segments.find((g) => len(g) >= 250 && len(g) <= 900);
  check(target, 'a segment of 250–900 m in the street');
  const path_ = along(target.line);
  const at = (p) => ({ longitude: p[0], latitude: p[1], accuracy: 6 });

  const { page, context } = await signedIn(PHONE, user, { geolocation: at(path_[0]) });
  await page.goto(`${BASE}/staff`);
  await page.waitForSelector('#nav-list a[data-view="roads"][aria-current="page"]');
  await page.waitForSelector(`[data-testid="road"][data-segment="${target.segment_id}"]`);
  const before = await page.getAttribute(`[data-testid="road"][data-segment="${target.segment_id}"]`, 'data-patrol');
  check(before !== 'done', `nobody patrolled it yet: ${before}`);
  check((await page.textContent('.my-roads .intro')).includes(street.name.replace('办事处', '')), 'the intro names the street');
  await page.waitForFunction(() => document.querySelectorAll('.roads-map path[data-patrol]').length > 0);
  await shot(page, 'roads-phone');

  await page.click('[data-testid="patrol-start"]');
  await page.waitForSelector('[data-testid="patrol-end"]');
  const half = Math.floor(path_.length / 2);
  // Walk at about 20 m/s (12 m every 0.6 s): believable for a car, under the 120 km/h rule.
  const walk = async (from, to) => {
    for (let i = from; i < to; i++) {
      await context.setGeolocation(at(path_[i]));
      await page.waitForTimeout(600);
    }
  };
  await walk(1, half);
  check(/\d+:\d\d:\d\d/.test(await page.textContent('[data-testid="patrol-elapsed"]')), 'the elapsed time shows');
  check(!/^0 m$/.test((await page.textContent('[data-testid="patrol-distance"]')).trim()), 'the distance grows');
  await shot(page, 'roads-patrol-running-phone');

  // A problem on the way: two taps to the report screen, at the trail's position.
  await page.click('[data-testid="patrol-report"]');
  await page.waitForSelector('[data-testid="report-on-patrol"]');
  await page.fill('#fr-category-search', '暴露垃圾');
  await page.fill('#fr-description', '巡查中发现路边暴露垃圾');
  await shot(page, 'roads-report-on-patrol-phone');
  await page.click('[data-testid="field-submit"]');
  await page.waitForSelector('[data-testid="created-link"]');
  const number = /\d{6}-\d{8}-\d{4}/.exec(await page.textContent('#view [data-testid="status"]'))?.[0];
  check(number, 'the report got a number');
  const c = (await api('GET', `/api/v1/cases/by-number/${number}`, { token: s.token })).body;
  check(c && c.source === 'road_chief', `reported as the road chief (自查): ${c && c.source}`);
  check(metres([c.lon, c.lat], path_[half - 1]) < 30, 'at the trail position');
  await page.click('[data-testid="back-to-patrol"]');
  await page.waitForSelector('[data-testid="patrol-end"]');

  // The network drops for a stretch: the points stay queued on the phone.
  await context.setOffline(true);
  const third = half + Math.floor((path_.length - half) / 2);
  await walk(half, third);
  await page.waitForFunction(() => /网络中断/.test(document.querySelector('[data-testid="patrol-status"]')?.textContent || ''));
  const queued = Number((await page.textContent('[data-testid="patrol-queued"]')).replace(/[^0-9]/g, ''));
  check(queued > 0, `points queued while offline: ${queued}`);
  await shot(page, 'roads-patrol-offline-phone');
  await context.setOffline(false);
  await walk(third, path_.length);
  await page.click('[data-testid="patrol-end"]');
  await page.waitForSelector('[data-testid="patrol-credited"]');
  const credited = await page.$$eval('[data-testid="patrol-credited"] li', (els) => els.map((e) => e.dataset.segment));
  check(credited.includes(target.segment_id), `the walked segment is credited: ${credited}`);
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="road"][data-segment="${id}"]`)?.getAttribute('data-patrol') === 'done',
    target.segment_id,
  );
  check((await page.textContent(`[data-testid="road"][data-segment="${target.segment_id}"] [data-testid="road-patrol"]`)).includes('已巡查'), 'marked 已巡查');
  // Every point sent exactly once: what the phone counted equals what the server stored.
  const ended = (await api('GET', '/api/v1/me/roads', { token: s.token })).body;
  check(ended.segments.find((g) => g.segment_id === target.segment_id).patrol.status === 'done', 'the API agrees');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling on the phone: ${overflow}px`);
  await shot(page, 'roads-patrol-ended-phone');
  await page.setViewportSize({ width: 1440, height: 900 });
  await shot(page, 'roads-1440');
  await context.close();
});

await scenario('a patrol without GPS is recorded with its reason', async () => {
  const { page, context } = await signedIn(PHONE, 'roadchief-district', { geolocation: { longitude: 113.66, latitude: 34.75, accuracy: 10 } });
  await page.goto(`${BASE}/staff#/roads`);
  await page.waitForSelector('[data-testid="patrol-no-gps"]');
  await page.click('[data-testid="patrol-no-gps"]');
  await page.click('[data-testid="patrol-no-gps-save"]');
  await page.waitForSelector('.no-gps [data-field="no_gps_reason"] .field-error:not([hidden])');
  await page.fill('#patrol-reason', '地下通道内手机无定位信号');
  await page.click('[data-testid="patrol-no-gps-save"]');
  await page.waitForFunction(() => /无轨迹巡查/.test(document.querySelector('[data-testid="patrol-result"]')?.textContent || ''));
  await shot(page, 'roads-no-gps-phone');
  await context.close();
});

await finish();
