// The work lists (queues): intake, verification, dispatch, approvals, my unit, the
// overdue board, the road chief's street, to close, all cases. Filtered and paged on
// the server (`state`, `category`, `source`, `street`, `overdue`, `cursor`), each row with
// what a decision needs (`context=true`: description, photo, street and road, road chief,
// suggested unit, remaining working time in words, possible duplicates). Selecting a row
// opens the case beside the list; j/k or the arrow keys move, Enter goes into the case.

/* global echarts */

import { t, lang } from '../i18n.js';
import { h, fill, timeEl, api, showError, clearErrors, describe, announce, ApiError } from '../common.js';
import { createMap, LIGHT_COLOURS } from '../map.js';
import {
  ctx,
  $,
  OPEN_STATES,
  ALL_STATES,
  SOURCES,
  stateName,
  colon,
  actionName,
  categoryName,
  stateBadge,
  lightEl,
  place,
  fieldBox,
  timeLeftEl,
  thumbUrl,
} from './ctx.js';
import { actionForm, ROW_ACTIONS, DANGEROUS } from './actions.js';
import { renderCase } from './case.js';
import { setScreenKeys } from './keys.js';
import { exportButtons } from './export.js';

/** The work lists. `states`: fixed server filter; `filters`: which filter controls show. */
export const VIEWS = {
  intake: {
    roles: ['operator', 'supervisor'],
    states: ['received', 'to_verify', 'to_register'],
    rowActions: true,
  },
  verify: { roles: ['inspector'], states: ['to_verify', 'to_check'], rowActions: true },
  dispatch: { roles: ['dispatcher', 'supervisor'], states: ['to_dispatch'], rowActions: true, bulk: 'dispatch' },
  approvals: { roles: ['dispatcher', 'supervisor'], states: ['extension_pending', 'suspended'] },
  mine: { roles: ['handler', 'enforcer'], filters: ['state', 'category', 'source'], defaultState: 'open' },
  overdue: { roles: ['supervisor', 'dispatcher', 'admin'], overdue: true, chart: true, filters: ['category', 'source'], bulk: 'supervise' },
  roadchief: { roles: ['road_chief'], street: true, filters: ['state', 'category', 'source'], defaultState: 'open', bulk: 'supervise' },
  to_close: { roles: ['supervisor', 'operator'], states: ['to_callback', 'to_close'] },
  all: {
    roles: ['admin', 'operator', 'dispatcher', 'inspector', 'supervisor', 'handler', 'road_chief', 'enforcer'],
    filters: ['state', 'category', 'source'],
  },
};

/** Who may run each bulk action (the rule table's roles; the server checks every case). */
const BULK_ROLES = { dispatch: ['dispatcher', 'supervisor'], supervise: ['supervisor', 'road_chief'] };
/** The server takes at most this many cases in one bulk call. */
const BULK_MAX = 100;

/**
 * The bulk bar of a work list: how many rows are selected, the one field the action
 * needs (the unit of a dispatch, the note of a 督办) and the button; after a run, one
 * line per case that was not done, with the server's reason.
 * @param {'dispatch' | 'supervise'} action
 * @param {Set<string>} selected
 * @param {() => any[]} items
 * @param {(message: string) => Promise<void>} reload
 */
