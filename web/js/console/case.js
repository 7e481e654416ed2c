// A case with everything a decision needs: description, photos, reporter (as privacy
// allows), routing, the deadline and the remaining working time, the timeline, a map, and
// exactly the actions the server lists in `allowed_actions`. Drawn as a page of its own
// (`#/case/ID`) or beside a work list (the queue's case panel), by the same code.

import { sensorCaseChart } from './sensors.js';
import { t } from '../i18n.js';
import { h, fill, timeEl, api, describe, announce, safeLink } from '../common.js';
import { createMap, LIGHT_COLOURS } from '../map.js';
import { photoStrip, beforeAfter } from '../photos.js';
import { renderEnforcement } from './enforce.js';
import { renderHotline } from './hotline.js';
import {
  ctx,
  HOME,
  stateName,
  colon,
  actionName,
  roleName,
  categoryName,
  unitName,
  stateBadge,
  lightEl,
  timeLeftEl,
} from './ctx.js';
import { actionForm, DANGEROUS } from './actions.js';


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

/** The extra lines a hotline or channel report carries: its ref, call time, call-back. */
function intakeView(c) {
  const r = c.reporter || {};
  const out = [];
  if (c.external_ref && c.source !== 'public') out.push(h('span', { 'data-testid': 'external-ref' }, `${t('case.external_ref')}${colon()}${c.external_ref}`));
  if (r.contacted_at) out.push(h('span', {}, `${t('case.contacted_at')}${colon()}`, timeEl(r.contacted_at)));
  if (r.callback !== undefined && r.callback !== null) out.push(h('span', {}, r.callback ? t('case.callback_yes') : t('case.callback_no')));
  if (!out.length) return null;
  const list = [];
  out.forEach((x, i) => list.push(i ? ' · ' : '', x));
  return list;
}

/**
 * Draws case `id` into `root`. `embedded`: beside a work list (compact, no back link;
 * `onChanged(updated, message)` is called after an action instead of redrawing here).
 * @param {HTMLElement} root
 * @param {string} id
 * `context`: the queue row's road chiefs and possible duplicates, shown with the case.
 * @param {{ message?: string, embedded?: boolean, focus?: boolean, context?: any, onChanged?: (updated: any, message: string) => void | Promise<void> }} [opts]
 */
