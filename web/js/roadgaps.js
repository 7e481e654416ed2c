// 路长配置's road-chief gaps and bulk assignment (issue 21 item 4), drawn at the top of
// admin.js's road-chief page: the answer of GET /api/v1/admin/road-chief-gaps (segments
// missing a chief at some level, deactivated people still holding segments, chiefs over
// the district's limit) and the form of POST /api/v1/admin/road-chiefs/bulk (a road by
// name, a street, or a list of segment ids → one person at one level). Errors show next
// to the field the API names.

import { t, extend } from './i18n.js';
import { h, api, showError, clearErrors, clearOnInput, field, announce, ApiError } from './common.js';

/** Most rows of each gap list drawn (the rest are counted). */
const SHOW = 50;

extend(
  {
    'gaps.title': '路长缺口',
    'gaps.none': '每条路段三级路长齐全，没有已停用仍挂路段的人员，也没有超出上限的路长。',
    'gaps.missing': '缺少路长的路段（{n} 条）',
    'gaps.inactive': '已停用但仍挂路段的人员（{n} 人）',
    'gaps.over': '负责路段超过上限（{max} 条）的路长（{n} 人）',
    'gaps.more': '另有 {n} 条未列出。',
    'gaps.segments': '{n} 条路段',
    'gaps.assign': '为此路段配置',
    'rcbulk.title': '批量配置路长',
    'rcbulk.hint': '按道路名称、按街道，或列出路段编号（每行一个），一次把同一人配置为同一级路长。原任路长的记录保留为历史。',
    'rcbulk.by': '范围',
    'rcbulk.by.road_name': '按道路名称',
    'rcbulk.by.street': '按街道',
    'rcbulk.by.segment_ids': '按路段编号',
    'rcbulk.road_name': '道路名称',
    'rcbulk.street': '街道',
    'rcbulk.segment_ids': '路段编号（每行一个）',
    'rcbulk.level': '路长级别',
    'rcbulk.person': '路长',
    'rcbulk.submit': '批量配置',
    'rcbulk.done': '已配置 {n} 条路段，{m} 条原本就是此人，未改动。',
    'rcbulk.bad_line': '第 {n} 行：区内没有编号为“{id}”的路段。',
  },
  {
    'gaps.title': 'Road-chief gaps',
    'gaps.none': 'Every segment has its three chiefs; nobody deactivated holds a segment; no chief is over the limit.',
    'gaps.missing': 'Segments missing a chief ({n})',
    'gaps.inactive': 'Deactivated people still holding segments ({n})',
    'gaps.over': 'Chiefs over the limit of {max} segments ({n})',
    'gaps.more': '{n} more not listed.',
    'gaps.segments': '{n} segments',
    'gaps.assign': 'Assign for this segment',
    'rcbulk.title': 'Assign road chiefs in bulk',
    'rcbulk.hint': 'A road by name, a street, or segment ids (one a line) → one person at one level. The previous holders’ rows are kept as history.',
    'rcbulk.by': 'Scope',
    'rcbulk.by.road_name': 'By road name',
    'rcbulk.by.street': 'By street',
    'rcbulk.by.segment_ids': 'By segment ids',
    'rcbulk.road_name': 'Road name',
    'rcbulk.street': 'Street',
    'rcbulk.segment_ids': 'Segment ids (one a line)',
    'rcbulk.level': 'Level',
    'rcbulk.person': 'Road chief',
    'rcbulk.submit': 'Assign',
    'rcbulk.done': '{n} segments assigned; {m} already held by this person, unchanged.',
    'rcbulk.bad_line': 'Line {n}: no segment “{id}” in the district.',
  },
);

const LEVELS = ['district', 'first', 'second'];

/**
 * The gaps section and the bulk form.
 * @param {{ chiefs: any[], rerender: (message: string) => void }} opts
 * @returns {Promise<HTMLElement>}
 */
