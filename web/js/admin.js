// The staff console's admin pages (admins only): units, people, road-chief assignments,
// the time-limit table, the working calendar's year notices and (from integrity.js) the
// history's verification, on the admin API (`/api/v1/admin/...`). Every error the API
// returns is shown next to the field it names (or above the form when it names none).
// staff.js routes `#/admin_units`, `#/admin_people`, `#/admin_roadchiefs`, `#/admin_limits`,
// `#/admin_calendar`, `#/admin_integrity`, `#/admin_keys` (apikeys.js) and
// `#/admin_messages` (messages.js) here.
// Every admin page opens with the calendar coverage warning while there is one.

import { t } from './i18n.js';
import { h, fill, timeEl, api, showError, clearErrors, clearOnInput, field, announce } from './common.js';
import { renderIntegrity } from './integrity.js';
import { renderApiKeys } from './apikeys.js';
import { renderMessages } from './messages.js';
import { roadChiefTools } from './roadgaps.js';

/** The admin views, in menu order. */
export const ADMIN_VIEWS = ['admin_units', 'admin_people', 'admin_roadchiefs', 'admin_limits', 'admin_calendar', 'admin_integrity', 'admin_keys', 'admin_messages'];

const UNIT_KINDS = ['department', 'street', 'command'];
const ROLES = ['admin', 'operator', 'dispatcher', 'inspector', 'supervisor', 'handler', 'road_chief'];
const LEVELS = ['district', 'first', 'second'];
const STAGES = ['accept', 'verify', 'register', 'dispatch', 'handle', 'check', 'close'];

let seq = 0;
const uid = (name) => `adm-${++seq}-${name}`;

function input(name, attrs = {}) {
  return h('input', { type: 'text', name, autocomplete: 'off', ...attrs });
}

/**
 * @param {string} name
 * @param {any[]} options
 * @param {{ blank?: string }} [opts]
 */
function select(name, options, { blank } = {}) {
  return h(
    'select',
    { name },
    blank !== undefined ? h('option', { value: '' }, blank) : null,
    options.map(([v, label]) => h('option', { value: v }, label)),
  );
}

function formOf(title, fields, submitLabel, onSubmit, testid) {
  const form = h(
    'form',
    { class: 'admin-form', novalidate: true, dataset: { testid } },
    h('h3', {}, title),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    fields,
    h('button', { type: 'submit', class: 'primary' }, submitLabel),
  );
  clearOnInput(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await onSubmit(form);
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

const val = (form, name) => form.elements[name]?.value?.trim() ?? '';

function page(root, titleKey, ...children) {
  fill(root, h('section', { class: 'panel admin', 'aria-labelledby': 'admin-heading' }, h('h2', { id: 'admin-heading', tabindex: -1 }, t(titleKey)), children));
}

function done(text) {
  announce(text);
  return h('p', { class: 'notice', role: 'status', dataset: { testid: 'admin-done' } }, text);
}

/** A small form around one row's action, so its error shows in the row. */
function rowAction(label, run) {
  const form = h('form', { class: 'row-action', novalidate: true }, h('p', { class: 'form-error', role: 'alert', hidden: true }), h('button', { type: 'submit' }, label));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await run();
    } catch (err) {
      showError(form, err);
    }
  });
  return form;
}

// ---- units -------------------------------------------------------------------------------

