// The staff console: sign-in, role-specific work lists (intake, verification, dispatch,
// approvals, my unit, overdue board, road chief, all cases), and the case page with its
// map, timeline and exactly the actions the server lists in `allowed_actions`.
// Lists are filtered and paged on the server (`state`, `category`, `source`, `street`,
// `overdue`, `cursor`).

import { t, lang, applyStatic, wireToggle } from './i18n.js';
import {
  h,
  fill,
  timeEl,
  api,
  session,
  setUnauthorizedHandler,
  showError,
  clearErrors,
  clearOnInput,
  describe,
  announce,
  ApiError,
  safeLink,
} from './common.js';
import { createMap, LIGHT_COLOURS } from './map.js';
import { photoPicker, uploadPhoto, photoStrip, beforeAfter } from './photos.js';
import { ADMIN_VIEWS, renderAdmin } from './admin.js';
import { renderRankings } from './rankings.js';

/* global echarts */

const $ = (id) => document.getElementById(id);

const ALL_STATES = [
  'received',
  'to_verify',
  'to_register',
  'to_dispatch',
  'handling',
  'extension_pending',
  'suspended',
  'to_check',
  'to_close',
  'closed',
  'voided',
];
const OPEN_STATES = ALL_STATES.filter((s) => s !== 'closed' && s !== 'voided');
const SOURCES = [
  'inspector',
  'public',
  'hotline_12345',
  'road_chief',
  'sensor',
  'video',
  'leader',
  'media',
  'petition',
  'patrol',
];

/**
 * The fields each action needs, as the rule table says (the server checks them again;
 * a missing one comes back as a 422 naming the field, shown next to it).
 */
const ACTION_FIELDS = {
  void: ['reason'],
  return: ['reason'],
  roll_back: ['reason'],
  check_fail: ['reason'],
  refuse_extension: ['reason'],
  suspend: ['reason'],
  dispatch: ['unit_id'],
  request_extension: ['extension', 'reason'],
  report_back: ['note', 'attachments'],
};
const DANGEROUS = new Set(['void', 'return', 'roll_back', 'check_fail', 'refuse_extension', 'suspend']);
/** What a citizen may be told when a case is not taken up (the reason itself stays internal). */
const PUBLIC_REASONS = ['other', 'duplicate', 'not_found_on_site', 'not_urban_management', 'outside_district', 'insufficient_information'];

/**
 * Quick actions offered in the intake queue and on the dispatch board, by state and
 * role. A shortcut only: the case page shows the server's `allowed_actions`, and the
 * server refuses anything else with a message shown in the row.
 */
const ROW_ACTIONS = {
  received: [
    ['accept', ['operator', 'supervisor']],
    ['void', ['operator', 'supervisor']],
  ],
  to_verify: [
    ['confirm', ['inspector']],
    ['void', ['operator', 'supervisor']],
  ],
  to_register: [
    ['register', ['operator', 'supervisor']],
    ['void', ['operator', 'supervisor']],
  ],
  to_dispatch: [
    ['dispatch', ['dispatcher', 'supervisor']],
    ['roll_back', ['dispatcher', 'supervisor']],
  ],
};

/** The work lists. `states`: fixed server filter; `filters`: which filter controls show. */
/** Who sees the rankings page (综合评价). */
const RANKING_ROLES = ['admin', 'supervisor', 'dispatcher', 'operator', 'road_chief'];

const VIEWS = {
  intake: {
    roles: ['operator', 'supervisor'],
    states: ['received', 'to_verify', 'to_register'],
    rowActions: true,
  },
  verify: { roles: ['inspector'], states: ['to_verify', 'to_check'], rowActions: true },
  dispatch: { roles: ['dispatcher', 'supervisor'], states: ['to_dispatch'], rowActions: true },
  approvals: { roles: ['dispatcher', 'supervisor'], states: ['extension_pending', 'suspended'] },
  mine: { roles: ['handler'], filters: ['state', 'category', 'source'], defaultState: 'open' },
  overdue: { roles: ['supervisor', 'dispatcher', 'admin'], overdue: true, chart: true, filters: ['category', 'source'] },
  roadchief: { roles: ['road_chief'], street: true, filters: ['state', 'category', 'source'], defaultState: 'open' },
  to_close: { roles: ['supervisor', 'operator'], states: ['to_close'] },
  all: {
    roles: ['admin', 'operator', 'dispatcher', 'inspector', 'supervisor', 'handler', 'road_chief'],
    filters: ['state', 'category', 'source'],
  },
};
const HOME = {
  operator: 'intake',
  inspector: 'verify',
  dispatcher: 'dispatch',
  supervisor: 'overdue',
  handler: 'mine',
  road_chief: 'roadchief',
  admin: 'all',
};