function bulkBar(action, selected, items, reload) {
  const count = h('strong', { 'aria-live': 'polite', 'data-testid': 'bulk-count' });
  const results = h('ul', { class: 'bulk-results', 'data-testid': 'bulk-results' });
  const form = h('form', { class: 'bulk-bar', novalidate: true, 'aria-label': t('bulk.bar'), 'data-testid': 'bulk-bar' });
  form.append(h('p', { class: 'form-error', role: 'alert', hidden: true }));
  let control;
  if (action === 'dispatch') {
    control = h(
      'select',
      { name: 'unit_id' },
      h('option', { value: '' }, t('bulk.unit_pick')),
      ['department', 'street'].map((kind) =>
        h('optgroup', { label: t(`unitkind.${kind}`) }, ctx.units.filter((u) => u.kind === kind && u.active !== false).map((u) => h('option', { value: u.id }, u.name))),
      ),
    );
    form.append(fieldBox('unit_id', 'bulk-unit', t('bulk.unit'), control));
  } else {
    control = h('input', { type: 'text', name: 'reason', maxlength: 500, autocomplete: 'off' });
    form.append(fieldBox('reason', 'bulk-reason', t('bulk.reason'), control));
  }
  const run = h('button', { type: 'submit', class: 'primary', disabled: true, 'data-testid': 'bulk-run' });
  const clear = h('button', { type: 'button', class: 'secondary', disabled: true }, t('bulk.clear'));
  form.append(h('div', { class: 'row' }, count, run, clear), results);
  const update = () => {
    const n = selected.size;
    count.textContent = t('bulk.selected', { n });
    run.textContent = t(action === 'dispatch' ? 'bulk.run_dispatch' : 'bulk.run_supervise', { n });
    run.disabled = n === 0 || n > BULK_MAX;
    clear.disabled = n === 0;
    if (n > BULK_MAX) count.textContent += `（${t('bulk.limit')}）`;
  };
  clear.addEventListener('click', () => {
    selected.clear();
    for (const box of document.querySelectorAll('input.row-pick, input.pick-all')) /** @type {HTMLInputElement} */ (box).checked = false;
    update();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    results.replaceChildren();
    const ids = items().map((c) => c.id).filter((id) => selected.has(id));
    /** @type {Record<string, any>} */
    const body = { action, case_ids: ids };
    const v = /** @type {HTMLInputElement} */ (control).value.trim();
    if (v) body[action === 'dispatch' ? 'unit_id' : 'reason'] = v;
    run.disabled = true;
    try {
      const r = await api('/api/v1/cases/bulk-actions', { method: 'POST', body });
      const numbers = new Map(items().map((c) => [c.id, c.number]));
      // A field the whole call lacks (the unit, the note) is shown next to it.
      const first = r.results.find((/** @type {any} */ x) => !x.ok);
      if (first && r.succeeded === 0 && first.error?.field && first.error.field !== 'case_ids') {
        showError(form, new ApiError({ status: first.status, ...first.error }));
        return;
      }
      selected.clear();
      const msg = t('bulk.done', { ok: r.succeeded, fail: r.failed });
      await reload(msg);
      announce(msg);
      for (const x of r.results.filter((/** @type {any} */ x) => !x.ok)) {
        results.append(h('li', { class: 'form-error' }, `${numbers.get(x.case_id) || x.case_id}${colon()}${describe(new ApiError({ status: x.status, ...x.error }))}`));
      }
    } catch (err) {
      showError(form, err);
    } finally {
      update();
    }
  });
  update();
  return Object.assign(form, { update });
}

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
  q.set('context', 'true');
  return q;
}

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


/**
 * Draws work list `view` into `root`, with the case panel beside it.
 * @param {HTMLElement} root
 * @param {string} view
 * @param {URLSearchParams} params
 */
