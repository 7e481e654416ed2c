// Case search in the staff console (issue 15): one box for a case number (or its last
// digits), a 12345 工单号, a reporter's phone (or its last 4 digits) or words of the
// description, address, road or notes, with filters and three orders, over
// `GET /api/v1/cases/search`. Self-contained: `mountSearch(host, ctx)` adds the box and a
// result panel to `host` (the console's navigation bar); a result opens `#/case/<id>`.
// Every refusal of the server is shown next to the box in words, naming the field.

import { t, lang } from './i18n.js';
import { h, fill, timeEl, api, describe } from './common.js';
import { exportButtons } from './console/export.js';

const STATES = [
  'received', 'to_verify', 'to_register', 'to_dispatch', 'handling', 'extension_pending',
  'suspended', 'to_check', 'to_callback', 'to_close', 'closed', 'voided',
];
const OPEN = STATES.filter((s) => s !== 'closed' && s !== 'voided').join(',');
const SOURCES = [
  'inspector', 'public', 'hotline_12345', 'road_chief', 'sensor', 'video', 'leader',
  'media', 'petition', 'patrol',
];
const KINDS = ['auto', 'number', 'external_ref', 'phone', 'q'];

/** The mounted box (the page-wide shortcuts use the latest one). */
let current = null;
let listening = false;

/**
 * What a typed value most likely is, for the `auto` kind: a mobile number or a `+`
 * number is a phone; digits (with dashes) are a case number or its last digits; letters
 * followed by digits are a 工单号; anything else is text.
 * @param {string} v
 * @returns {'number'|'external_ref'|'phone'|'q'}
 */
export function guessKind(v) {
  const s = v.trim();
  if (/^\+?\d[\d\s-]*$/.test(s)) {
    const digits = s.replace(/\D/g, '');
    if (s.startsWith('+') || /^1[3-9]\d{9}$/.test(digits)) return 'phone';
    return 'number';
  }
  if (/^[A-Za-z]{1,6}[-\w]*\d[-\w]*$/.test(s)) return 'external_ref';
  return 'q';
}