const ctx = {
  user: null,
  units: [],
  unitsById: new Map(),
  categories: [],
  catByKey: new Map(),
  lastList: null,
  chart: null,
  render: null,
};

// ---- naming ---------------------------------------------------------------------------

const stateName = (s) => t(`state.${s}`);
const colon = () => (lang() === 'en' ? ': ' : '：');
const actionName = (a) => t(`action.${a}`);
const roleName = (r) => t(`role.${r}`);

function categoryName(cat) {
  if (!cat) return '—';
  const c = ctx.catByKey.get(`${cat.standard}:${cat.kind}:${cat.code}`);
  const name = lang() === 'en' && c ? c.name_en : cat.name || c?.name_zh;
  return `${name || ''} ${cat.code}`.trim();
}

function unitName(id) {
  return ctx.unitsById.get(id)?.name || id || '—';
}

function stateBadge(s) {
  return h('span', { class: `badge state-${s}`, 'data-state': s }, stateName(s));
}

function lightEl(light) {
  if (!light) return h('span', { class: 'light none' }, t('light.none'));
  return h('span', { class: `light ${light}`, 'data-light': light }, t(`light.${light}`));
}

function place(c) {
  const r = c.routing || {};
  if (r.outside_district) return t('case.outside');
  return [r.street_name, r.road_name].filter(Boolean).join(' · ') || c.address || '—';
}

// ---- sign-in ----------------------------------------------------------------------------