async function renderUnits(root, rerender, message) {
  const units = await api('/api/v1/admin/units');
  const kindOpts = UNIT_KINDS.map((k) => [k, t(`admin.kind.${k}`)]);
  const create = formOf(
    t('admin.units.new'),
    [
      field({ name: 'code', id: uid('code'), label: t('admin.f.code'), control: input('code') }),
      field({ name: 'name', id: uid('name'), label: t('admin.f.name'), control: input('name') }),
      field({ name: 'kind', id: uid('kind'), label: t('admin.f.kind'), control: select('kind', kindOpts) }),
      field({ name: 'type_key', id: uid('type_key'), label: t('admin.f.type_key'), hint: t('admin.f.type_key_hint'), control: input('type_key') }),
    ],
    t('admin.create'),
    async (form) => {
      const u = await api('/api/v1/admin/units', {
        method: 'POST',
        body: { code: val(form, 'code'), name: val(form, 'name'), kind: val(form, 'kind'), type_key: val(form, 'type_key') },
      });
      rerender(t('admin.units.created', { name: u.name }));
    },
    'unit-form',
  );
  const rows = units.map((u) =>
    h(
      'tr',
      { class: u.active ? '' : 'inactive' },
      h('td', {}, u.code),
      h('td', {}, u.name),
      h('td', {}, t(`admin.kind.${u.kind}`)),
      h('td', {}, u.type_key),
      h('td', {}, u.active ? t('admin.active') : t('admin.inactive')),
      h(
        'td',
        {},
        rowAction(u.active ? t('admin.deactivate') : t('admin.reactivate'), async () => {
          await api(`/api/v1/admin/units/${u.id}`, { method: 'PATCH', body: { active: !u.active } });
          rerender(t(u.active ? 'admin.deactivated' : 'admin.reactivated', { name: u.name }));
        }),
      ),
    ),
  );
  page(
    root,
    'nav.admin_units',
    message ? done(message) : null,
    create,
    h(
      'table',
      { class: 'cases admin-table', dataset: { testid: 'unit-table' } },
      h('thead', {}, h('tr', {}, ['admin.f.code', 'admin.f.name', 'admin.f.kind', 'admin.f.type_key', 'admin.f.status', 'admin.f.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows),
    ),
  );
}

// ---- people ------------------------------------------------------------------------------

async function renderPeople(root, rerender, message) {
  const [people, units] = await Promise.all([api('/api/v1/admin/people'), api('/api/v1/admin/units')]);
  const unitName = new Map(units.map((u) => [u.id, u.name]));
  const unitOpts = units.filter((u) => u.active).map((u) => [u.id, `${u.name}（${u.code}）`]);
  const roleOpts = ROLES.map((r) => [r, t(`role.${r}`)]);
  const create = formOf(
    t('admin.people.new'),
    [
      field({ name: 'username', id: uid('username'), label: t('field.username'), control: input('username', { autocapitalize: 'none', spellcheck: 'false' }) }),
      field({ name: 'display_name', id: uid('display_name'), label: t('admin.f.display_name'), control: input('display_name') }),
      field({ name: 'role', id: uid('role'), label: t('admin.f.role'), control: select('role', roleOpts) }),
      field({ name: 'unit_id', id: uid('unit_id'), label: t('admin.f.unit'), control: select('unit_id', unitOpts, { blank: t('admin.none') }) }),
      field({ name: 'password', id: uid('password'), label: t('admin.f.initial_password'), hint: t('admin.f.password_hint'), control: input('password', { type: 'password', autocomplete: 'new-password' }) }),
    ],
    t('admin.create'),
    async (form) => {
      const p = await api('/api/v1/admin/people', {
        method: 'POST',
        body: {
          username: val(form, 'username'),
          display_name: val(form, 'display_name'),
          role: val(form, 'role'),
          unit_id: val(form, 'unit_id') || null,
          password: form.elements.password.value,
        },
      });
      rerender(t('admin.people.created', { name: p.display_name }));
    },
    'person-form',
  );
  const reset = formOf(
    t('admin.people.reset'),
    [
      field({ name: 'person', id: uid('person'), label: t('admin.f.person'), control: select('person', people.map((p) => [p.id, `${p.display_name}（${p.username}）`])) }),
      field({ name: 'password', id: uid('newpw'), label: t('admin.f.new_password'), hint: t('admin.f.password_hint'), control: input('password', { type: 'password', autocomplete: 'new-password' }) }),
    ],
    t('admin.save'),
    async (form) => {
      await api(`/api/v1/admin/people/${val(form, 'person')}/password`, { method: 'POST', body: { password: form.elements.password.value } });
      rerender(t('admin.people.password_done'));
    },
    'password-form',
  );
  const rows = people.map((p) =>
    h(
      'tr',
      { class: p.active ? '' : 'inactive' },
      h('td', {}, p.username),
      h('td', {}, p.display_name),
      h('td', {}, t(`role.${p.role}`)),
      h('td', {}, p.unit_id ? unitName.get(p.unit_id) || p.unit_id : '—'),
      h('td', {}, p.active ? t('admin.active') : t('admin.inactive')),
      h(
        'td',
        {},
        rowAction(p.active ? t('admin.deactivate') : t('admin.reactivate'), async () => {
          await api(`/api/v1/admin/people/${p.id}`, { method: 'PATCH', body: { active: !p.active } });
          rerender(t(p.active ? 'admin.deactivated' : 'admin.reactivated', { name: p.display_name }));
        }),
      ),
    ),
  );
  page(
    root,
    'nav.admin_people',
    message ? done(message) : null,
    h('div', { class: 'admin-forms' }, create, reset),
    h(
      'table',
      { class: 'cases admin-table', dataset: { testid: 'people-table' } },
      h('thead', {}, h('tr', {}, ['field.username', 'admin.f.display_name', 'admin.f.role', 'admin.f.unit', 'admin.f.status', 'admin.f.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows),
    ),
  );
}

// ---- road chiefs -------------------------------------------------------------------------

async function renderRoadChiefs(root, rerender, message, params) {
  const segment = params.get('segment') || '';
  const [people, current] = await Promise.all([
    api('/api/v1/admin/people'),
    api(`/api/v1/admin/road-chiefs${segment ? `?segment=${encodeURIComponent(segment)}` : ''}`),
  ]);
  const chiefs = people.filter((p) => p.role === 'road_chief' && p.active);
  const listId = uid('segments');
  const segments = [...new Set(current.map((a) => a.segment_id))];
  const assign = formOf(
    t('admin.rc.assign'),
    [
      field({ name: 'segment_id', id: uid('segment_id'), label: t('admin.f.segment'), hint: t('admin.f.segment_hint'), control: input('segment_id', { list: listId, value: segment }) }),
      h('datalist', { id: listId }, segments.map((s) => h('option', { value: s }))),
      field({ name: 'level', id: uid('level'), label: t('admin.f.level'), control: select('level', LEVELS.map((l) => [l, t(`admin.level.${l}`)])) }),
      field({ name: 'person_id', id: uid('person_id'), label: t('admin.f.road_chief'), control: select('person_id', chiefs.map((p) => [p.id, `${p.display_name}（${p.username}）`])) }),
    ],
    t('admin.rc.assign_button'),
    async (form) => {
      const a = await api('/api/v1/admin/road-chiefs', {
        method: 'POST',
        body: { segment_id: val(form, 'segment_id'), level: val(form, 'level'), person_id: val(form, 'person_id') },
      });
      rerender(t('admin.rc.assigned', { name: a.person_name, segment: a.segment_id, level: t(`admin.level.${a.level}`) }), `segment=${encodeURIComponent(a.segment_id)}`);
    },
    'roadchief-form',
  );
  const filter = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e) => {
      e.preventDefault();
      const s = e.target.elements.segment.value.trim();
      location.hash = `#/admin_roadchiefs${s ? `?segment=${encodeURIComponent(s)}` : ''}`;
    } },
    field({ name: 'segment', id: uid('filter'), label: t('admin.rc.filter'), control: input('segment', { value: segment }) }),
    h('button', { type: 'submit' }, t('filter.apply')),
  );
  const table = (rows, testid) =>
    h(
      'table',
      { class: 'cases admin-table', dataset: { testid } },
      h('thead', {}, h('tr', {}, ['admin.f.segment', 'admin.f.level', 'admin.f.road_chief', 'admin.f.from', 'admin.f.to'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h(
        'tbody',
        {},
        rows.map((a) =>
          h('tr', {}, h('td', {}, a.segment_id), h('td', {}, t(`admin.level.${a.level}`)), h('td', {}, a.person_name), h('td', {}, timeEl(a.valid_from)), h('td', {}, a.valid_to ? timeEl(a.valid_to) : '—')),
        ),
      ),
    );
  let history = null;
  if (segment) {
    const rows = await api(`/api/v1/admin/road-chiefs/${encodeURIComponent(segment)}/history`);
    history = [h('h3', {}, t('admin.rc.history', { segment })), table(rows, 'roadchief-history')];
  }
  // Gaps and bulk assignment (issue 21, roadgaps.js).
  const tools = await roadChiefTools({ chiefs, rerender: (m) => rerender(m, '') });
  page(
    root,
    'nav.admin_roadchiefs',
    message ? done(message) : null,
    tools,
    assign,
    filter,
    h('h3', {}, t('admin.rc.current')),
    table(current.slice(0, 300), 'roadchief-table'),
    current.length > 300 ? h('p', { class: 'hint' }, t('admin.rc.more', { n: current.length })) : null,
    history,
  );
}

// ---- time limits -------------------------------------------------------------------------

async function renderLimits(root, rerender, message) {
  const rules = await api('/api/v1/admin/time-limits');
  const add = formOf(
    t('admin.limits.new'),
    [
      field({ name: 'category', id: uid('category'), label: t('field.category'), hint: t('admin.f.category_hint'), control: input('category') }),
      field({ name: 'grade', id: uid('grade'), label: t('admin.f.grade'), control: select('grade', ['A', 'B', 'C'].map((g) => [g, g]), { blank: t('admin.any') }) }),
      field({ name: 'priority', id: uid('priority'), label: t('admin.f.priority'), control: select('priority', ['normal', 'urgent'].map((p) => [p, t(`admin.priority.${p}`)]), { blank: t('admin.any') }) }),
      field({ name: 'stage', id: uid('stage'), label: t('admin.f.stage'), control: select('stage', STAGES.map((s) => [s, t(`stage.${s}`)])) }),
      field({ name: 'limit', id: uid('limit'), label: t('admin.f.limit'), hint: t('admin.f.limit_hint'), control: input('limit') }),
      field({ name: 'source', id: uid('source'), label: t('admin.f.source'), control: input('source') }),
    ],
    t('admin.save'),
    async (form) => {
      const r = await api('/api/v1/admin/time-limits', {
        method: 'POST',
        body: {
          category: val(form, 'category') || null,
          grade: val(form, 'grade') || null,
          priority: val(form, 'priority') || null,
          stage: val(form, 'stage'),
          limit: val(form, 'limit'),
          source: val(form, 'source') || null,
        },
      });
      rerender(t('admin.limits.saved', { key: r.key, limit: r.limit }));
    },
    'limit-form',
  );
  const any = t('admin.any');
  const rows = rules.map((r) => {
    const edit = formOf(
      '',
      [field({ name: 'limit', id: uid('rowlimit'), label: t('admin.f.limit'), control: input('limit', { value: r.limit, size: 8 }) })],
      t('admin.save'),
      async (form) => {
        const s = await api('/api/v1/admin/time-limits', {
          method: 'POST',
          body: {
            category: r.category ? { standard: r.category.standard, kind: r.category.kind, code: r.category.code } : null,
            grade: r.grade,
            priority: r.priority,
            stage: r.stage,
            limit: val(form, 'limit'),
            source: r.source,
          },
        });
        rerender(t('admin.limits.saved', { key: s.key, limit: s.limit }));
      },
      'limit-row-form',
    );
    edit.querySelector('h3').remove();
    edit.classList.add('inline');
    return h(
      'tr',
      { dataset: { key: r.key } },
      h('td', {}, r.category ? `${r.category.code} ${r.category.name || ''}` : any),
      h('td', {}, r.grade || any),
      h('td', {}, r.priority ? t(`admin.priority.${r.priority}`) : any),
      h('td', {}, t(`stage.${r.stage}`)),
      h('td', {}, edit),
      h('td', { class: 'source' }, r.source),
    );
  });
  page(
    root,
    'nav.admin_limits',
    message ? done(message) : null,
    h('p', { class: 'hint' }, t('admin.limits.intro')),
    add,
    h(
      'table',
      { class: 'cases admin-table', dataset: { testid: 'limit-table' } },
      h('thead', {}, h('tr', {}, ['field.category', 'admin.f.grade', 'admin.f.priority', 'admin.f.stage', 'admin.f.limit', 'admin.f.source'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows),
    ),
  );
}

// ---- working calendar --------------------------------------------------------------------

/** The coverage warning (`coverage.warning` of the calendar API) in words, or null. */
function coverageWarning(coverage) {
  const w = coverage?.warning;
  if (!w) return null;
  const text =
    w.code === 'ending_soon'
      ? t('admin.cal.ending_soon', { end: coverage.coverage_end, days: coverage.days_left, year: w.next_year })
      : t('admin.cal.uncovered', { year: w.year });
  return h('p', { class: 'warning', role: 'status', dataset: { testid: 'calendar-coverage-warning' } }, text);
}

async function renderCalendar(root, rerender, message) {
  const { coverage, years } = await api('/api/v1/admin/calendar/years');
  const load = formOf(
    t('admin.cal.load'),
    [
      field({
        name: 'notice',
        id: uid('notice'),
        label: t('field.notice'),
        hint: t('admin.cal.load_hint'),
        control: h('textarea', { name: 'notice', rows: 12, spellcheck: 'false' }),
      }),
    ],
    t('admin.cal.load_button'),
    async (form) => {
      let body;
      try {
        body = JSON.parse(form.elements.notice.value);
      } catch (e) {
        const box = form.querySelector('.form-error');
        box.textContent = t('admin.cal.bad_json', { msg: e.message });
        box.hidden = false;
        return;
      }
      const r = await api('/api/v1/admin/calendar/years', { method: 'POST', body });
      rerender(t(r.replaced ? 'admin.cal.replaced' : 'admin.cal.loaded', { year: r.year }));
    },
    'calendar-form',
  );
  const rows = years.map((n) =>
    h(
      'tr',
      { dataset: { year: n.year } },
      h('td', {}, String(n.year)),
      h('td', { class: 'source' }, n.source),
      h('td', {}, n.holidays.map((x) => `${x.name_zh} ${x.start}–${x.end}`).join('；')),
      h('td', {}, n.makeup_workdays.join('、') || '—'),
      h(
        'td',
        {},
        rowAction(t('admin.cal.remove'), async () => {
          await api(`/api/v1/admin/calendar/years/${n.year}`, { method: 'DELETE' });
          rerender(t('admin.cal.removed', { year: n.year }));
        }),
      ),
    ),
  );
  page(
    root,
    'nav.admin_calendar',
    message ? done(message) : null,
    h('p', { class: 'hint' }, t('admin.cal.intro')),
    h(
      'p',
      { dataset: { testid: 'calendar-coverage' } },
      coverage.years.length && coverage.coverage_end
        ? t('admin.cal.covered', { years: coverage.years.join('、'), end: coverage.coverage_end, days: coverage.days_left })
        : t('admin.cal.none'),
    ),
    h(
      'table',
      { class: 'cases admin-table', dataset: { testid: 'calendar-table' } },
      h('thead', {}, h('tr', {}, ['admin.cal.year', 'admin.cal.source', 'admin.cal.holidays', 'admin.cal.makeup', 'admin.f.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows),
    ),
    load,
  );
}

// ---- entry -------------------------------------------------------------------------------

const RENDER = {
  admin_units: renderUnits,
  admin_people: renderPeople,
  admin_roadchiefs: renderRoadChiefs,
  admin_limits: renderLimits,
  admin_calendar: renderCalendar,
  admin_integrity: (root, rerender, message) => renderIntegrity(root, rerender, message, page),
  admin_keys: (root, rerender, message) => renderApiKeys(root, rerender, message, page),
  admin_messages: (root, rerender, message, params) => renderMessages(root, rerender, message, page, params),
};

/** Puts the calendar coverage warning, when there is one, at the top of an admin page. */
async function showCoverageWarning(root) {
  let warning = null;
  try {
    warning = coverageWarning((await api('/api/v1/admin/calendar/years')).coverage);
  } catch {
    return; // the page itself reports errors; the banner is an extra
  }
  const heading = root.querySelector('#admin-heading');
  if (warning && heading) heading.after(warning);
}

/**
 * Renders an admin view into `root`. `message` (after a save) is shown on top; a save
 * re-renders the page with fresh data (and, for road chiefs, the segment's history).
 */
export async function renderAdmin(view, root, params, message) {
  const rerender = (msg, query) => {
    if (query !== undefined && `?${query}` !== `?${params.toString()}`) {
      const next = new URLSearchParams(query);
      history.replaceState(null, '', `#/${view}?${next}`);
      return renderAdmin(view, root, next, msg);
    }
    return renderAdmin(view, root, params, msg);
  };
  root.hidden = false;
  fill(root, h('p', { class: 'loading' }, t('app.loading')));
  try {
    await RENDER[view](root, rerender, message, params);
    await showCoverageWarning(root);
  } catch (err) {
    const box = h('form', {}, h('p', { class: 'form-error', role: 'alert' }));
    fill(root, box);
    showError(box, err);
  }
}