export async function renderList(root, view, params) {
  const cfg = VIEWS[view];
  const heading = h('h2', { tabindex: '-1', id: 'view-heading' }, t(`view.${view}`));
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', 'data-testid': 'status' });
  const tbody = h('tbody');
  const cols = ['list.case', 'list.problem', 'list.place_unit', 'list.deadline'];
  const bulk = cfg.bulk && BULK_ROLES[cfg.bulk].includes(ctx.user?.role || '') ? cfg.bulk : null;
  /** The ids of the rows ticked for a bulk action. @type {Set<string>} */
  const picked = new Set();
  const ncols = cols.length + (cfg.rowActions ? 1 : 0) + (bulk ? 1 : 0);
  const pickAll = bulk
    ? /** @type {HTMLInputElement} */ (
        h('input', {
          type: 'checkbox',
          class: 'pick-all',
          'aria-label': t('bulk.select_all'),
          onchange: () => {
            for (const box of /** @type {NodeListOf<HTMLInputElement>} */ (tbody.querySelectorAll('input.row-pick'))) {
              box.checked = pickAll.checked;
              if (box.checked) picked.add(box.value);
              else picked.delete(box.value);
            }
            bar?.update();
          },
        })
      )
    : null;
  const table = h(
    'table',
    { class: 'cases queue', 'data-testid': 'cases' },
    h('caption', { class: 'visually-hidden' }, `${t(`view.${view}`)}${colon()}${t('list.keys_hint')}`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        pickAll ? h('th', { scope: 'col', class: 'pick' }, pickAll) : null,
        cols.map((k) => h('th', { scope: 'col' }, t(k))),
        cfg.rowActions ? h('th', { scope: 'col' }, t('list.actions')) : null,
      ),
    ),
    tbody,
  );
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('list.more'));
  const count = h('span', { class: 'muted' });
  const mapEl = h('div', { class: 'map', 'aria-label': t('list.map') });
  const panel = h('div', { class: 'case-panel', id: 'case-panel', 'data-testid': 'case-panel', 'aria-live': 'off' });
  const mapBox = h('section', { class: 'card-box', 'aria-label': t('list.map') }, h('h3', {}, t('list.map')), mapEl);
  const side = h('div', { class: 'queue-side' }, h('p', { class: 'muted panel-hint' }, t('list.panel_hint')), panel, mapBox);
  const filters = filtersForm(view, params);
  /** @type {any} */
  let bar = null;
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
      h('div', { class: 'view-head' }, heading, h('p', { class: 'intro' }, t(`view.${view}_intro`)), exportButtons(() => listQuery(view, params))),
      filters,
      status,
    ),
    chartBox,
    h(
      'div',
      { class: 'queue-split' },
      h(
        'section',
        { class: 'card-box queue-list', 'aria-labelledby': 'view-heading' },
        (bar = bulk ? bulkBar(bulk, picked, () => items, (m) => reload(m)) : null),
        h('div', { class: 'table-wrap' }, table),
        h('div', { class: 'more' }, more, count),
      ),
      side,
    ),
  );
  heading.focus({ preventScroll: true });
  const map = createMap(mapEl, { label: t('list.map') });
  /** @type {any[]} */
  const items = [];
  const query = listQuery(view, params);
  /** The selected case's id (kept across reloads when it is still listed). */
  let selected = null;
  let openSeq = 0;

  const rows = () => /** @type {HTMLTableRowElement[]} */ ([...tbody.querySelectorAll('tr[data-id]')]);
  /**
   * Selects row `tr`: marks it, makes it the one Tab stop of the list and shows its case.
   * @param {HTMLTableRowElement} tr
   * @param {{ focus?: boolean, into?: boolean }} [opts]
   */
  const select = async (tr, { focus = true, into = false } = {}) => {
    for (const r of rows()) {
      r.setAttribute('aria-selected', String(r === tr));
      r.tabIndex = r === tr ? 0 : -1;
    }
    if (focus) tr.focus();
    selected = tr.dataset.id || null;
    side.classList.add('has-case');
    const seq = ++openSeq;
    // Moving quickly through the list does not fetch every case passed over.
    await new Promise((r) => setTimeout(r, into ? 0 : 120));
    if (seq !== openSeq || !selected) return;
    const narrow = !window.matchMedia('(min-width: 1100px)').matches;
    await renderCase(panel, selected, {
      embedded: true,
      focus: into,
      context: items.find((c) => c.id === selected) || null,
      onChanged: async (updated, message) => {
        const at = rows().findIndex((r) => r.dataset.id === updated.id);
        await reload(message);
        // The acted case usually leaves the queue: the next one takes its place.
        const list = rows();
        const next = list.find((r) => r.dataset.id === updated.id) || list[Math.min(Math.max(at, 0), list.length - 1)];
        if (next) await select(next);
        else {
          panel.replaceChildren();
          side.classList.remove('has-case');
          heading.focus();
        }
      },
    });
    // On a narrow screen the case is below the list: bring it into view when asked for.
    if (narrow && (into || !focus)) panel.scrollIntoView({ block: 'start' });
  };
  const move = (/** @type {number} */ delta) => {
    const list = rows();
    if (!list.length) return;
    const at = list.findIndex((r) => r.dataset.id === selected);
    const next = list[at < 0 ? 0 : Math.min(Math.max(at + delta, 0), list.length - 1)];
    select(next);
  };
  tbody.addEventListener('keydown', (e) => {
    const tr = /** @type {HTMLElement} */ (e.target).closest?.('tr[data-id]');
    if (!tr || e.target !== tr || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'ArrowDown' || e.key === 'j') {
      e.preventDefault();
      move(1);
    } else if (e.key === 'ArrowUp' || e.key === 'k') {
      e.preventDefault();
      move(-1);
    } else if (e.key === 'Enter' || e.key === 'o') {
      e.preventDefault();
      select(/** @type {HTMLTableRowElement} */ (tr), { into: true });
    } else if (e.key === 'x' && bulk) {
      // x ticks the row for the bulk action, as in a mail client.
      e.preventDefault();
      const box = /** @type {HTMLInputElement | null} */ (tr.querySelector('input.row-pick'));
      if (box) {
        box.checked = !box.checked;
        box.dispatchEvent(new Event('change'));
      }
    }
  });
  // Escape inside the case (outside a form, which cancels itself) goes back to its row.
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented || /** @type {HTMLElement} */ (e.target).closest('form')) return;
    const tr = rows().find((r) => r.dataset.id === selected);
    if (tr) {
      e.preventDefault();
      tr.focus();
    }
  });
  tbody.addEventListener('click', (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.closest('a, button, form, input, select, textarea')) return;
    const tr = target.closest('tr[data-id]');
    if (tr) select(/** @type {HTMLTableRowElement} */ (tr), { focus: false });
  });
  setScreenKeys([
    { keys: ['j', '↓'], label: t('keys.next'), run: () => move(1) },
    { keys: ['k', '↑'], label: t('keys.prev'), run: () => move(-1) },
    { keys: ['Enter'], label: t('keys.open'), run: () => rows().find((r) => r.dataset.id === selected) && select(/** @type {HTMLTableRowElement} */ (rows().find((r) => r.dataset.id === selected)), { into: true }) },
    { keys: ['r'], label: t('keys.reload'), run: () => void reload() },
    { keys: ['Esc'], label: t('keys.back_to_list'), run: () => {} },
    ...(bulk ? [{ keys: ['x'], label: t('keys.pick'), run: () => {} }] : []),
  ]);

  const load = async (/** @type {string | null} */ cursor) => {
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    more.disabled = true;
    try {
      const page = await api(`/api/v1/cases?${q}`);
      items.push(...page.items);
      const pick = bulk
        ? {
            picked,
            onToggle: () => {
              if (pickAll) pickAll.checked = items.length > 0 && items.every((c) => picked.has(c.id));
              bar?.update();
            },
          }
        : null;
      for (const c of page.items) renderRow(tbody, c, cfg, { reload, pick, ncols });
      if (!items.length) tbody.append(h('tr', {}, h('td', { colspan: ncols, class: 'empty' }, t('list.empty'))));
      more.hidden = !page.next_cursor;
      more.onclick = () => load(page.next_cursor);
      count.textContent = t('list.count', { n: items.length });
      map.setCases(items.map(markerFor), { fit: items.length > 0 });
      const list = rows();
      const current = list.find((r) => r.dataset.id === selected);
      for (const r of list) r.tabIndex = -1;
      if (current) current.tabIndex = 0;
      else if (list[0]) list[0].tabIndex = 0;
    } catch (err) {
      if (filters && err instanceof ApiError && err.field) showError(filters, err);
      else status.textContent = describe(err);
      status.classList.add('form-error');
    } finally {
      more.disabled = false;
    }
  };
  const reload = async (/** @type {string | undefined} */ message = undefined) => {
    items.length = 0;
    picked.clear();
    if (pickAll) pickAll.checked = false;
    bar?.update();
    tbody.replaceChildren();
    status.classList.remove('form-error');
    status.textContent = message || '';
    await load(null);
  };
  await load(null);
  if (cfg.chart) renderChart();
  followLive(table, query, items, async () => {
    const hadFocus = tbody.contains(document.activeElement);
    await reload();
    const tr = rows().find((r) => r.dataset.id === selected);
    if (tr) {
      for (const r of rows()) {
        r.setAttribute('aria-selected', String(r === tr));
        r.tabIndex = r === tr ? 0 : -1;
      }
      if (hadFocus) tr.focus({ preventScroll: true });
    }
  });
}