function showLogin(message) {
  ctx.user = null;
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
    session.set(r.token, r.user);
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

async function enter(user) {
  ctx.user = user;
  // Reference data first: if it cannot be had, the sign-in form says why.
  const [units, cats] = await Promise.all([api('/api/v1/units'), api('/api/v1/categories')]);
  $('login').hidden = true;
  $('logout').hidden = false;
  ctx.units = units;
  ctx.unitsById = new Map(units.map((u) => [u.id, u]));
  ctx.categories = cats;
  ctx.catByKey = new Map(cats.map((c) => [`${c.standard}:${c.kind}:${c.code}`, c]));
  renderWho();
  renderNav();
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

function viewsFor(role) {
  const views = Object.keys(VIEWS).filter((v) => VIEWS[v].roles.includes(role));
  return role === 'admin' ? views.concat(ADMIN_VIEWS) : views;
}

function renderNav() {
  const list = $('nav-list');
  fill(
    list,
    viewsFor(ctx.user.role)
      .concat(RANKING_ROLES.includes(ctx.user.role) ? ['rankings'] : [])
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
  if (view === 'case' && arg) {
    ctx.render = () => renderCase(arg);
  } else if (ADMIN_VIEWS.includes(view) && ctx.user.role === 'admin') {
    ctx.render = () => renderAdmin(view, $('view'), params);
  } else if (view === 'rankings' && RANKING_ROLES.includes(ctx.user.role)) {
    ctx.render = () => renderRankings($('view'), params, ctx);
  } else if (VIEWS[view] && VIEWS[view].roles.includes(ctx.user.role)) {
    ctx.lastList = location.hash;
    ctx.render = () => renderList(view, params);
  } else {
    location.replace(`#/${HOME[ctx.user.role] || 'all'}`);
    return;
  }
  ctx.render();
}

// ---- lists ---------------------------------------------------------------------------------

function listQuery(view, params) {
  const cfg = VIEWS[view];
  const q = new URLSearchParams();
  let state = params.get('state') ?? cfg.defaultState ?? '';
  if (cfg.states) state = cfg.states.join(',');
  if (state === 'open') state = OPEN_STATES.join(',');
  if (state) q.set('state', state);
  for (const k of ['category', 'source']) if (params.get(k)) q.set(k, params.get(k));
  if (cfg.overdue) q.set('overdue', 'true');
  if (cfg.street) {
    const street = streetFor(params);
    if (street) q.set('street', street);
  }
  q.set('limit', '50');
  return q;
}

/**
 * The reporter as the server shaped it for this role (masked phone 138****0000, masked or
 * absent name and e-mail). Roles that may see the full number get a button that asks the
 * server for it; the server writes every such view to the audit log.
 */
function reporterView(c) {
  const r = c.reporter || {};
  const phone = r.phone ? h('span', { class: 'phone', 'data-testid': 'reporter-phone' }, r.phone) : null;
  const parts = [r.name, phone, r.email].filter(Boolean);
  if (!parts.length) return null;
  const out = [];
  parts.forEach((p, i) => out.push(i ? ' · ' : '', p));
  if (phone && r.phone_revealable) {
    const status = h('span', { class: 'hint', role: 'status' });
    const btn = h('button', {
      type: 'button',
      class: 'link',
      'data-testid': 'reveal-phone',
      title: t('case.reveal_phone_hint'),
      onclick: async () => {
        btn.disabled = true;
        try {
          const got = await api(`/api/v1/cases/${c.id}/reveal-phone`, { method: 'POST', body: {} });
          fill(phone, got.phone);
          btn.remove();
          fill(status, t('case.reveal_phone_logged'));
        } catch (e) {
          btn.disabled = false;
          fill(status, describe(e));
        }
      },
    }, t('case.reveal_phone'));
    out.push(' ', btn, ' ', status);
  }
  return out;
}

/** The street code a road chief's list is filtered by: their unit's, or the chosen one. */
function streetFor(params) {
  const unit = ctx.unitsById.get(ctx.user.unit_id);
  if (unit && unit.kind === 'street') return unit.type_key;
  return params.get('street') || '';
}

function filtersForm(view, params) {
  const cfg = VIEWS[view];
  const wanted = cfg.filters || [];
  if (!wanted.length && !cfg.street) return null;
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('filter.apply'), novalidate: true });
  form.append(h('p', { class: 'form-error', role: 'alert', hidden: true }));
  if (cfg.street) {
    const own = ctx.unitsById.get(ctx.user.unit_id);
    if (own && own.kind === 'street') {
      form.append(h('p', { class: 'field' }, h('strong', {}, `${t('view.roadchief_pick')}${colon()}`), own.name));
    } else {
      const sel = h(
        'select',
        { name: 'street' },
        h('option', { value: '' }, t('view.roadchief_all')),
        ctx.units
          .filter((u) => u.kind === 'street')
          .map((u) => h('option', { value: u.type_key, selected: params.get('street') === u.type_key }, u.name)),
      );
      form.append(fieldBox('street', 'f-street', t('view.roadchief_pick'), sel));
    }
  }
  if (wanted.includes('state')) {
    const cur = params.get('state') ?? cfg.defaultState ?? '';
    const sel = h(
      'select',
      { name: 'state' },
      h('option', { value: '' }, t('filter.any')),
      h('option', { value: 'open', selected: cur === 'open' }, t('filter.open_states')),
      ALL_STATES.map((s) => h('option', { value: s, selected: cur === s }, stateName(s))),
    );
    form.append(fieldBox('state', 'f-state', t('filter.state'), sel));
  }
  if (wanted.includes('category')) {
    const listId = 'f-category-list';
    const input = h('input', {
      type: 'text',
      name: 'category',
      list: listId,
      value: params.get('category') || '',
      placeholder: t('filter.category_ph'),
      autocomplete: 'off',
    });
    const seen = new Set();
    const dl = h(
      'datalist',
      { id: listId },
      ctx.categories
        .filter((c) => c.active && !seen.has(c.code) && seen.add(c.code))
        .map((c) => h('option', { value: c.code }, `${lang() === 'en' ? c.name_en : c.name_zh} · ${lang() === 'en' ? c.major_name_en : c.major_name_zh}`)),
    );
    const box = fieldBox('category', 'f-category', t('filter.category'), input);
    box.append(dl);
    form.append(box);
  }
  if (wanted.includes('source')) {
    const cur = params.get('source') || '';
    const sel = h(
      'select',
      { name: 'source' },
      h('option', { value: '' }, t('filter.any')),
      SOURCES.map((s) => h('option', { value: s, selected: cur === s }, t(`source.${s}`))),
    );
    form.append(fieldBox('source', 'f-source', t('filter.source'), sel));
  }
  form.append(
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary' }, t('filter.apply')),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () => {
            location.hash = `#/${view}`;
          },
        },
        t('filter.reset'),
      ),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const el of form.elements) {
      if (!el.name) continue;
      const v = el.name === 'category' ? el.value.trim().split(/\s/)[0] : el.value;
      // An empty state is a choice ("any"), unlike the view's default.
      if (v || (el.name === 'state' && cfg.defaultState)) q.set(el.name, v);
    }
    location.hash = `#/${view}${q.toString() ? `?${q}` : ''}`;
  });
  return form;
}

