// The staff console's shell: sign-in (kept across tabs until the session expires or the
// person signs out), the navigation of the signed-in role, the hash router that draws one
// screen at a time into #view, and the global keyboard shortcuts (`?` lists them).
//
// Screens live in web/js/console/ (one ES module each: queue.js, case.js, intake.js,
// field.js) and share console/ctx.js (state, names, badges) and the components in
// console/ (actions.js, category.js, keys.js); admin and rankings screens are admin.js
// and rankings.js. See ARCHITECTURE.md, "web".

import { t, applyStatic, wireToggle } from './i18n.js';
import { h, fill, api, session, setUnauthorizedHandler, showError, clearErrors, clearOnInput, describe, ApiError } from './common.js';
import { ADMIN_VIEWS, renderAdmin } from './admin.js';
import { renderRankings } from './rankings.js';
import { ctx, $, HOME, roleName, unitName } from './console/ctx.js';
import { renderParty, renderParties } from './console/enforce.js';
import { VIEWS, renderList } from './console/queue.js';
import { renderCase } from './console/case.js';
import { renderPrint } from './console/print.js';
import { renderIntake } from './console/intake.js';
import { renderFieldReport } from './console/field.js';
import { renderRoads } from './console/roads.js';
import { listen, setGlobalKeys, setScreenKeys, showShortcuts } from './console/keys.js';
import { mountSearch } from './search.js';
import { mountInbox, unmountInbox } from './console/inbox.js';
import { SENSOR_VIEWS, renderSensorSites, renderSensorSite, renderSensorDevices } from './console/sensors.js';

/** Who sees the rankings page (综合评价). */
const RANKING_ROLES = ['admin', 'supervisor', 'dispatcher', 'operator', 'road_chief'];

/** Who sees the monitoring sites and devices (污染防治联动). */
const SENSOR_ROLES = ['admin', 'supervisor', 'dispatcher', 'operator', 'leader'];

/** Screens that create cases, by role: 受理登记 for the desk, 城管通 for the field. */
const CREATE = {
  register: { roles: ['operator', 'supervisor'], render: renderIntake },
  report: { roles: ['inspector', 'road_chief'], render: renderFieldReport },
};

// ---- sign-in ----------------------------------------------------------------------------

/** @param {string} [message] */
function showLogin(message) {
  ctx.user = null;
  unmountInbox();
  $('nav').hidden = true;
  $('view').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  const form = $('login-form');
  clearErrors(form);
  if (message) {
    const box = form.querySelector('.form-error');
    box.textContent = message;
    box.hidden = false;
  }
  $('username').focus();
}

/** @param {Event} e */
async function login(e) {
  e.preventDefault();
  const form = $('login-form');
  clearErrors(form);
  try {
    const r = await api('/api/v1/auth/login', {
      method: 'POST',
      auth: false,
      body: { username: $('username').value.trim(), password: $('password').value },
    });
    session.set(r.token, r.user, r.expires_at);
    $('password').value = '';
    await enter(r.user);
  } catch (err) {
    showError(form, err);
  }
}

async function logout() {
  try {
    await api('/api/v1/auth/logout', { method: 'POST' });
  } catch {
    // The token is forgotten either way.
  }
  session.clear();
  history.replaceState(null, '', '#');
  showLogin();
}

/**
 * Another tab signed in, out, or as someone else: this one follows (the session is kept
 * in localStorage, shared by the tabs of this origin).
 */
function followOtherTabs() {
  window.addEventListener('storage', (e) => {
    if (e.key !== session.KEY_TOKEN) return;
    if (!session.token) {
      if (ctx.user) showLogin(t('login.signed_out_elsewhere'));
      return;
    }
    const u = session.user;
    if (u && (!ctx.user || ctx.user.id !== u.id)) enter(u).catch((err) => showLogin(describe(err)));
  });
}

/** @param {any} user */
async function enter(user) {
  ctx.user = user;
  // Reference data first: if it cannot be had, the sign-in form says why.
  const [units, cats] = await Promise.all([api('/api/v1/units'), api('/api/v1/categories')]);
  $('login').hidden = true;
  $('logout').hidden = false;
  ctx.units = units;
  ctx.unitsById = new Map(units.map((/** @type {any} */ u) => [u.id, u]));
  ctx.categories = cats;
  ctx.catByKey = new Map(cats.map((/** @type {any} */ c) => [`${c.standard}:${c.kind}:${c.code}`, c]));
  renderWho();
  renderNav();
  mountSearch($('nav'), ctx);
  mountInbox(/** @type {HTMLElement} */ (document.querySelector('.topbar-actions')));
  $('nav').hidden = false;
  $('view').hidden = false;
  route();
}

function renderWho() {
  const u = ctx.user;
  if (!u) return;
  const unit = u.unit_id ? ` · ${unitName(u.unit_id)}` : '';
  $('who').textContent = `${t('whoami', { name: u.display_name, role: roleName(u.role) })}${unit}`;
}

// ---- navigation -------------------------------------------------------------------------