export async function roadChiefTools({ chiefs, rerender }) {
  const [gaps, units] = await Promise.all([api('/api/v1/admin/road-chief-gaps'), api('/api/v1/units')]);
  const streets = units.filter((/** @type {any} */ u) => u.kind === 'street');
  const levelName = (/** @type {string} */ l) => t(`admin.level.${l}`);
  const more = (/** @type {number} */ n) => (n > SHOW ? h('p', { class: 'hint' }, t('gaps.more', { n: n - SHOW })) : null);
  const blocks = [];
  if (gaps.missing.length) {
    blocks.push(
      h('h4', {}, t('gaps.missing', { n: gaps.missing.length })),
      h(
        'ul',
        { class: 'gap-list', 'data-testid': 'gaps-missing' },
        gaps.missing.slice(0, SHOW).map((/** @type {any} */ m) =>
          h(
            'li',
            { dataset: { segment: m.segment_id } },
            `${m.segment_id}：${m.missing_levels.map(levelName).join('、')} `,
            h('a', { href: `#/admin_roadchiefs?segment=${encodeURIComponent(m.segment_id)}` }, t('gaps.assign')),
          ),
        ),
      ),
      more(gaps.missing.length),
    );
  }
  if (gaps.inactive_holders.length) {
    blocks.push(
      h('h4', {}, t('gaps.inactive', { n: gaps.inactive_holders.length })),
      h(
        'ul',
        { class: 'gap-list', 'data-testid': 'gaps-inactive' },
        gaps.inactive_holders.slice(0, SHOW).map((/** @type {any} */ p) => h('li', {}, `${p.person_name}：${t('gaps.segments', { n: p.assignments.length })}`)),
      ),
      more(gaps.inactive_holders.length),
    );
  }
  if (gaps.over_limit.length) {
    blocks.push(
      h('h4', {}, t('gaps.over', { n: gaps.over_limit.length, max: gaps.limits.max_segments_per_chief })),
      h('ul', { class: 'gap-list' }, gaps.over_limit.slice(0, SHOW).map((/** @type {any} */ p) => h('li', {}, `${p.person_name}：${t('gaps.segments', { n: p.segments })}`))),
    );
  }
  if (!blocks.length) blocks.push(h('p', { class: 'status-line' }, t('gaps.none')));

  const by = /** @type {HTMLSelectElement} */ (
    h('select', { name: 'by' }, ['road_name', 'street', 'segment_ids'].map((k) => h('option', { value: k }, t(`rcbulk.by.${k}`))))
  );
  const roadBox = field({ name: 'road_name', id: 'bulk-road', label: t('rcbulk.road_name'), control: h('input', { type: 'text', name: 'road_name', autocomplete: 'off' }) });
  const streetBox = field({
    name: 'street',
    id: 'bulk-street',
    label: t('rcbulk.street'),
    control: h('select', { name: 'street' }, streets.map((/** @type {any} */ u) => h('option', { value: u.type_key }, u.name))),
  });
  const idsBox = field({ name: 'segment_ids', id: 'bulk-ids', label: t('rcbulk.segment_ids'), control: h('textarea', { name: 'segment_ids', rows: 4 }) });
  const showScope = () => {
    roadBox.hidden = by.value !== 'road_name';
    streetBox.hidden = by.value !== 'street';
    idsBox.hidden = by.value !== 'segment_ids';
  };
  by.addEventListener('change', showScope);
  const form = /** @type {HTMLFormElement} */ (
    h(
      'form',
      { class: 'admin-form', novalidate: true, 'data-testid': 'bulk-form' },
      h('h3', {}, t('rcbulk.title')),
      h('p', { class: 'hint' }, t('rcbulk.hint')),
      h('p', { class: 'form-error', role: 'alert', hidden: true }),
      field({ name: 'by', id: 'bulk-by', label: t('rcbulk.by'), control: by }),
      roadBox,
      streetBox,
      idsBox,
      field({ name: 'level', id: 'bulk-level', label: t('rcbulk.level'), control: h('select', { name: 'level' }, LEVELS.map((l) => h('option', { value: l }, levelName(l)))) }),
      field({
        name: 'person_id',
        id: 'bulk-person',
        label: t('rcbulk.person'),
        control: h('select', { name: 'person_id' }, chiefs.map((/** @type {any} */ p) => h('option', { value: p.id }, `${p.display_name}（${p.username}）`))),
      }),
      h('button', { type: 'submit', class: 'primary' }, t('rcbulk.submit')),
    )
  );
  showScope();
  clearOnInput(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const el = (/** @type {string} */ n) => /** @type {HTMLInputElement} */ (form.elements.namedItem(n));
    /** @type {Record<string, any>} */
    const body = { level: el('level').value, person_id: el('person_id').value };
    if (by.value === 'road_name') body.road_name = el('road_name').value.trim();
    else if (by.value === 'street') body.street = el('street').value;
    else body.segment_ids = el('segment_ids').value.split(/\s+/).filter(Boolean);
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    button.disabled = true;
    try {
      const r = await api('/api/v1/admin/road-chiefs/bulk', { method: 'POST', body });
      const msg = t('rcbulk.done', { n: r.assigned.length, m: r.unchanged.length });
      announce(msg);
      rerender(msg);
    } catch (err) {
      // `segment_ids[i]` names one line of the list: shown under the list.
      const line = err instanceof ApiError && err.field ? /^segment_ids\[(\d+)\]$/.exec(err.field) : null;
      if (line && err instanceof ApiError) {
        const i = Number(line[1]);
        const message = t('rcbulk.bad_line', { n: i + 1, id: (body.segment_ids || [])[i] || '' });
        showError(form, new ApiError({ status: err.status, code: err.code, message, field: 'segment_ids' }));
      } else showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'road-chief-tools' }, h('section', { class: 'gaps', 'data-testid': 'gaps' }, h('h3', {}, t('gaps.title')), blocks), form);
}