function fieldBox(name, id, label, control) {
  control.id = id;
  return h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label),
    control,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true, 'aria-live': 'polite' }),
  );
}

async function renderList(view, params) {
  const cfg = VIEWS[view];
  const root = $('view');
  const heading = h('h2', { tabindex: '-1', id: 'view-heading' }, t(`view.${view}`));
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', 'data-testid': 'status' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'cases', 'data-testid': 'cases' },
    h('caption', { class: 'visually-hidden' }, t(`view.${view}`)),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['list.number', 'list.state', 'list.category', 'list.place', 'list.unit', 'list.deadline', 'list.created'].map((k) =>
          h('th', { scope: 'col' }, t(k)),
        ),
        cfg.rowActions ? h('th', { scope: 'col' }, t('list.actions')) : null,
      ),
    ),
    tbody,
  );
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('list.more'));
  const count = h('span', { class: 'muted' });
  const mapEl = h('div', { class: 'map', 'aria-label': t('list.map') });
  const filters = filtersForm(view, params);
  const chartBox = cfg.chart
    ? h(
        'section',
        { class: 'card-box', 'aria-labelledby': 'chart-heading' },
        h('h3', { id: 'chart-heading' }, t('view.chart'), ' ', h('span', { class: 'muted', id: 'chart-note' })),
        h('div', { class: 'chart', id: 'chart', role: 'img', 'aria-label': t('view.chart_label') }),
      )
    : null;
  fill(
    root,
    h(
      'section',
      { class: 'card-box', 'aria-labelledby': 'view-heading' },
      heading,
      h('p', { class: 'intro' }, t(`view.${view}_intro`)),
      filters,
      status,
    ),
    chartBox,
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'card-box', 'aria-labelledby': 'view-heading' },
        h('div', { class: 'table-wrap' }, table),
        h('div', { class: 'more' }, more, count),
      ),
      h('section', { class: 'card-box', 'aria-label': t('list.map') }, h('h3', {}, t('list.map')), mapEl),
    ),
  );
  heading.focus({ preventScroll: true });
  const map = createMap(mapEl, { label: t('list.map') });
  const items = [];
  const query = listQuery(view, params);

  const load = async (cursor) => {
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    more.disabled = true;
    try {
      const page = await api(`/api/v1/cases?${q}`);
      items.push(...page.items);
      for (const c of page.items) renderRow(tbody, c, cfg, { reload });
      if (!items.length) tbody.append(h('tr', {}, h('td', { colspan: cfg.rowActions ? 8 : 7, class: 'empty' }, t('list.empty'))));
      more.hidden = !page.next_cursor;
      more.onclick = () => load(page.next_cursor);
      count.textContent = t('list.count', { n: items.length });
      map.setCases(items.map(markerFor), { fit: items.length > 0 });
    } catch (err) {
      if (filters && err instanceof ApiError && err.field) showError(filters, err);
      else status.textContent = describe(err);
      status.classList.add('form-error');
    } finally {
      more.disabled = false;
    }
  };
  const reload = async (message) => {
    items.length = 0;
    tbody.replaceChildren();
    status.classList.remove('form-error');
    status.textContent = message || '';
    await load(null);
  };
  await load(null);
  if (cfg.chart) renderChart();
}

function markerFor(c) {
  return {
    lat: c.lat,
    lon: c.lon,
    colour: c.light ? LIGHT_COLOURS[c.light] : '#5a6470',
    title: `${c.number} · ${categoryName(c.category)} · ${stateName(c.state)}`,
    onClick: () => {
      location.hash = `#/case/${c.id}`;
    },
  };
}