/** The screens of a role, in the order the navigation lists them. @param {string} role */
function viewsFor(role) {
  const create = Object.keys(CREATE).filter((v) => CREATE[v].roles.includes(role));
  const views = Object.keys(VIEWS).filter((v) => VIEWS[v].roles.includes(role));
  // 我的路段 (issue 21) leads a road chief's navigation.
  const all = [...(role === 'road_chief' ? ['roads'] : []), ...create, ...views];
  return role === 'admin' ? all.concat(ADMIN_VIEWS) : all;
}

function renderNav() {
  const list = $('nav-list');
  fill(
    list,
    viewsFor(ctx.user.role)
      .concat(RANKING_ROLES.includes(ctx.user.role) ? ['rankings'] : [])
      .concat(SENSOR_ROLES.includes(ctx.user.role) ? ['sensors'] : [])
      .map((v) => h('li', {}, h('a', { href: `#/${v}`, dataset: { view: v } }, t(`nav.${v}`)))),
  );
  markNav();
}

function markNav() {
  const current = parseHash().view;
  for (const a of $('nav-list').querySelectorAll('a')) {
    if (a.dataset.view === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || '', arg: parts[1] || null, params: new URLSearchParams(query || '') };
}

function route() {
  if (!ctx.user) return;
  const { view, arg, params } = parseHash();
  markNav();
  if (ctx.chart) {
    ctx.chart.dispose();
    ctx.chart = null;
  }
  setScreenKeys([]);
  const root = $('view');
  if (view === 'case' && arg) {
    ctx.render = () => renderCase(root, arg);
  } else if (view === 'print' && arg) {
    ctx.render = () => renderPrint(root, arg);
  } else if (view === 'party' && arg) {
    ctx.render = () => renderParty(root, arg);
  } else if (view === 'parties') {
    ctx.render = () => renderParties(root);
  } else if (view === 'roads' && ctx.user.role === 'road_chief') {
    ctx.render = () => renderRoads(root);
  } else if (CREATE[view] && CREATE[view].roles.includes(ctx.user.role)) {
    ctx.render = () => CREATE[view].render(root);
  } else if (ADMIN_VIEWS.includes(view) && ctx.user.role === 'admin') {
    ctx.render = () => renderAdmin(view, $('view'), params);
  } else if (view === 'sensor' && arg) {
    ctx.render = () => renderSensorSite(root, arg);
  } else if (SENSOR_VIEWS.includes(view) && SENSOR_ROLES.includes(ctx.user.role)) {
    ctx.render = () => (view === 'sensors' ? renderSensorSites(root) : renderSensorDevices(root));
  } else if (view === 'rankings' && RANKING_ROLES.includes(ctx.user.role)) {
    ctx.render = () => renderRankings($('view'), params, ctx);
  } else if (VIEWS[view] && VIEWS[view].roles.includes(ctx.user.role)) {
    ctx.lastList = location.hash;
    ctx.render = () => renderList(root, view, params);
  } else {
    location.replace(`#/${HOME[ctx.user.role] || 'all'}`);
    return;
  }
  ctx.render();
}

// ---- start ---------------------------------------------------------------------------------

/** The 演示数据 label while the installation holds the demo's generated sample cases. */
async function showDemoBadge() {
  try {
    const cfg = await api('/api/v1/public/config', { auth: false });
    const badge = $('demo-badge');
    if (!cfg || !cfg.demo_cases || !badge) return;
    badge.hidden = false;
    badge.title = t('app.demo_title', { n: cfg.demo_cases });
  } catch {
    // No label is better than a wrong one; the console works without it.
  }
}

async function start() {
  applyStatic();
  wireToggle($('lang'));
  $('login-form').addEventListener('submit', login);
  clearOnInput($('login-form'));
  $('logout').addEventListener('click', logout);
  setUnauthorizedHandler(() => {
    session.clear();
    showLogin(t('login.expired'));
  });
  window.addEventListener('hashchange', route);
  followOtherTabs();
  listen();
  setGlobalKeys([
    { keys: ['?'], label: t('keys.help'), run: () => showShortcuts() },
    { keys: ['g'], label: t('keys.home'), run: () => ctx.user && (location.hash = `#/${HOME[ctx.user.role] || 'all'}`) },
    {
      keys: ['n'],
      label: t('keys.new'),
      run: () => {
        const role = ctx.user?.role || '';
        const v = Object.keys(CREATE).find((k) => CREATE[k].roles.includes(role));
        if (v) location.hash = `#/${v}`;
      },
    },
    { keys: ['/'], label: t('keys.search'), run: () => /** @type {HTMLElement | null} */ (document.querySelector('#search-input'))?.focus() },
  ]);
  $('shortcuts-button').addEventListener('click', () => showShortcuts());
  document.addEventListener('langchange', () => {
    document.title = `${t('app.district')} · ${t('app.staff_title')}`;
    if (!ctx.user) return;
    renderWho();
    renderNav();
    ctx.render && ctx.render();
  });
  document.title = `${t('app.district')} · ${t('app.staff_title')}`;
  showDemoBadge();
  if (!session.token) {
    showLogin(session.expired ? t('login.expired') : undefined);
    return;
  }
  try {
    const me = await api('/api/v1/me');
    session.set(session.token || '', me, session.expiresAt);
    await enter(me);
  } catch (err) {
    session.clear();
    showLogin(err instanceof ApiError && err.status === 401 ? t('login.expired') : describe(err));
  }
}

start();
