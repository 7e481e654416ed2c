// The 导出 buttons of a case list (issue 15 item 6): the list's current filters sent to
// `GET /api/v1/cases/export` as CSV or Excel (xlsx), downloaded with the session's
// Bearer token (a plain link could not carry it). The server streams the file and caps
// it at 100,000 rows; a longer list ends with a line saying where it was cut.

import { t } from '../i18n.js';
import { h, session, describe, ApiError } from '../common.js';
import './strings.js';

/** Search parameters the export does not take (paging and list display). */
const NOT_EXPORTED = ['limit', 'cursor', 'context'];

/**
 * The export group for a list whose filters `query()` returns.
 * @param {() => URLSearchParams} query
 * @returns {HTMLElement}
 */
export function exportButtons(query) {
  const status = h('span', { class: 'muted export-status', 'aria-live': 'polite', 'data-testid': 'export-status' });
  const run = async (/** @type {'csv'|'xlsx'} */ format, /** @type {HTMLButtonElement} */ button) => {
    const q = new URLSearchParams(query());
    for (const k of NOT_EXPORTED) q.delete(k);
    q.set('format', format);
    button.disabled = true;
    status.textContent = t('export.working');
    try {
      const resp = await fetch(`/api/v1/cases/export?${q}`, {
        headers: session.token ? { Authorization: `Bearer ${session.token}` } : {},
      });
      if (!resp.ok) {
        const body = await resp.json().catch(() => null);
        const e = body?.error || { code: `http_${resp.status}`, message: resp.statusText };
        throw new ApiError({ status: resp.status, code: e.code, message: e.message, field: e.field });
      }
      const blob = await resp.blob();
      const name = /filename="([^"]+)"/.exec(resp.headers.get('content-disposition') || '')?.[1] || `cases.${format}`;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      status.textContent = t('export.done', { name });
    } catch (err) {
      status.textContent = describe(err);
    } finally {
      button.disabled = false;
    }
  };
  const csv = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'export-csv' }, t('export.csv'));
  const xlsx = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'export-xlsx' }, t('export.xlsx'));
  csv.addEventListener('click', () => run('csv', /** @type {HTMLButtonElement} */ (csv)));
  xlsx.addEventListener('click', () => run('xlsx', /** @type {HTMLButtonElement} */ (xlsx)));
  return h(
    'div',
    { class: 'export-group', role: 'group', 'aria-label': t('export.label') },
    h('span', { class: 'export-label' }, t('export.label')),
    csv,
    xlsx,
    status,
  );
}
