// Browser test of the 12345 work order on the case page (issue 18) in headless Chromium,
// against an empty `cityloop demo`:
//
//   node e2e/hotline.mjs http://127.0.0.1:8080
//
// crates/cityloop/tests/browser_hotline.rs starts the server and runs this. An admin sets
// the bridge up, the test pushes a signed work order as the city platform would (an
// unmapped 诉求类型, no coordinates), and an operator's case page shows its 工单号, the
// platform's natural-day deadline and what to check; an empty 阶段答复 is refused next to the
// field, a written one joins the exchanges with the platform. Screenshots (1440×900,
// 390×844) go to CITYLOOP_SCREENSHOTS (default test-artifacts/screenshots/hotline).

import { createHmac } from 'node:crypto';
import { check, suite } from './harness.mjs';

const { BASE, api, login, signedIn, shot, scenario, finish } = await suite('hotline');
const SECRET = 'platform-secret-0123456789';

const admin = (await login('admin')).token;
const set = await api('PUT', '/api/v1/admin/hotline', {
  token: admin,
  body: { inbound_secret: SECRET, categories: { 井盖缺失: '01001' }, fallback_category: '06010', intake_lon: 113.64, intake_lat: 34.75 },
});
check(set.status === 204, `bridge settings: ${set.status} ${JSON.stringify(set.body)}`);

// Beijing wall time of now, as the platform writes it.
const beijing = new Date(Date.now() + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
const order = JSON.stringify({
  ticket_no: 'GD-E2E-0001',
  caller: '王先生',
  callback_phone: '13800138000',
  call_time: beijing,
  content: '路边有人长期占道摆摊卖水果，行人只能走机动车道',
  kind: '占道摆摊',
  address: '二七区某某路口',
  deadline_days: 3,
  urgency: 'normal',
});
const ts = Math.floor(Date.now() / 1000);
const sig = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${order}`).digest('hex')}`;
const pushed = await fetch(`${BASE}/api/v1/hotline/orders`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-cityloop-timestamp': String(ts), 'x-cityloop-signature': sig },
  body: order,
});
const answer = await pushed.json();
check(pushed.status === 201, `push: ${pushed.status} ${JSON.stringify(answer)}`);
const caseId = answer.case_id;

await scenario('an operator sees the work order, its platform deadline and what to check, and sends an interim reply', async () => {
  const { page, context } = await signedIn({ width: 1440, height: 900 }, 'operator');
  await page.goto(`${BASE}/staff#/case/${caseId}`);
  const box = page.locator('[data-testid="hotline"]');
  await box.waitFor();
  check((await box.locator('[data-testid="hotline-ticket"]').innerText()).includes('GD-E2E-0001'), 'the 工单号 shows');
  const deadline = await box.locator('[data-testid="hotline-deadline"]').innerText();
  // Three natural days from today: the last allowed day is the third day after today.
  check(/24:00 前（按自然日，还剩 3 天）/.test(deadline), `the platform deadline counts natural days: ${deadline}`);
  const text = await box.innerText();
  check(text.includes('没有对应的案件类别'), 'the unmapped request type is pointed out');
  check(text.includes('收到工单'), 'the receipt is in the exchanges');
  check(!/undefined|null|NaN|hl\./.test(text), `no raw values or keys: ${text}`);
  await box.locator('[data-testid="hotline-progress"] button[type="submit"]').click();
  await page.waitForSelector('[data-testid="hotline-progress"] [data-field="text"] .field-error:not([hidden])');
  await box.locator('#hotline-progress-text').fill('已联系街道执法队员前往现场劝离，预计明天上午处理完毕');
  await box.locator('[data-testid="hotline-progress"] button[type="submit"]').click();
  await page.waitForSelector('[data-testid="hotline-log"] li[data-kind="progress"]');
  check((await page.locator('[data-testid="hotline-log"]').innerText()).includes('预计明天上午处理完毕'), 'the reply joins the exchanges');
  await shot(page, 'hotline-case-1440x900', { fullPage: true });
  await context.close();
});

await scenario('the work order reads well on a phone', async () => {
  const { page, context } = await signedIn({ width: 390, height: 844 }, 'operator');
  await page.goto(`${BASE}/staff#/case/${caseId}`);
  await page.locator('[data-testid="hotline"]').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling on the phone: ${overflow}px`);
  await page.locator('[data-testid="hotline"]').scrollIntoViewIfNeeded();
  await shot(page, 'hotline-case-390x844');
  await context.close();
});

await finish();