function renderRow(tbody, c, cfg, { reload }) {
  const tr = h(
    'tr',
    { class: c.light ? `light-${c.light}` : '', 'data-number': c.number, 'data-state': c.state },
    h('td', { class: 'num', 'data-label': t('list.number') }, h('a', { href: `#/case/${c.id}` }, c.number)),
    h('td', { 'data-label': t('list.state') }, stateBadge(c.state)),
    h('td', { 'data-label': t('list.category') }, categoryName(c.category)),
    h('td', { 'data-label': t('list.place') }, place(c)),
    h(
      'td',
      { 'data-label': t('list.unit') },
      c.unit ? c.unit.name : c.suggested_unit ? `${c.suggested_unit.name} ${t('act.suggested')}` : '—',
    ),
    h(
      'td',
      { class: 'time', 'data-label': t('list.deadline') },
      h('span', {}, c.deadline ? [timeEl(c.deadline), lightEl(c.light)] : lightEl(null)),
    ),
    h('td', { class: 'time', 'data-label': t('list.created') }, timeEl(c.created_at)),
  );
  tbody.append(tr);
  if (!cfg.rowActions) return;
  const cell = h('div', { class: 'row-actions' });
  tr.append(h('td', { 'data-label': t('list.actions') }, cell));
  const actions = (ROW_ACTIONS[c.state] || []).filter(([, roles]) => roles.includes(ctx.user.role)).map(([a]) => a);
  let formRow = null;
  const open = (action) => {
    formRow?.remove();
    const form = actionForm(action, c, {
      onDone: (updated) =>
        reload(t('act.done', { action: actionName(action), number: updated.number })).then(() =>
          announce(t('act.done', { action: actionName(action), number: updated.number })),
        ),
      onCancel: () => {
        formRow?.remove();
        formRow = null;
      },
    });
    formRow = h('tr', { class: 'inline-form' }, h('td', { colspan: 8 }, form));
    tr.after(formRow);
    form.querySelector('input, select, textarea, button')?.focus();
  };
  for (const a of actions) {
    cell.append(
      h(
        'button',
        { type: 'button', class: `${DANGEROUS.has(a) ? 'danger' : 'primary'} small`, dataset: { action: a }, onclick: () => open(a) },
        actionName(a),
      ),
    );
  }
}

// ---- the overdue chart --------------------------------------------------------------------

const CHART_PAGES = 5;

async function renderChart() {
  const el = $('chart');
  if (!el || typeof echarts === 'undefined') return;
  const counts = Object.fromEntries(OPEN_STATES.map((s) => [s, { green: 0, yellow: 0, red: 0, none: 0 }]));
  let cursor = null;
  let pages = 0;
  let capped = false;
  try {
    do {
      const q = new URLSearchParams({ state: OPEN_STATES.join(','), limit: '200' });
      if (cursor) q.set('cursor', cursor);
      const page = await api(`/api/v1/cases?${q}`);
      for (const c of page.items) counts[c.state][c.light || 'none'] += 1;
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor && pages < CHART_PAGES);
    capped = Boolean(cursor);
  } catch (err) {
    el.textContent = describe(err);
    return;
  }
  if (!$('chart')) return;
  $('chart-note').textContent = capped ? t('view.chart_capped', { n: CHART_PAGES * 200 }) : '';
  const states = OPEN_STATES;
  const series = ['green', 'yellow', 'red'].map((light) => ({
    name: t(`light.${light}`),
    type: 'bar',
    stack: 'all',
    itemStyle: { color: { green: '#2e8b47', yellow: '#e0a100', red: '#c0262d' }[light] },
    emphasis: { focus: 'series' },
    data: states.map((s) => counts[s][light] + (light === 'green' ? counts[s].none : 0)),
  }));
  const summary = states
    .map((s) => {
      const total = counts[s].green + counts[s].yellow + counts[s].red + counts[s].none;
      return lang() === 'en'
        ? `${stateName(s)} ${total} (${t('light.red')} ${counts[s].red})`
        : `${stateName(s)} ${total}（${t('light.red')} ${counts[s].red}）`;
    })
    .join(lang() === 'en' ? '; ' : '；');
  el.setAttribute('aria-label', `${t('view.chart_label')}${colon()}${summary}`);
  ctx.chart = echarts.init(el, null, { renderer: 'svg' });
  ctx.chart.setOption({
    animation: false,
    aria: { enabled: true },
    textStyle: { fontFamily: getComputedStyle(document.documentElement).fontFamily },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 36, bottom: 60 },
    xAxis: {
      type: 'category',
      data: states.map(stateName),
      axisLabel: { interval: 0, rotate: lang() === 'en' ? 30 : 0, color: '#1b1f24' },
    },
    yAxis: { type: 'value', minInterval: 1, axisLabel: { color: '#1b1f24' } },
    series,
  });
}

window.addEventListener('resize', () => ctx.chart?.resize());

// ---- action forms ----------------------------------------------------------------------------

let formSeq = 0;

/**
 * The form of one action on case `c`: the fields the action requires (and an optional
 * note), a confirm and a cancel button. Posts with the case's version; every failure is
 * shown next to the field the server names.
 */
