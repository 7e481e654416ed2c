// The shared harness of the per-feature browser suites (e2e/<feature>.mjs, each run by
// crates/cityloop/tests/browser_<feature>.rs against a running `cityloop demo`): the base
// URL from the command line, Debian's Chromium (CITYLOOP_CHROMIUM), screenshots under
// CITYLOOP_SCREENSHOTS (default test-artifacts/screenshots/<feature>), API calls and demo
// log-ins, pages signed in the way the console keeps its session (requests off the server
// are refused and recorded), and scenarios that end in one summary line
// "browser <feature>: N passed, N failed" with a non-zero exit code on any failure.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** A broken expectation: reported by its message, without a stack. */
export class Failure extends Error {}

/** @param {unknown} cond @param {string} message */
export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

/**
 * Starts a suite: reads the base URL (or exits with a usage line), launches Chromium.
 * @param {string} feature the suite's name (`roads`, `cohandle`, …)
 */
export async function suite(feature) {
  const BASE = (process.argv[2] || process.env.CITYLOOP_BASE_URL || '').replace(/\/$/, '');
  if (!BASE) {
    console.error(`usage: node e2e/${feature}.mjs BASE_URL`);
    process.exit(2);
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const SHOTS = process.env.CITYLOOP_SCREENSHOTS || path.resolve(here, '..', 'test-artifacts', 'screenshots', feature);
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CITYLOOP_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  /** @type {string[]} */
  const pageErrors = [];
  /** @type {[string, boolean][]} */
  const results = [];

  /** @param {string} method @param {string} p @param {{ token?: string, body?: unknown }} [opts] */
  async function api(method, p, { token, body } = {}) {
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`${BASE}${p}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, body: await r.json().catch(() => null) };
  }

  /** A demo account's session (password `demo`). @param {string} user */
  async function login(user) {
    const r = await api('POST', '/api/v1/auth/login', { body: { username: user, password: 'demo' } });
    check(r.status === 200, `login ${user}: ${r.status}`);
    return r.body;
  }

  /**
   * A page signed in as `user` in Beijing time and zh-CN; `geolocation` grants the
   * position. `outside` lists every request that tried to leave the server.
   * @param {{ width: number, height: number }} viewport
   * @param {string} user
   * @param {{ geolocation?: { longitude: number, latitude: number, accuracy?: number } }} [opts]
   */
  async function signedIn(viewport, user, { geolocation } = {}) {
    const context = await browser.newContext({
      viewport,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      ...(geolocation ? { permissions: ['geolocation'], geolocation } : {}),
    });
    /** @type {string[]} */
    const outside = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(BASE) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const s = await login(user);
    await context.addInitScript(([token, u, exp]) => {
      localStorage.setItem('cityloop.token', token);
      localStorage.setItem('cityloop.user', u);
      if (exp) localStorage.setItem('cityloop.expires', exp);
    }, [s.token, JSON.stringify(s.user), s.expires_at]);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    return { page, context, token: s.token, outside };
  }

  /**
   * A screenshot after the page settles.
   * @param {import('playwright-core').Page} page @param {string} name
   * @param {{ fullPage?: boolean }} [opts]
   */
  async function shot(page, name, { fullPage = false } = {}) {
    await page.waitForTimeout(600);
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  }

  /** Runs one scenario; a failure is recorded and the suite goes on. @param {string} name @param {() => Promise<void>} f */
  async function scenario(name, f) {
    try {
      await f();
      results.push([name, true]);
      console.log(`ok   ${name}`);
    } catch (e) {
      results.push([name, false]);
      console.log(`FAIL ${name}: ${e instanceof Failure ? e.message : /** @type {Error} */ (e).stack}`);
    }
  }

  /** Closes the browser, prints the summary line and exits. */
  async function finish() {
    await browser.close();
    if (pageErrors.length) {
      console.log(`FAIL page errors:\n${pageErrors.join('\n')}`);
      results.push(['page errors', false]);
    }
    const failed = results.filter(([, ok]) => !ok).length;
    console.log(`browser ${feature}: ${results.length - failed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  }

  return { BASE, SHOTS, browser, api, login, signedIn, shot, scenario, finish };
}