function loadCss() {
  if (document.querySelector('link[data-search-css]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: '/assets/css/search.css', 'data-search-css': '' }));
}

function options(values, label, { any = true } = {}) {
  return [any ? h('option', { value: '' }, t('search.any')) : null].concat(
    values.map(([v, text]) => h('option', { value: v }, text ?? label(v))),
  );
}

function selectBox(id, labelKey, opts) {
  const select = h('select', { id, name: id.replace(/^search-/, '') }, opts);
  return [h('div', { class: 'field' }, h('label', { for: id }, t(labelKey)), select), select];
}

/**
 * Adds the search box and its result panel to `host`.
 * @param {HTMLElement} host
 * @param {{user: any, units: any[], categories: any[]}} ctx
 */
export function mountSearch(host, ctx) {
  loadCss();
  host.querySelector('.search-bar')?.remove();
  host.querySelector('.search-panel')?.remove();

  const kind = h('select', { id: 'search-kind', 'aria-label': t('search.kind_label') },
    KINDS.map((k) => h('option', { value: k }, t(`search.kind.${k}`))));
  const input = h('input', {
    type: 'search', id: 'search-input', name: 'q', autocomplete: 'off', spellcheck: 'false',
    maxlength: '50', placeholder: t('search.placeholder'), 'aria-label': t('search.label'),
    'data-testid': 'search-input',
  });
  const toggle = h('button', { type: 'button', class: 'search-toggle', 'aria-expanded': 'false', 'aria-controls': 'search-filters' }, t('search.filters'));
  const go = h('button', { type: 'submit', class: 'primary' }, t('search.submit'));
  const error = h('p', { class: 'search-error', role: 'alert', hidden: true });

  // Filters.
  const streets = ctx.units.filter((u) => u.kind === 'street');
  const majors = new Map();
  for (const c of ctx.categories) {
    const key = `${c.kind}:${c.major_code}`;
    if (!majors.has(key)) majors.set(key, `${lang() === 'en' ? c.major_name_en : c.major_name_zh}（${t(`search.cat_kind.${c.kind}`)}）`);
  }
  const [stateBox, state] = selectBox('search-state', 'search.state',
    [h('option', { value: '' }, t('search.any')), h('option', { value: OPEN }, t('search.open'))]
      .concat(STATES.map((s) => h('option', { value: s }, t(`state.${s}`)))));
  const [lightBox, light] = selectBox('search-light', 'search.light',
    options([['green'], ['yellow'], ['red']], (l) => t(`light.${l}`)));
  const [sortBox, sort] = selectBox('search-sort', 'search.sort',
    options([['reported'], ['deadline'], ['overdue']], (s) => t(`search.sort.${s}`), { any: false }));
  const [streetBox, street] = selectBox('search-street', 'search.street',
    options(streets.map((u) => [u.type_key, u.name])));
  const [unitBox, unit] = selectBox('search-unit', 'search.unit',
    options(ctx.units.filter((u) => u.kind !== 'command').map((u) => [u.id, u.name])));
  const [sourceBox, source] = selectBox('search-source', 'search.source',
    options(SOURCES.map((s) => [s]), (s) => t(`source.${s}`)));
  const [majorBox, major] = selectBox('search-major', 'search.major',
    options([...majors.entries()].sort().map(([k, v]) => [k, v])));
  const from = h('input', { type: 'date', id: 'search-from' });
  const to = h('input', { type: 'date', id: 'search-to' });
  const dates = h('div', { class: 'field' },
    h('label', { for: 'search-from' }, t('search.from')), from);
  const datesTo = h('div', { class: 'field' }, h('label', { for: 'search-to' }, t('search.to')), to);
  const reset = h('button', { type: 'button' }, t('search.reset'));
  const filters = h('div', { id: 'search-filters', class: 'search-filters', hidden: true },
    stateBox, lightBox, sortBox, streetBox, unitBox, sourceBox, majorBox, dates, datesTo,
    h('div', { class: 'buttons' }, reset));

  const form = h('form', { class: 'search-bar', role: 'search', novalidate: true },
    h('div', { class: 'search-line' }, kind, input, go, toggle), filters, error);

  // Results.
  const heading = h('h2', { id: 'search-heading', tabindex: '-1' }, t('search.results'));
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const list = h('ol', { class: 'search-results', 'aria-labelledby': 'search-heading', 'data-testid': 'search-results' });
  const more = h('button', { type: 'button', hidden: true }, t('search.more'));
  const close = h('button', { type: 'button', class: 'search-close', 'aria-label': t('search.close') }, '×');
  const panel = h('section', { class: 'search-panel', hidden: true, 'aria-labelledby': 'search-heading' },
    h('div', { class: 'search-panel-head' }, heading, exportButtons(() => query || params()), close), summary, list, more);

  host.append(form, panel);

  let next = null;
  let query = null;
  let shown = 0;

  function params() {
    const p = new URLSearchParams();
    const v = input.value.trim();
    if (v) {
      const k = kind.value === 'auto' ? guessKind(v) : kind.value;
      p.set(k, v);
    }
    for (const [el, name] of [[state, 'state'], [light, 'light'], [sort, 'sort'], [street, 'street'],
      [unit, 'unit'], [source, 'source'], [major, 'major']]) {
      if (el.value) p.set(name, el.value);
    }
    // Dates are days in the district's zone (UTC+8).
    if (from.value) p.set('created_from', `${from.value}T00:00:00+08:00`);
    if (to.value) {
      const d = new Date(`${to.value}T00:00:00+08:00`);
      d.setUTCDate(d.getUTCDate() + 1);
      p.set('created_to', d.toISOString());
    }
    return p;
  }

  function row(c) {
    const r = c.routing || {};
    const where = [r.street_name, r.road_name].filter(Boolean).join(' · ') || c.address || '';
    const cat = c.category?.name || c.category?.code || '';
    const desc = c.description.length > 60 ? `${c.description.slice(0, 60)}…` : c.description;
    const lightEl = c.light
      ? h('span', { class: `light ${c.light}`, 'data-light': c.light }, t(`light.${c.light}`))
      : null;
    return h('li', { class: `search-row${c.light ? ` light-${c.light}` : ''}` },
      h('a', { href: `#/case/${c.id}`, class: 'search-hit', onclick: () => hide() },
        h('span', { class: 'search-num' }, c.number),
        h('span', { class: `badge state-${c.state}` }, t(`state.${c.state}`)),
        lightEl,
        h('span', { class: 'search-cat' }, cat),
        h('span', { class: 'search-desc' }, desc),
        h('span', { class: 'search-meta' }, where, where ? ' · ' : '', t('search.reported'), timeEl(c.created_at),
          c.deadline ? [' · ', t('search.deadline'), timeEl(c.deadline)] : null,
          c.reporter?.phone ? [' · ', t('search.phone'), c.reporter.phone] : null)));
  }

  async function run(append) {
    error.hidden = true;
    if (!append) {
      query = params();
      next = null;
      shown = 0;
      if ([...query.keys()].length === 0) {
        error.textContent = t('search.empty_query');
        error.hidden = false;
        input.focus();
        return;
      }
    }
    const q = new URLSearchParams(query);
    if (append && next) q.set('cursor', next);
    go.disabled = true;
    try {
      const page = await api(`/api/v1/cases/search?${q}`);
      if (!append) fill(list);
      list.append(...page.items.map(row));
      shown += page.items.length;
      next = page.next_cursor || null;
      more.hidden = !next;
      summary.textContent = shown === 0 ? t('search.none') : t(next ? 'search.count_more' : 'search.count', { n: shown });
      panel.hidden = false;
      if (!append) heading.focus();
    } catch (err) {
      // The search's own refusals in the page's language; anything else as usual.
      const own = err && err.status === 422 && ['q', 'phone', 'number', 'external_ref'].includes(err.field);
      error.textContent = own ? t(`search.err.${err.field}`) : describe(err);
      error.hidden = false;
      if (!append) panel.hidden = true;
      input.focus();
    } finally {
      go.disabled = false;
    }
  }

  function hide() {
    panel.hidden = true;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run(false);
  });
  input.addEventListener('input', () => {
    error.hidden = true;
  });
  more.addEventListener('click', () => run(true));
  close.addEventListener('click', () => {
    hide();
    input.focus();
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      hide();
      input.focus();
    }
  });
  toggle.addEventListener('click', () => {
    filters.hidden = !filters.hidden;
    form.classList.toggle('open', !filters.hidden);
    toggle.setAttribute('aria-expanded', String(!filters.hidden));
  });
  reset.addEventListener('click', () => {
    for (const el of [state, light, street, unit, source, major]) el.value = '';
    sort.value = 'reported';
    from.value = '';
    to.value = '';
  });
  current = { input, hide };
  if (!listening) {
    listening = true;
    window.addEventListener('hashchange', () => current?.hide());
    // `/` focuses the box: one of the console's global shortcuts (staff.js), listed on `?`.
  }
}