function actionForm(action, c, { onDone, onCancel }) {
  const n = ++formSeq;
  const id = (f) => `act-${n}-${f}`;
  const needs = ACTION_FIELDS[action] || [];
  const form = h('form', { class: 'action-form', novalidate: true, dataset: { action } });
  form.append(h('h4', {}, `${actionName(action)} · ${c.number}`));
  form.append(h('p', { class: 'form-error', role: 'alert', hidden: true }));

  if (needs.includes('unit_id')) {
    const suggested = c.suggested_unit?.id || c.unit?.id;
    const opt = (u) =>
      h('option', { value: u.id, selected: u.id === suggested }, `${u.name}${u.id === suggested ? ` ${t('act.suggested')}` : ''}`);
    const sel = h(
      'select',
      { name: 'unit_id' },
      h('option', { value: '' }, t('act.unit_pick')),
      ['department', 'street'].map((kind) =>
        h('optgroup', { label: t(`unitkind.${kind}`) }, ctx.units.filter((u) => u.kind === kind && u.active !== false).map(opt)),
      ),
    );
    form.append(fieldBox('unit_id', id('unit'), t('act.unit'), sel));
  }
  if (needs.includes('extension')) {
    const amount = h('input', { type: 'number', name: 'extension_amount', min: '1', step: '1', inputmode: 'numeric', value: '1', id: id('ext-amount'), 'aria-label': `${t('act.extension')} · ${t('act.extension_amount')}` });
    const unit = h(
      'select',
      { name: 'extension_unit', id: id('ext-unit'), 'aria-label': `${t('act.extension')} · ${t('act.extension_unit')}` },
      ['工作日', '工作时', '自然日', '小时'].map((u) => h('option', { value: u }, t(`ext.${u}`))),
    );
    form.append(
      h(
        'fieldset',
        { class: 'field', dataset: { field: 'extension' } },
        h('legend', {}, t('act.extension')),
        h('div', { class: 'ext-row' }, amount, unit),
        h('p', { class: 'field-error', id: `${id('ext-amount')}-error`, hidden: true, 'aria-live': 'polite' }),
      ),
    );
  }
  if (needs.includes('reason')) {
    form.append(fieldBox('reason', id('reason'), t('act.reason'), h('textarea', { name: 'reason', rows: 2, maxlength: 500 })));
  }
  if (action === 'void') {
    form.append(
      fieldBox(
        'public_reason',
        id('public-reason'),
        t('act.public_reason'),
        h('select', { name: 'public_reason' }, PUBLIC_REASONS.map((r) => h('option', { value: r }, t(`preason.${r}`)))),
      ),
    );
  }
  form.append(
    fieldBox(
      'note',
      id('note'),
      needs.includes('note') ? t('act.note_required') : t('act.note'),
      h('textarea', { name: 'note', rows: 2, maxlength: 2000 }),
    ),
  );
  const reply = fieldBox(
    'public_reply',
    id('public-reply'),
    t('act.public_reply'),
    h('textarea', { name: 'public_reply', rows: 2, maxlength: 500, 'aria-describedby': id('public-reply-hint') }),
  );
  reply.insertBefore(h('p', { class: 'hint', id: id('public-reply-hint') }, t('act.public_reply_hint')), reply.lastChild);
  form.append(reply);
  // Photos: required for report-back (after photos), optional with any other action.
  const photos = photoPicker({
    id: id('att'),
    field: 'attachments',
    label: needs.includes('attachments') ? t('act.photos_required') : t('act.photos'),
    hint: t('act.photos_hint'),
  });
  form.append(photos);
  const submit = h(
    'button',
    { type: 'submit', class: DANGEROUS.has(action) ? 'danger' : 'primary', dataset: { confirm: action } },
    t('act.confirm_button', { action: actionName(action) }),
  );
  form.append(
    h(
      'div',
      { class: 'row' },
      submit,
      h('button', { type: 'button', class: 'secondary', onclick: () => onCancel && onCancel() }, t('act.cancel')),
    ),
  );
  clearOnInput(form);
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel && onCancel();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const body = { action, version: c.version };
    const val = (name) => form.elements[name]?.value?.trim() || '';
    if (val('note')) body.note = val('note');
    if (needs.includes('reason') && val('reason')) body.reason = val('reason');
    if (val('public_reply')) body.public_reply = val('public_reply');
    if (action === 'void' && val('public_reason')) body.public_reason = val('public_reason');
    if (needs.includes('unit_id') && val('unit_id')) body.unit_id = val('unit_id');
    if (needs.includes('extension') && val('extension_amount')) body.extension = `${val('extension_amount')}${val('extension_unit')}`;
    submit.disabled = true;
    try {
      const files = photos.files();
      if (files.length) {
        body.attachments = [];
        for (const f of files) body.attachments.push((await uploadPhoto(f)).id);
      }
      const updated = await api(`/api/v1/cases/${encodeURIComponent(c.id)}/actions`, { method: 'POST', body });
      await onDone(updated);
    } catch (err) {
      showError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---- the case page ---------------------------------------------------------------------------

async function renderCase(id, { message } = {}) {
  const root = $('view');
  let c;
  try {
    c = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
  } catch (err) {
    fill(root, h('section', { class: 'card-box' }, h('p', { class: 'form-error', role: 'alert' }, describe(err)), backLink()));
    return;
  }
  const heading = h('h2', { tabindex: '-1', id: 'case-heading' }, t('case.heading', { number: c.number }));
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', 'data-testid': 'status' }, message || '');
  const formBox = h('div', { id: 'action-form-box' });
  const buttons = h(
    'div',
    { class: 'actions-bar', 'data-testid': 'actions' },
    (c.allowed_actions || []).map((a) =>
      h(
        'button',
        {
          type: 'button',
          class: DANGEROUS.has(a) ? 'danger' : 'primary',
          dataset: { action: a },
          'aria-expanded': 'false',
          'aria-controls': 'action-form-box',
          onclick: (e) => openAction(a, e.currentTarget),
        },
        actionName(a),
      ),
    ),
  );
  const openAction = (a, button) => {
    for (const b of buttons.querySelectorAll('button')) b.setAttribute('aria-expanded', String(b === button));
    const form = actionForm(a, c, {
      onDone: async (updated) => {
        const msg = t('act.done', { action: actionName(a), number: updated.number });
        await renderCase(updated.id, { message: msg });
        announce(msg);
      },
      onCancel: () => {
        fill(formBox);
        button.setAttribute('aria-expanded', 'false');
        button.focus();
      },
    });
    fill(formBox, form);
    form.querySelector('input, select, textarea')?.focus();
  };

  const r = c.routing || {};
  const kv = (k, v) => (v === null || v === undefined || v === '' ? null : [h('dt', {}, t(k)), h('dd', {}, v)]);
  const details = h(
    'dl',
    { class: 'kv' },
    kv('case.category', categoryName(c.category)),
    kv('case.source', t(`source.${c.source}`)),
    kv('case.priority', t(`priority.${c.priority}`)),
    kv('case.unit', c.unit?.name),
    kv('case.suggested_unit', !c.unit && c.suggested_unit ? c.suggested_unit.name : null),
    kv('case.stage', c.stage ? t(`stage.${c.stage}`) : null),
    kv(
      'case.deadline',
      c.deadline
        ? [
            timeEl(c.deadline),
            ' ',
            lightEl(c.light),
            c.deadline_weekends_only ? h('span', { class: 'warning weekends-only', dataset: { testid: 'deadline-weekends-only' } }, t('case.deadline_weekends_only')) : null,
          ]
        : null,
    ),
    kv('case.created', timeEl(c.created_at)),
    kv('case.updated', timeEl(c.updated_at)),
    kv('case.closed_at', c.closed_at ? timeEl(c.closed_at) : null),
    kv('case.address', c.address),
    kv('case.reporter', reporterView(c)),
    kv(
      'case.media',
      c.media?.length
        ? photoStrip(c.photos, { showGps: true }) || c.media.map((m) => [safeLink(m), h('br')])
        : null,
    ),
  );
  const placeList = h(
    'dl',
    { class: 'kv' },
    r.outside_district ? kv('case.place', t('case.outside')) : null,
    kv('case.street', r.street_name ? `${r.street_name} ${r.schematic ? t('case.schematic') : ''}` : null),
    kv('case.community', r.community_code),
    kv('case.grid', r.grid_code),
    kv('case.road', r.road_name ? `${r.road_name}（${r.segment_id}${r.segment_distance_m != null ? `, ${r.segment_distance_m} m` : ''}）` : null),
    kv('case.coords', `${c.lat.toFixed(6)}, ${c.lon.toFixed(6)} (WGS84)`),
  );
  const notes = [
    c.pending_extension ? t('case.pending_extension', { x: c.pending_extension }) : null,
    c.void_reason ? t('case.void_reason', { x: c.void_reason }) : null,
    c.public_reason ? t('case.public_reason', { x: t(`preason.${c.public_reason}`) }) : null,
    t('case.counts', { r: c.return_count, w: c.rework_count, e: c.extension_count }),
  ].filter(Boolean);

  const mapEl = h('div', { class: 'map map-small', 'aria-label': t('case.place') });
  fill(
    root,
    h(
      'section',
      { class: 'card-box', 'aria-labelledby': 'case-heading' },
      backLink(),
      h(
        'div',
        { class: 'case-head' },
        heading,
        stateBadge(c.state),
        c.light ? lightEl(c.light) : null,
        h('span', { class: 'muted' }, t('case.version', { v: c.version })),
        h('button', { type: 'button', class: 'secondary small', onclick: () => renderCase(c.id) }, t('case.reload')),
      ),
      status,
      h('p', { class: 'description', 'data-testid': 'description' }, c.description),
      notes.map((x) => h('p', { class: 'muted' }, x)),
    ),
    h(
      'div',
      { class: 'case-grid' },
      h(
        'div',
        {},
        h(
          'section',
          { class: 'card-box', 'aria-labelledby': 'actions-heading' },
          h('h3', { id: 'actions-heading' }, t('case.actions')),
          c.allowed_actions?.length ? buttons : h('p', { class: 'muted', 'data-testid': 'no-actions' }, t('case.no_actions')),
          formBox,
        ),
        h('section', { class: 'card-box', 'aria-labelledby': 'details-heading' }, h('h3', { id: 'details-heading' }, t('case.details')), details),
        beforeAfter(c.events)
          ? h('section', { class: 'card-box', 'aria-labelledby': 'photos-heading' }, h('h3', { id: 'photos-heading' }, t('photo.heading')), beforeAfter(c.events))
          : null,
        h(
          'section',
          { class: 'card-box', 'aria-labelledby': 'timeline-heading' },
          h('h3', { id: 'timeline-heading' }, t('case.timeline')),
          timeline(c.events || []),
        ),
      ),
      h('section', { class: 'card-box', 'aria-label': t('case.place') }, h('h3', {}, t('case.place')), mapEl, placeList),
    ),
  );
  heading.focus({ preventScroll: false });
  const map = createMap(mapEl, { center: [c.lat, c.lon], zoom: 14, label: t('case.place') });
  map.setCases([{ lat: c.lat, lon: c.lon, radius: 9, colour: c.light ? LIGHT_COLOURS[c.light] : '#5a6470', title: c.number }]);
}

function backLink() {
  return h('p', {}, h('a', { href: ctx.lastList || `#/${HOME[ctx.user.role] || 'all'}` }, `← ${t('case.back')}`));
}

function timeline(events) {
  return h(
    'ol',
    { class: 'timeline', 'data-testid': 'timeline' },
    events.map((e) => {
      const lines = [
        e.note ? [t('ev.note'), e.note] : null,
        e.reason ? [t('ev.reason'), e.reason] : null,
        e.unit_id ? [t('ev.unit'), unitName(e.unit_id)] : null,
        e.extension ? [t('ev.extension'), e.extension] : null,
        e.attachments?.length && !e.photos?.length ? [t('ev.attachments'), e.attachments.join('、')] : null,
        e.public_reason ? [t('ev.public_reason'), t(`preason.${e.public_reason}`)] : null,
        e.public_reply ? [t('ev.public_reply'), e.public_reply] : null,
      ].filter(Boolean);
      return h(
        'li',
        { dataset: { kind: e.kind } },
        h('p', { class: 'ev-head' }, timeEl(e.at), ' · ', actionName(e.kind)),
        h(
          'p',
          { class: 'ev-meta' },
          roleName(e.actor_role),
          ' · ',
          e.from_state ? `${stateName(e.from_state)} → ` : '',
          stateName(e.to_state),
        ),
        lines.map(([k, v]) => h('p', { class: 'ev-body' }, h('strong', {}, `${k}${colon()}`), v)),
        photoStrip(e.photos, { showGps: true }),
      );
    }),
  );
}

// ---- start ---------------------------------------------------------------------------------

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
  document.addEventListener('langchange', () => {
    document.title = `${t('app.district')} · ${t('app.staff_title')}`;
    if (!ctx.user) return;
    renderWho();
    renderNav();
    ctx.render && ctx.render();
  });
  document.title = `${t('app.district')} · ${t('app.staff_title')}`;
  if (!session.token) {
    showLogin();
    return;
  }
  try {
    const me = await api('/api/v1/me');
    session.set(session.token, me);
    await enter(me);
  } catch (err) {
    session.clear();
    showLogin(err instanceof ApiError && err.status === 401 ? t('login.expired') : describe(err));
  }
}

start();
