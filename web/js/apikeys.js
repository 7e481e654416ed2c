// The admin console's Open311 API-key page (admins only): every key with its state, a form
// that issues a key (its secret is shown once, in this answer only), revoking a key, and
// replacing the citizens' page's own key (the page fetches the new one from
// `/api/v1/public/config`; the old one stops working at once). On the admin API
// `/api/v1/admin/api-keys` and `/api/v1/admin/public-page-key/rotate`; every change audited.

import { t } from './i18n.js';
import { h, timeEl, api, showError, clearErrors, clearOnInput, field, announce } from './common.js';

/** The name the server gives the public page's key (cityloop-service public_page.rs). */
const PUBLIC_PAGE_CLIENT = '公众页面 public page';

/**
 * A button that asks once more before it acts: the first press turns it into
 * "确认…" for a few seconds; the second press runs `run`. Errors show beside it.
 */
function confirmedAction(label, confirmLabel, run, testid) {
  const form = h('form', { class: 'row-action', novalidate: true, dataset: { testid } }, h('p', { class: 'form-error', role: 'alert', hidden: true }), h('button', { type: 'submit' }, label));
  const button = form.querySelector('button');
  let armed = null;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!armed) {
      button.textContent = confirmLabel;
      button.classList.add('danger');
      armed = setTimeout(() => {
        armed = null;
        button.textContent = label;
        button.classList.remove('danger');
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.disabled = true;
    try {
      await run();
    } catch (err) {
      showError(form, err);
      button.disabled = false;
      button.textContent = label;
      button.classList.remove('danger');
    }
  });
  return form;
}

function keyRow(k, rerender) {
  const isPublic = k.name === PUBLIC_PAGE_CLIENT;
  const name = isPublic ? t('keys.public_page') : k.name;
  const state = k.revoked_at ? [t('keys.revoked'), ' ', timeEl(k.revoked_at)] : t('keys.active');
  let action = null;
  if (!k.revoked_at && isPublic) {
    action = confirmedAction(
      t('keys.rotate'),
      t('keys.rotate_confirm'),
      async () => {
        const view = await api('/api/v1/admin/public-page-key/rotate', { method: 'POST', body: {} });
        rerender(t('keys.rotated', { id: view.id.slice(0, 8) }));
      },
      'key-rotate',
    );
  } else if (!k.revoked_at) {
    action = confirmedAction(
      t('keys.revoke'),
      t('keys.revoke_confirm'),
      async () => {
        await api(`/api/v1/admin/api-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
        rerender(t('keys.revoked_done', { name }));
      },
      'key-revoke',
    );
  }
  return h(
    'tr',
    { class: k.revoked_at ? 'inactive' : '', dataset: { testid: isPublic ? 'key-public' : 'key-row' } },
    h('td', {}, h('strong', {}, name), isPublic ? h('span', { class: 'hint' }, ` ${t('keys.public_hint')}`) : null),
    h('td', { 'data-label': t('keys.id') }, h('code', { title: k.id }, k.id.slice(0, 8))),
    h('td', { 'data-label': t('keys.created') }, timeEl(k.created_at)),
    h('td', { 'data-label': t('keys.state') }, state),
    h('td', {}, action),
  );
}

function issueForm(rerender) {
  const nameId = 'keys-new-name';
  const form = h(
    'form',
    { class: 'admin-form', novalidate: true, dataset: { testid: 'key-issue' } },
    h('h3', {}, t('keys.issue')),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ name: 'name', id: nameId, label: t('keys.name'), hint: t('keys.name_hint'), control: h('input', { type: 'text', name: 'name', id: nameId, autocomplete: 'off', maxlength: 100, required: true }) }),
    h('button', { type: 'submit', class: 'primary' }, t('keys.issue_button')),
  );
  clearOnInput(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const made = await api('/api/v1/admin/api-keys', { method: 'POST', body: { name: form.elements.name.value.trim() } });
      rerender(null, made);
    } catch (err) {
      showError(form, err);
      button.disabled = false;
    }
  });
  return form;
}

/** The secret of a key just issued: shown once, with a way to copy it. */
function secretBox(made) {
  const code = h('code', { class: 'secret', dataset: { testid: 'key-secret' } }, made.key);
  const copy = h('button', { type: 'button' }, t('keys.copy'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(made.key);
      announce(t('keys.copied'));
      copy.textContent = t('keys.copied');
    } catch {
      // Without clipboard access (http, or a denied permission) the key stays selectable.
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
    }
  });
  return h('div', { class: 'notice ok', role: 'status' }, h('p', {}, t('keys.issued', { name: made.name })), h('p', {}, code, ' ', copy), h('p', { class: 'hint' }, t('keys.once')));
}

/**
 * Renders the API-key page into `root`. `page` is admin.js's page frame; `message` a
 * confirmation after a change; `made` a key just issued (shown once).
 */
export async function renderApiKeys(root, rerender, message, page, made) {
  const keys = await api('/api/v1/admin/api-keys');
  const active = keys.filter((k) => !k.revoked_at);
  const revoked = keys.filter((k) => k.revoked_at).slice(0, 50);
  const again = (msg, newKey) => (newKey ? renderApiKeys(root, rerender, null, page, newKey) : rerender(msg));
  const table = (rows, testid) =>
    h(
      'table',
      { class: 'cases admin-table', dataset: { testid } },
      h('thead', {}, h('tr', {}, ['keys.name', 'keys.id', 'keys.created', 'keys.state', 'keys.action'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows.map((k) => keyRow(k, again))),
    );
  page(
    root,
    'nav.admin_keys',
    message ? h('p', { class: 'notice', role: 'status', dataset: { testid: 'admin-done' } }, message) : null,
    h('p', { class: 'hint' }, t('keys.intro')),
    made ? secretBox(made) : null,
    table(active, 'key-table'),
    issueForm(again),
    revoked.length ? [h('h3', {}, t('keys.revoked_list')), table(revoked, 'key-revoked-table')] : null,
  );
  if (message) announce(message);
}
