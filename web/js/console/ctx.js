// The console's shared state (who is signed in, reference data) and the small pieces
// every console screen draws the same way: names of states, actions, roles, categories
// and units, state badges, lights, places, the remaining working time in words, and a
// labelled control with its error slot.

import { t, lang } from '../i18n.js';
import { h } from '../common.js';
import './strings.js';

/**
 * @typedef {{ id: string, code: string, name: string, kind: string, type_key: string, active: boolean }} Unit
 * @typedef {{ standard: string, kind: string, code: string, name_zh: string, name_en: string,
 *   major_code: string, major_name_zh: string, major_name_en: string, active: boolean }} Category
 * @typedef {{ id: string, username: string, display_name: string, role: string, unit_id: string | null }} User
 */

/** The console's state, shared by every screen (set on sign-in). */
export const ctx = {
  /** @type {User | null} */
  user: null,
  /** @type {Unit[]} */
  units: [],
  /** @type {Map<string, Unit>} */
  unitsById: new Map(),
  /** @type {Category[]} */
  categories: [],
  /** @type {Map<string, Category>} */
  catByKey: new Map(),
  /** The hash of the last work list shown (the case page links back to it). */
  /** @type {string | null} */
  lastList: null,
  /** The overdue board's chart, disposed when the screen changes. */
  /** @type {any} */
  chart: null,
  /** Re-draws the current screen (after a language switch). */
  /** @type {(() => void) | null} */
  render: null,
};

/**
 * The element with `id` (typed loosely: screens know what they put there).
 * @param {string} id
 * @returns {any}
 */
export const $ = (id) => document.getElementById(id);

export const ALL_STATES = [
  'received',
  'to_verify',
  'to_register',
  'to_dispatch',
  'handling',
  'extension_pending',
  'suspended',
  'to_check',
  'to_callback',
  'to_close',
  'closed',
  'voided',
];
export const OPEN_STATES = ALL_STATES.filter((s) => s !== 'closed' && s !== 'voided');
export const SOURCES = [
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

/** Each role's first screen. */
export const HOME = {
  operator: 'intake',
  inspector: 'verify',
  dispatcher: 'dispatch',
  supervisor: 'overdue',
  handler: 'mine',
  road_chief: 'roads',
  admin: 'all',
  enforcer: 'mine',
};

/** @param {string} s */
export const stateName = (s) => t(`state.${s}`);
export const colon = () => (lang() === 'en' ? ': ' : '：');
/** @param {string} a */
export const actionName = (a) => t(`action.${a}`);
/** @param {string} r */
export const roleName = (r) => t(`role.${r}`);

/** @param {{ standard: string, kind: string, code: string, name?: string | null } | null | undefined} cat */
export function categoryName(cat) {
  if (!cat) return '—';
  const c = ctx.catByKey.get(`${cat.standard}:${cat.kind}:${cat.code}`);
  const name = lang() === 'en' && c ? c.name_en : cat.name || c?.name_zh;
  return `${name || ''} ${cat.code}`.trim();
}

/** @param {string | null | undefined} id */
export function unitName(id) {
  return (id && ctx.unitsById.get(id)?.name) || id || '—';
}

/** @param {string} s */
export function stateBadge(s) {
  return h('span', { class: `badge state-${s}`, 'data-state': s }, stateName(s));
}

/** @param {string | null | undefined} light */
export function lightEl(light) {
  if (!light) return h('span', { class: 'light none' }, t('light.none'));
  return h('span', { class: `light ${light}`, 'data-light': light }, t(`light.${light}`));
}

/** Street and road of a case (or its address). @param {any} c */
export function place(c) {
  const r = c.routing || {};
  if (r.outside_district) return t('case.outside');
  return [r.street_name, r.road_name].filter(Boolean).join(' · ') || c.address || '—';
}

/**
 * The remaining or overdue working time in words, from the server's `time_left`
 * (working minutes on the district calendar): 剩余 3工作时 / 超期 1工作日2工作时.
 * @param {{ overdue: boolean, working_minutes: number, working_day_minutes: number } | null | undefined} tl
 */
export function timeLeftText(tl) {
  if (!tl) return '';
  const day = tl.working_day_minutes > 0 ? tl.working_day_minutes : 480;
  const m = Math.max(0, Math.round(tl.working_minutes));
  const days = Math.floor(m / day);
  const hours = Math.floor((m % day) / 60);
  const parts = [];
  if (days) parts.push(t('tl.days', { n: days }));
  if (hours) parts.push(t('tl.hours', { n: hours }));
  const amount = parts.length ? parts.join(lang() === 'en' ? ' ' : '') : t('tl.under_hour');
  return t(tl.overdue ? 'tl.overdue' : 'tl.left', { x: amount });
}

/** The remaining time as a coloured label (red when overdue). @param {any} c */
export function timeLeftEl(c) {
  if (!c.time_left) return null;
  return h(
    'span',
    { class: `time-left${c.time_left.overdue ? ' overdue' : ''}`, 'data-testid': 'time-left' },
    timeLeftText(c.time_left),
  );
}

/** The path of a case photo's public copy (uploads only; external URLs are not shown). */
export function thumbUrl(/** @type {string | undefined} */ ref) {
  if (!ref || !/^[0-9a-f-]{36}$/i.test(ref)) return null;
  return `/media/${ref}`;
}

/**
 * A labelled control with an error slot (`showError` writes into it).
 * @param {string} name the API field it stands for
 * @param {string} id
 * @param {string} label
 * @param {HTMLElement} control
 * @param {string} [hint]
 */
export function fieldBox(name, id, label, control, hint) {
  control.id = id;
  if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
  return h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    control,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true, 'aria-live': 'polite' }),
  );
}
