// The printable 派遣单 / 案件详情 (issue 15 item 6): `#/print/ID` draws the case on one A4
// sheet — number, category, place, unit, deadline, description, the reporter as the
// server shaped them for this role (a masked phone stays masked), photos, the history and
// signature lines — and the browser prints it (print rules in css/console.css hide the
// console's bars and buttons).

import { t } from '../i18n.js';
import { h, fill, timeEl, api, describe, fmtTime } from '../common.js';
import { categoryName, stateName } from './ctx.js';
import { photoStrip } from '../photos.js';
import { timeline } from './case.js';
import './strings.js';

/** @param {HTMLElement} root @param {string} id */
export async function renderPrint(root, id) {
  fill(root, h('p', { class: 'muted' }, '…'));
  let c;
  try {
    c = await api(`/api/v1/cases/${id}`);
  } catch (err) {
    fill(root, h('p', { class: 'form-error' }, describe(err)));
    return;
  }
  const r = c.routing || {};
  const rep = c.reporter || {};
  const row = (/** @type {string} */ k, /** @type {any} */ v, wide = false) =>
    h('tr', {}, h('th', { scope: 'row' }, t(k)), h('td', { colspan: wide ? 3 : 1 }, v || t('print.none')));
  const pair = (/** @type {string} */ k1, /** @type {any} */ v1, /** @type {string} */ k2, /** @type {any} */ v2) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, t(k1)),
      h('td', {}, v1 || t('print.none')),
      h('th', { scope: 'row' }, t(k2)),
      h('td', {}, v2 || t('print.none')),
    );
  const printButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'print-now' }, t('print.do'));
  printButton.addEventListener('click', () => window.print());
  const photos = photoStrip(c.photos);
  fill(
    root,
    h(
      'div',
      { class: 'print-bar no-print' },
      h('a', { href: `#/case/${c.id}` }, `← ${t('print.back')}`),
      printButton,
      h('span', { class: 'muted' }, t('print.hint')),
    ),
    h(
      'article',
      { class: 'print-sheet', 'data-testid': 'print-sheet' },
      h(
        'header',
        { class: 'print-head' },
        h('p', { class: 'print-district' }, t('app.district')),
        h('h2', {}, t('print.title')),
        h('p', { class: 'print-number' }, t('case.heading', { number: c.number })),
      ),
      h(
        'table',
        { class: 'print-table' },
        h(
          'tbody',
          {},
          pair('case.category', categoryName(c.category), 'case.source', t(`source.${c.source}`)),
          pair('case.created', timeEl(c.created_at), 'case.priority', t(`priority.${c.priority}`)),
          pair('case.unit', c.unit?.name || c.suggested_unit?.name, 'case.stage', c.stage ? `${t(`stage.${c.stage}`)} · ${stateName(c.state)}` : stateName(c.state)),
          pair('case.deadline', c.deadline ? timeEl(c.deadline) : null, 'case.external_ref', c.external_ref),
          row('case.address', [c.address, r.street_name, r.road_name].filter(Boolean).join(' · '), true),
          pair('case.community', r.community_code, 'case.grid', r.grid_code),
          row('case.reporter', [rep.name, rep.phone].filter(Boolean).join(' · '), true),
          h('tr', {}, h('th', { scope: 'row' }, t('case.description')), h('td', { colspan: 3, class: 'print-desc' }, c.description)),
        ),
      ),
      photos ? h('section', { class: 'print-photos' }, h('h3', {}, t('print.photos')), photos) : null,
      h('section', { class: 'print-timeline' }, h('h3', {}, t('print.timeline')), timeline(c.events || [])),
      h(
        'footer',
        { class: 'print-sign' },
        h('p', {}, `${t('print.sign_dispatch')}：`, h('span', { class: 'sign-line' }), `${t('print.sign_date')}：`, h('span', { class: 'sign-line short' })),
        h('p', {}, `${t('print.sign_receive')}：`, h('span', { class: 'sign-line' }), `${t('print.sign_date')}：`, h('span', { class: 'sign-line short' })),
        h('p', { class: 'muted' }, `${t('print.printed_at')}：${fmtTime(new Date().toISOString())}`),
      ),
    ),
  );
}