/** The live listener of the list on screen (one at a time). @type {AbortController | null} */
let liveList = null;

/**
 * Reloads the list when a case enters or leaves it (`cityloop:case` from the live
 * stream, console/inbox.js): a listed case changed, or a case now in one of the list's
 * states (or, on the overdue board, turned red). Changes close together reload once.
 * @param {HTMLElement} table @param {URLSearchParams} query @param {any[]} items
 * @param {() => Promise<void>} reload
 */
function followLive(table, query, items, reload) {
  liveList?.abort();
  liveList = new AbortController();
  const states = (query.get('state') || '').split(',').filter(Boolean);
  const overdue = query.get('overdue') === 'true';
  /** @type {number | undefined} */
  let timer;
  document.addEventListener(
    'cityloop:case',
    (e) => {
      if (!table.isConnected) {
        liveList?.abort();
        return;
      }
      const d = /** @type {CustomEvent} */ (e).detail || {};
      const listed = items.some((c) => c.id === d.id);
      const enters = overdue ? d.light === 'red' : !states.length || states.includes(d.state);
      if (!d.lagged && !listed && !enters) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void reload(), 800);
    },
    { signal: liveList.signal },
  );
}

/** @param {any} c */
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

/** The first characters of a description, on one or two lines. @param {string} text */
function excerpt(text) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  return s.length > 60 ? `${s.slice(0, 58)}…` : s;
}

