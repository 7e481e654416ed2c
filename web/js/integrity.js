// The admin console's history-integrity page (admins only): the last verification of every
// case's event hash chain and of the roots (from `cityloop verify`, a restore, or the button
// here), with the first broken events it named, and the chain's state (events not yet covered
// by a root, the newest root). On the admin API `/api/v1/admin/integrity`.

import { t } from './i18n.js';
import { h, timeEl, api, showError, clearErrors, announce } from './common.js';

function problemRow(p) {
  const where = p.case_number
    ? `${p.case_number}${p.seq ? ` · ${t('integrity.event', { seq: p.seq })}` : ''}`
    : p.root
      ? t('integrity.root', { seq: p.root })
      : '—';
  return h('tr', {}, h('td', {}, where), h('td', {}, t(`integrity.kind.${p.kind}`)), h('td', { class: 'detail' }, p.detail));
}

function lastRun(run) {
  if (!run) return h('p', { class: 'notice', dataset: { testid: 'integrity-never' } }, t('integrity.never'));
  const r = run.report;
  const verdict = r.ok
    ? h('p', { class: 'notice ok', role: 'status', dataset: { testid: 'integrity-ok' } }, t('integrity.ok', { events: r.events, cases: r.cases, roots: r.roots }))
    : h('p', { class: 'form-error', role: 'alert', dataset: { testid: 'integrity-broken' } }, t('integrity.broken', { n: r.problem_count }));
  return [
    verdict,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, t('integrity.ran_at')),
      h('dd', {}, timeEl(run.finished_at)),
      h('dt', {}, t('integrity.ran_by')),
      h('dd', {}, t(`integrity.by.${run.ran_by}`)),
    ),
    r.problems.length
      ? h(
          'table',
          { class: 'cases admin-table', dataset: { testid: 'integrity-problems' } },
          h('thead', {}, h('tr', {}, ['integrity.where', 'integrity.what', 'integrity.detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
          h('tbody', {}, r.problems.slice(0, 50).map(problemRow)),
        )
      : null,
  ];
}

function chainFacts(c) {
  const root = c.last_root;
  return h(
    'dl',
    { class: 'facts', dataset: { testid: 'integrity-chain' } },
    h('dt', {}, t('integrity.last_root')),
    h('dd', {}, root ? [t('integrity.root', { seq: root.seq }), ' · ', timeEl(root.sealed_at), ' · ', t('integrity.root_events', { n: root.events }), ' · ', h('code', {}, root.root)] : '—'),
    h('dt', {}, t('integrity.unrooted')),
    h('dd', {}, String(c.unrooted)),
  );
}

/** Renders the integrity page into `root`. */
export async function renderIntegrity(root, rerender, message, page) {
  const view = await api('/api/v1/admin/integrity');
  const form = h('form', { class: 'admin-form inline', novalidate: true, dataset: { testid: 'integrity-verify' } }, h('p', { class: 'form-error', role: 'alert', hidden: true }), h('button', { type: 'submit', class: 'primary' }, t('integrity.verify_now')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const run = await api('/api/v1/admin/integrity/verify', { method: 'POST', body: {} });
      announce(run.report.ok ? t('integrity.ok', { events: run.report.events, cases: run.report.cases, roots: run.report.roots }) : t('integrity.broken', { n: run.report.problem_count }));
      rerender();
    } catch (err) {
      showError(form, err);
      button.disabled = false;
    }
  });
  page(
    root,
    'nav.admin_integrity',
    h('p', { class: 'hint' }, t('integrity.intro')),
    h('h3', {}, t('integrity.last_verify')),
    lastRun(view.last_verify),
    form,
    h('h3', {}, t('integrity.chain')),
    chainFacts(view.chain),
  );
}