export async function renderCase(root, id, { message, embedded = false, onChanged, focus = false, context = null } = {}) {
  let c;
  try {
    c = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
  } catch (err) {
    fill(root, h('section', { class: 'card-box' }, h('p', { class: 'form-error', role: 'alert' }, describe(err)), embedded ? null : backLink()));
    return;
  }
  const heading = h(embedded ? 'h3' : 'h2', { tabindex: '-1', id: 'case-heading' }, t('case.heading', { number: c.number }));
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', 'data-testid': embedded ? 'case-status' : 'status' }, message || '');
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
  const openAction = (a, button, mergeInto = '') => {
    for (const b of buttons.querySelectorAll('button')) b.setAttribute('aria-expanded', String(b === button));
    const form = actionForm(a, c, {
      mergeInto,
      duplicates: dups,
      onDone: async (updated) => {
        const msg = t('act.done', { action: actionName(a), number: updated.number });
        if (embedded && onChanged) await onChanged(updated, msg);
        else await renderCase(root, updated.id, { message: msg });
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
            ' ',
            timeLeftEl(c),
            c.deadline_weekends_only ? h('span', { class: 'warning weekends-only', dataset: { testid: 'deadline-weekends-only' } }, t('case.deadline_weekends_only')) : null,
          ]
        : null,
    ),
    kv('case.created', timeEl(c.created_at)),
    kv('case.updated', timeEl(c.updated_at)),
    kv('case.closed_at', c.closed_at ? timeEl(c.closed_at) : null),
    kv('case.address', c.address),
    kv('case.reporter', reporterView(c)),
    kv('case.intake', intakeView(c)),
    kv(
      'case.media',
      c.media?.length
        ? photoStrip(c.photos, { showGps: true }) || c.media.map((m) => [safeLink(m), h('br')])
        : null,
    ),
  );
  // The case's own answer carries its segment's chiefs (every case page); a queue row's context too.
  const chiefs = c.road_chiefs || context?.road_chiefs || [];
  const placeList = h(
    'dl',
    { class: 'kv' },
    r.outside_district ? kv('case.place', t('case.outside')) : null,
    kv('case.street', r.street_name ? `${r.street_name} ${r.schematic ? t('case.schematic') : ''}` : null),
    kv('case.community', r.community_code),
    kv('case.grid', r.grid_code),
    kv('case.road', r.road_name ? `${r.road_name}（${r.segment_id}${r.segment_distance_m != null ? `, ${r.segment_distance_m} m` : ''}）` : null),
    kv('case.coords', `${c.lat.toFixed(6)}, ${c.lon.toFixed(6)} (WGS84)`),
    kv('list.road_chief', chiefs.length ? chiefs.map((/** @type {any} */ r) => `${r.name}（${r.level_zh}）`).join('、') : null),
  );
  const dups = (context?.duplicates || []).filter((/** @type {any} */ d) => d.id !== c.id);
  const canMerge = (c.allowed_actions || []).includes('merge');
  const mergeButton = buttons.querySelector('button[data-action="merge"]');
  const dupNote = dups.length
    ? h(
        'div',
        { class: 'dup-hint', role: 'note', 'data-testid': 'case-dups' },
        h('strong', {}, t('intake.dups', { n: dups.length })),
        ' ',
        dups.map((/** @type {any} */ d, /** @type {number} */ i) => [
          i ? '、' : '',
          h('a', { href: `#/case/${d.id}` }, d.number),
          ` (${Math.round(d.distance_m)} m)`,
          canMerge && mergeButton
            ? [' ', h('button', { type: 'button', class: 'link', dataset: { testid: 'merge-into' }, onclick: () => openAction('merge', mergeButton, d.number) }, t('case.merge_into_this', { n: d.number }))]
            : null,
        ]),
      )
    : null;
  const mergedBox = c.merged?.length
    ? h(
        'section',
        { class: 'card-box', 'aria-labelledby': 'merged-heading', 'data-testid': 'merged' },
        h('h3', { id: 'merged-heading' }, t('case.merged_heading', { n: c.merged.length })),
        h(
          'ul',
          { class: 'merged-list' },
          c.merged.map((/** @type {any} */ m) =>
            h(
              'li',
              {},
              h('a', { href: `#/case/${m.id}` }, m.number),
              ' · ',
              t(`source.${m.source}`),
              ' · ',
              timeEl(m.created_at),
              m.reporter?.name || m.reporter?.phone ? [' · ', [m.reporter.name, m.reporter.phone].filter(Boolean).join(' ')] : null,
              h('br'),
              h('span', { class: 'muted' }, m.description.length > 60 ? `${m.description.slice(0, 60)}…` : m.description),
            ),
          ),
        ),
      )
    : null;
  const notes = [
    c.merged_into ? h('span', { 'data-testid': 'merged-into' }, t('case.merged_into'), h('a', { href: `#/case/${c.merged_into.id}` }, c.merged_into.number)) : null,
    c.pending_extension ? t('case.pending_extension', { x: c.pending_extension }) : null,
    c.void_reason ? t('case.void_reason', { x: c.void_reason }) : null,
    c.public_reason ? t('case.public_reason', { x: t(`preason.${c.public_reason}`) }) : null,
    t('case.counts', { r: c.return_count, w: c.rework_count, e: c.extension_count }),
    c.supervise_count || c.redispatch_count ? t('case.loop_counts', { s: c.supervise_count || 0, d: c.redispatch_count || 0 }) : null,
    c.satisfaction ? t('case.satisfaction', { x: t(`sat.${c.satisfaction}`) }) : null,
    c.redo_count ? t('case.redo_count', { n: c.redo_count }) : null,
    c.follows ? t('case.follows', { n: c.follows }) : null,
  ].filter(Boolean);

  const mapEl = h('div', { class: 'map map-small', 'aria-label': t('case.place') });
  const head = h(
    'section',
    { class: 'card-box', 'aria-labelledby': 'case-heading' },
    embedded ? null : backLink(),
    h(
      'div',
      { class: 'case-head' },
      heading,
      stateBadge(c.state),
      c.light ? lightEl(c.light) : null,
      timeLeftEl(c),
      h('span', { class: 'muted' }, t('case.version', { v: c.version })),
      h('button', { type: 'button', class: 'secondary small', onclick: () => renderCase(root, c.id, { embedded, onChanged, context, focus: true }) }, t('case.reload')),
      embedded ? h('a', { class: 'small', href: `#/case/${c.id}`, 'data-testid': 'open-full' }, t('case.open_full')) : null,
      h('a', { class: 'small', href: `#/print/${c.id}`, 'data-testid': 'print-link' }, t('print.button')),
    ),
    status,
    dupNote,
    h('p', { class: 'description', 'data-testid': 'description' }, c.description),
    notes.map((x) => h('p', { class: 'muted' }, x)),
  );
  const actionsBox = h(
    'section',
    { class: 'card-box', 'aria-labelledby': 'actions-heading' },
    h('h3', { id: 'actions-heading' }, t('case.actions')),
    c.allowed_actions?.length ? buttons : h('p', { class: 'muted', 'data-testid': 'no-actions' }, t('case.no_actions')),
    formBox,
  );
  const detailsBox = h('section', { class: 'card-box', 'aria-labelledby': 'details-heading' }, h('h3', { id: 'details-heading' }, t('case.details')), details);
  const photosBox = beforeAfter(c.events)
    ? h('section', { class: 'card-box', 'aria-labelledby': 'photos-heading' }, h('h3', { id: 'photos-heading' }, t('photo.heading')), beforeAfter(c.events))
    : null;
  const timelineBox = h(
    'section',
    { class: 'card-box', 'aria-labelledby': 'timeline-heading' },
    h('h3', { id: 'timeline-heading' }, t('case.timeline')),
    timeline(c.events || []),
  );
  const placeBox = h('section', { class: 'card-box', 'aria-label': t('case.place') }, h('h3', {}, t('case.place')), mapEl, placeList);
  const enforcementBox = h('div', { id: 'enforcement-box' });
  const hotlineBox = h('div', { id: 'hotline-box' });
  const assists = assistsBox(c);
  const sensorBox = h('section', { class: 'card-box sensor-box', hidden: c.source !== 'sensor' });
  if (embedded) {
    fill(root, head, actionsBox, assists, hotlineBox, photosBox, detailsBox, mergedBox, sensorBox, enforcementBox, placeBox, timelineBox);
  } else {
    fill(root, head, h('div', { class: 'case-grid' }, h('div', {}, actionsBox, assists, hotlineBox, detailsBox, mergedBox, sensorBox, enforcementBox, photosBox, timelineBox), placeBox));
  }
  if (c.source === 'sensor') sensorCaseChart(sensorBox, c.id).then(() => { sensorBox.hidden = !sensorBox.childNodes.length; });
  renderEnforcement(enforcementBox, c.id);
  renderHotline(hotlineBox, c);
  if (!embedded || focus) heading.focus({ preventScroll: embedded });
  const map = createMap(mapEl, { center: [c.lat, c.lon], zoom: 14, label: t('case.place') });
  map.setCases([{ lat: c.lat, lon: c.lon, radius: 9, colour: c.light ? LIGHT_COLOURS[c.light] : '#5a6470', title: c.number }]);
}

/**
 * The assisting units (协办) beside the lead (主办): each one's task, state, own deadline
 * with its light and time left, and its report or the reason it ended.
 * @param {any} c
 */
function assistsBox(c) {
  const list = /** @type {any[]} */ (c.assists || []);
  if (!list.length) return null;
  const open = list.filter((a) => a.state === 'open').length;
  const mine = list.some((a) => a.state === 'open' && a.unit.id === ctx.user?.unit_id);
  return h(
    'section',
    { class: 'card-box', 'aria-labelledby': 'assists-heading', 'data-testid': 'assists' },
    h('h3', { id: 'assists-heading' }, t('assist.heading', { n: list.length })),
    c.unit ? h('p', { class: 'muted' }, t('assist.lead', { unit: c.unit.name })) : null,
    mine ? h('p', { class: 'hint', 'data-testid': 'assist-mine' }, t('assist.mine')) : null,
    open && !mine ? h('p', { class: 'hint', 'data-testid': 'assist-waiting' }, t('assist.waiting', { n: open })) : null,
    h(
      'ul',
      { class: 'assist-list' },
      list.map((a) =>
        h(
          'li',
          { dataset: { state: a.state, unit: a.unit.id }, 'data-testid': 'assist' },
          h('p', {}, h('strong', {}, a.unit.name), ' ', h('span', { class: `badge assist-${a.state}` }, t(`state.assist.${a.state}`))),
          h('p', {}, h('span', { class: 'muted' }, `${t('assist.task')}${colon()}`), a.task),
          h(
            'p',
            {},
            h('span', { class: 'muted' }, `${t('assist.deadline')}${colon()}`),
            a.deadline ? timeEl(a.deadline) : '—',
            a.state === 'open' ? [' ', lightEl(a.light), ' ', timeLeftEl(a)] : null,
            a.on_time === true ? [' · ', t('assist.on_time')] : null,
            a.on_time === false ? [' · ', h('span', { class: 'overdue' }, t('assist.late'))] : null,
            a.extension_count ? [' · ', t('assist.extended', { n: a.extension_count })] : null,
          ),
          a.outcome
            ? h('p', {}, h('span', { class: 'muted' }, `${a.state === 'reported' ? t('assist.outcome') : t('assist.reason')}${colon()}`), a.outcome, a.ended_at ? [' · ', timeEl(a.ended_at)] : null)
            : null,
        ),
      ),
    ),
  );
}

function backLink() {
  return h('p', {}, h('a', { href: ctx.lastList || `#/${HOME[ctx.user.role] || 'all'}` }, `← ${t('case.back')}`));
}

/** A category named by its bare code, as events record it (matters first: 5-digit codes are shared with components). */
function codeName(/** @type {string} */ code) {
  const c = ctx.categories.find((x) => x.code === code && x.kind === 'matter') || ctx.categories.find((x) => x.code === code);
  return c ? categoryName(c) : code;
}

export function timeline(events) {
  return h(
    'ol',
    { class: 'timeline', 'data-testid': 'timeline' },
    events.map((e) => {
      const lines = [
        e.satisfaction ? [t('act.satisfaction'), t(`sat.${e.satisfaction}`)] : null,
        e.note ? [t('ev.note'), e.note] : null,
        e.reason ? [t('ev.reason'), e.reason] : null,
        e.previous_unit ? [t('ev.redispatch'), `${unitName(e.previous_unit)} → ${unitName(e.unit_id)}`] : null,
        e.unit_id && !e.previous_unit ? [e.kind === 'supervise' ? t('ev.supervised_unit') : t('ev.unit'), unitName(e.unit_id)] : null,
        e.previous_category ? [t('ev.recategorised'), `${codeName(e.previous_category)} → ${codeName(e.category)}`] : null,
        e.priority ? [t('ev.priority'), t(`priority.${e.priority}`)] : null,
        e.merge_into ? [t('ev.merge_into'), h('a', { href: `#/case/${e.merge_into.id}` }, e.merge_into.number)] : null,
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