/**
 * One queue row: what a decision needs at a glance.
 * @param {HTMLElement} tbody
 * @param {any} c
 * @param {any} cfg
 * @param {{ reload: (message?: string) => Promise<void>, pick: { picked: Set<string>, onToggle: () => void } | null, ncols: number }} hooks
 */
function renderRow(tbody, c, cfg, { reload, pick, ncols }) {
  const thumb = thumbUrl(c.media?.[0]);
  const dups = (c.duplicates || []).filter((/** @type {any} */ d) => d.id !== c.id);
  // The segment's own road chief (the most local level) speaks for the road; the others
  // are in the title and in the case.
  const chiefs = (c.road_chiefs || []).map((/** @type {any} */ r) => r.name);
  const chief = chiefs.length ? chiefs[chiefs.length - 1] : null;
  const unit = c.unit ? c.unit.name : c.suggested_unit ? `${c.suggested_unit.name} ${t('act.suggested')}` : '—';
  // The reader's unit assists on this case (协办): its own part, if open.
  const mine = (c.assists || []).find((/** @type {any} */ a) => a.state === 'open' && a.unit.id === ctx.user?.unit_id) || null;
  const tr = h(
    'tr',
    {
      class: c.light ? `light-${c.light}` : '',
      'data-number': c.number,
      'data-state': c.state,
      'data-id': c.id,
      tabindex: '-1',
      'aria-selected': 'false',
    },
    pick
      ? h(
          'td',
          { class: 'pick' },
          h('input', {
            type: 'checkbox',
            class: 'row-pick',
            value: c.id,
            tabindex: '-1',
            checked: pick.picked.has(c.id),
            'aria-label': t('bulk.select_row', { n: c.number }),
            'data-testid': 'row-pick',
            onchange: (/** @type {Event} */ e) => {
              if (/** @type {HTMLInputElement} */ (e.target).checked) pick.picked.add(c.id);
              else pick.picked.delete(c.id);
              pick.onToggle();
            },
          }),
        )
      : null,
    h(
      'td',
      { class: 'num', 'data-label': t('list.number') },
      h('a', { href: `#/case/${c.id}`, tabindex: '-1' }, c.number),
      h('div', { class: 'cell-sub' }, stateBadge(c.state)),
      h('div', { class: 'cell-sub muted' }, timeEl(c.created_at)),
    ),
    h(
      'td',
      { class: 'problem', 'data-label': t('list.problem') },
      thumb ? h('img', { class: 'thumb', src: thumb, alt: t('list.thumb_alt'), loading: 'lazy', width: 56, height: 42 }) : null,
      h('strong', {}, categoryName(c.category)),
      dups.length
        ? h('span', { class: 'dup-mark', 'data-testid': 'dup-mark', title: dups.map((/** @type {any} */ d) => d.number).join('、') }, t('list.dup', { n: dups.length }))
        : null,
      h('div', { class: 'excerpt' }, excerpt(c.description)),
    ),
    h(
      'td',
      { class: 'place', 'data-label': t('list.place_unit') },
      h('div', {}, place(c)),
      chief
        ? h(
            'div',
            { class: 'cell-sub muted', title: chiefs.join('、'), 'data-testid': 'road-chief' },
            `${t('list.road_chief')}${colon()}${chief}${chiefs.length > 1 ? t('list.more_chiefs', { n: chiefs.length - 1 }) : ''}`,
          )
        : null,
      h('div', { class: 'cell-sub unit', title: unit }, unit),
      mine ? h('div', { class: 'cell-sub' }, h('span', { class: 'badge assist-open', 'data-testid': 'row-assist' }, t('list.assisting'))) : null,
    ),
    // 协办: the assisting unit's row runs on its own clock, not the lead's.
    h(
      'td',
      { class: 'time', 'data-label': t('list.deadline') },
      timeLeftEl(mine || c),
      h('div', { class: 'cell-sub' }, lightEl((mine || c).light)),
    ),
  );
  tbody.append(tr);
  if (!cfg.rowActions) return;
  const cell = h('div', { class: 'row-actions' });
  tr.append(h('td', { 'data-label': t('list.actions') }, cell));
  const actions = (ROW_ACTIONS[c.state] || []).filter(([, roles]) => roles.includes(ctx.user?.role || '')).map(([a]) => a);
  // The row itself opens the case beside the list (click, Enter); its number, as a page.
  /** @type {HTMLElement | null} */
  let formRow = null;
  const openForm = (/** @type {string} */ action) => {
    formRow?.remove();
    const form = actionForm(action, c, {
      onDone: (updated) =>
        reload(t('act.done', { action: actionName(action), number: updated.number })).then(() => {
          announce(t('act.done', { action: actionName(action), number: updated.number }));
          // Focus goes to the next case of the queue (or the list's first row).
          const first = /** @type {HTMLElement | null} */ (tbody.querySelector('tr[data-id][tabindex="0"]'));
          first?.focus();
        }),
      onCancel: () => {
        formRow?.remove();
        formRow = null;
        tr.focus();
      },
    });
    formRow = h('tr', { class: 'inline-form' }, h('td', { colspan: ncols }, form));
    tr.after(formRow);
    /** @type {HTMLElement | null} */ (form.querySelector('input, select, textarea, button'))?.focus();
  };
  for (const a of actions) {
    cell.append(
      h(
        'button',
        { type: 'button', class: `${DANGEROUS.has(a) ? 'danger' : 'primary'} small`, dataset: { action: a }, onclick: () => openForm(a) },
        actionName(a),
      ),
    );
  }
}

// ---- the overdue chart --------------------------------------------------------------------

const CHART_PAGES = 5;

export async function renderChart() {
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

