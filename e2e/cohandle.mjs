// Browser test of co-handling (主办/协办, issue 20 item 4) in headless Chromium, against
// a `cityloop demo`:
//
//   node e2e/cohandle.mjs http://127.0.0.1:8080
//
// crates/cityloop/tests/browser_cohandle.rs starts the server and runs this. A dispatcher
// adds an assisting unit (执法) with its task on the case page; the assisting unit's
// handler finds the case in its queue on a phone and reports back to the lead; the lead's
// handler sees the assisting unit's state and clock. Screenshots (1440×900, 390×844) go to
// CITYLOOP_SCREENSHOTS (default test-artifacts/screenshots/cohandle). The last line is
// "browser cohandle: N passed, N failed"; the exit code is non-zero on any failure.

import { check, suite } from './harness.mjs';

const { BASE, api, login, signedIn, shot, scenario, finish } = await suite('cohandle');

// A case in handling with 环卫 (hw) as the lead unit.
const inspector = (await login('inspector')).token;
const supervisor = (await login('supervisor')).token;
const dispatcherTok = (await login('dispatcher')).token;
const units = (await api('GET', '/api/v1/units', { token: dispatcherTok })).body;
const hw = units.find((u) => u.code === 'hw');
const zf = units.find((u) => u.code === 'zf');
const made = await api('POST', '/api/v1/cases', {
  token: inspector,
  body: { source: 'inspector', category: '06010', description: '工地扬尘，渣土车带泥上路（协办测试）', lat: 34.7503, lon: 113.6615 },
});
check(made.status === 201, `report: ${made.status}`);
const id = made.body.id;
const number = made.body.number;
const operator = (await login('operator')).token;
for (const [tok, body] of [
  [operator, { action: 'accept' }],
  [supervisor, { action: 'register' }],
  [dispatcherTok, { action: 'dispatch', unit_id: hw.id }],
]) {
  const r = await api('POST', `/api/v1/cases/${id}/actions`, { token: tok, body });
  check(r.status === 200, `${body.action}: ${r.status} ${JSON.stringify(r.body)}`);
}

await scenario('a dispatcher adds an assisting unit with its task on the case page', async () => {
  const { page, context } = await signedIn({ width: 1440, height: 900 }, 'dispatcher');
  await page.goto(`${BASE}/staff#/case/${id}`);
  await page.click('[data-testid="actions"] button[data-action="assist_add"]');
  const form = page.locator('form[data-action="assist_add"]');
  check(!(await form.locator('[name="public_reply"]').count()), 'no reply for the citizen on an internal step');
  check(!(await form.locator(`select[name="unit_id"] option[value="${hw.id}"]`).count()), 'the lead unit is not offered');
  // Without a task the server names the field.
  await form.locator('select[name="unit_id"]').selectOption(zf.id);
  await form.locator('button[type="submit"]').click();
  await page.waitForSelector('[data-field="note"] .field-error:not([hidden])');
  await form.locator('textarea[name="note"]').fill('查处渣土车带泥上路，对施工单位依法处理');
  await shot(page, 'cohandle-add-1440x900', { fullPage: true });
  await form.locator('button[type="submit"]').click();
  const item = page.locator(`[data-testid="assists"] [data-testid="assist"][data-unit="${zf.id}"]`);
  await item.waitFor();
  check((await item.getAttribute('data-state')) === 'open', 'the part is open');
  const text = await item.innerText();
  check(text.includes('协办中') && text.includes('查处渣土车带泥上路'), `state and task shown: ${text}`);
  check(/剩余|超期/.test(text), `its own time left: ${text}`);
  check((await page.locator('[data-testid="assist-waiting"]').innerText()).includes('1 个协办单位'), 'the lead waits for it');
  check(!/undefined|NaN|null|assist_/.test(await page.locator("body").innerText()), 'no field names or undefined on the page');
  await shot(page, 'cohandle-added-1440x900', { fullPage: true });
  await context.close();
});

await scenario('the assisting unit finds the case in its queue on a phone and reports back', async () => {
  const { page, context } = await signedIn({ width: 390, height: 844 }, 'handler-zf');
  await page.goto(`${BASE}/staff#/mine`);
  const row = page.locator(`text=${number}`).first();
  await row.waitFor();
  check(await page.locator('[data-testid="row-assist"]').count(), 'the row says the unit assists');
  await shot(page, 'cohandle-queue-390x844', { fullPage: true });
  await page.goto(`${BASE}/staff#/case/${id}`);
  await page.waitForSelector('[data-testid="assist-mine"]');
  const buttons = await page.locator('[data-testid="actions"] button').evaluateAll((bs) => bs.map((b) => b.dataset.action));
  check(JSON.stringify(buttons) === JSON.stringify(['assist_report', 'assist_return']), `only its own part's actions: ${buttons}`);
  await page.click('[data-testid="actions"] button[data-action="assist_report"]');
  const form = page.locator('form[data-action="assist_report"]');
  await form.locator('textarea[name="note"]').fill('已查处两辆渣土车，责令施工单位冲洗车辆');
  await form.locator('button[type="submit"]').click();
  const item = page.locator(`[data-testid="assist"][data-unit="${zf.id}"][data-state="reported"]`);
  await item.waitFor();
  check((await item.innerText()).includes('已反馈'), 'reported');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling on the phone: ${overflow}px`);
  await shot(page, 'cohandle-reported-390x844', { fullPage: true });
  await context.close();
});

await scenario('the lead unit sees the assisting unit reported and may report back', async () => {
  const { page, context } = await signedIn({ width: 1440, height: 900 }, 'handler-hw');
  await page.goto(`${BASE}/staff#/case/${id}`);
  const item = page.locator(`[data-testid="assist"][data-unit="${zf.id}"]`);
  await item.waitFor();
  const text = await item.innerText();
  check(text.includes('已反馈') && text.includes('已查处两辆渣土车'), `the report is shown: ${text}`);
  check(text.includes('按时反馈'), `on time: ${text}`);
  check(await page.locator('[data-testid="actions"] button[data-action="report_back"]').count(), 'report back offered');
  await shot(page, 'cohandle-lead-1440x900', { fullPage: true });
  await context.close();
});

await finish();
