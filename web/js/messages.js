// The admin console's message page (`#/admin_messages`, admins only): the banner while
// messages fail (the channels' health), the SMS and e-mail channels (log file, an SMS
// gateway's HTTP API, SMTP, or off; secrets are write-only: the form only says whether one
// is set), the three templates checked by the server when saved, and the outbox with each
// message's status, attempts and last error, where a dead message can be sent again. On
// `/api/v1/admin/messages/{settings,health,outbox}`; every save audited.

import { t } from './i18n.js';
import { h, timeEl, api, showError, clearErrors, clearOnInput, field, announce, ApiError } from './common.js';

const PURPOSES = ['receipt', 'callback', 'code'];

/** The banner: nothing while the channels are fine. */
function healthBanner(health) {
  if (health.status !== 'degraded') {
    return h('p', { class: 'notice ok', dataset: { testid: 'messages-health' } }, t('msg.health_ok', { sms: t(`msg.p.${health.sms}`), email: t(`msg.p.${health.email}`) }));
  }
  return h(
    'div',
    { class: 'notice warning', role: 'alert', dataset: { testid: 'messages-health' } },
    h('p', {}, h('strong', {}, t('msg.health_bad'))),
    h('p', {}, t('msg.health_detail', { failing: health.failing, dead: health.dead_recent })),
  );
}

/** Chinese for the server's English check messages where we know the pattern. */
function localise(err) {
  if (!(err instanceof ApiError) || !err.message) return err;
  const m = /unknown placeholder \{([^}]*)\}/.exec(err.message);
  if (m) err.message = t('msg.err.placeholder', { p: `{${m[1]}}` });
  else if (/must be a JSON object/.test(err.message)) err.message = t('msg.err.body_object');
  else if (/not a URL|http:\/\/ or https:\/\//.test(err.message)) err.message = t('msg.err.url');
  else if (/not an address/.test(err.message)) err.message = t('msg.err.address');
  return err;
}

function select(name, id, options, value) {
  return h(
    'select',
    { name, id },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  );
}

function input(name, value, attrs = {}) {
  return h('input', { type: 'text', name, value: value ?? '', autocomplete: 'off', ...attrs });
}

function secret(name, isSet) {
  return h('input', { type: 'password', name, autocomplete: 'new-password', placeholder: isSet ? t('msg.secret_set') : t('msg.secret_none') });
}

function settingsForm(s, rerender) {
  const sms = s.sms || { provider: 'log' };
  const email = s.email || { provider: 'log' };
  const smsBox = h(
    'div',
    { class: 'provider-fields', dataset: { testid: 'sms-http' } },
    field({ name: 'sms.url', id: 'msg-sms-url', label: t('msg.sms_url'), control: input('sms_url', sms.url, { type: 'url', inputmode: 'url', placeholder: 'https://' }) }),
    field({ name: 'sms.auth_header', id: 'msg-sms-header', label: t('msg.sms_header'), hint: t('msg.sms_header_hint'), control: input('sms_header', sms.auth_header) }),
    field({ name: 'sms.auth_value', id: 'msg-sms-value', label: t('msg.sms_value'), control: secret('sms_value', sms.auth_value_set) }),
    field({
      name: 'sms.body',
      id: 'msg-sms-body',
      label: t('msg.sms_body'),
      hint: t('msg.sms_body_hint'),
      control: h('textarea', { name: 'sms_body', rows: 4, spellcheck: 'false', class: 'mono' }, JSON.stringify(sms.body || { to: '{phone}', content: '{text}' }, null, 2)),
    }),
  );
  const mailBox = h(
    'div',
    { class: 'provider-fields', dataset: { testid: 'email-smtp' } },
    field({ name: 'email.host', id: 'msg-mail-host', label: t('msg.mail_host'), control: input('mail_host', email.host) }),
    field({ name: 'email.port', id: 'msg-mail-port', label: t('msg.mail_port'), control: input('mail_port', email.port ?? 587, { inputmode: 'numeric' }) }),
    field({
      name: 'email.security',
      id: 'msg-mail-security',
      label: t('msg.mail_security'),
      control: select('mail_security', 'msg-mail-security', ['starttls', 'tls', 'none'].map((v) => [v, t(`msg.sec.${v}`)]), email.security || 'starttls'),
    }),
    field({ name: 'email.username', id: 'msg-mail-user', label: t('msg.mail_user'), control: input('mail_user', email.username) }),
    field({ name: 'email.password', id: 'msg-mail-password', label: t('msg.mail_password'), control: secret('mail_password', email.password_set) }),
    field({ name: 'email.from', id: 'msg-mail-from', label: t('msg.mail_from'), hint: t('msg.mail_from_hint'), control: input('mail_from', email.from) }),
  );
  const smsProvider = select('sms_provider', 'msg-sms-provider', ['log', 'http', 'off'].map((v) => [v, t(`msg.p.${v}`)]), sms.provider);
  const mailProvider = select('mail_provider', 'msg-mail-provider', ['log', 'smtp', 'off'].map((v) => [v, t(`msg.p.${v}`)]), email.provider);
  const sync = () => {
    smsBox.hidden = smsProvider.value !== 'http';
    mailBox.hidden = mailProvider.value !== 'smtp';
  };
  smsProvider.addEventListener('change', sync);
  mailProvider.addEventListener('change', sync);
  sync();
  const templates = PURPOSES.map((p) =>
    field({
      name: `templates.${p}`,
      id: `msg-tpl-${p}`,
      label: t(`msg.tpl.${p}`),
      hint: t('msg.tpl_hint', { list: (s.placeholders?.[p] || []).map((x) => `{${x}}`).join(' ') }),
      control: h('textarea', { name: `tpl_${p}`, rows: 3 }, s.templates?.[p] || ''),
    }),
  );
  const form = h(
    'form',
    { class: 'admin-form', novalidate: true, dataset: { testid: 'messages-settings' } },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    h('fieldset', {}, h('legend', {}, t('msg.sms')), field({ name: 'sms.provider', id: 'msg-sms-provider', label: t('msg.provider'), control: smsProvider }), smsBox),
    h('fieldset', {}, h('legend', {}, t('msg.email')), field({ name: 'email.provider', id: 'msg-mail-provider', label: t('msg.provider'), control: mailProvider }), mailBox),
    h('fieldset', {}, h('legend', {}, t('msg.templates')), templates),
    h('p', { class: 'hint' }, t('msg.log_hint')),
    h('button', { type: 'submit', class: 'primary' }, t('msg.save')),
  );
  clearOnInput(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const f = form.elements;
    const value = (/** @type {string} */ n) => /** @type {HTMLInputElement} */ (f.namedItem(n)).value.trim();
    /** @type {Record<string, any>} */
    const body = { templates: {} };
    const smsKind = value('sms_provider');
    body.sms = { provider: smsKind };
    try {
      if (smsKind === 'http') {
        let parsed;
        try {
          parsed = JSON.parse(value('sms_body'));
        } catch {
          throw new ApiError({ status: 422, code: 'invalid_field', field: 'sms.body', message: t('msg.err.body_json') });
        }
        body.sms = { provider: 'http', url: value('sms_url'), auth_header: value('sms_header') || null, body: parsed };
        if (value('sms_value')) body.sms.auth_value = value('sms_value');
      }
      const mailKind = value('mail_provider');
      body.email = { provider: mailKind };
      if (mailKind === 'smtp') {
        body.email = {
          provider: 'smtp',
          host: value('mail_host'),
          port: Number(value('mail_port')) || 0,
          security: value('mail_security'),
          username: value('mail_user') || null,
          from: value('mail_from'),
        };
        if (value('mail_password')) body.email.password = value('mail_password');
      }
      for (const p of PURPOSES) body.templates[p] = value(`tpl_${p}`);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await api('/api/v1/admin/messages/settings', { method: 'PUT', body });
      } finally {
        button.disabled = false;
      }
      rerender(t('msg.saved'));
    } catch (err) {
      showError(form, localise(err));
    }
  });
  return form;
}

function outboxTable(rows, rerender) {
  if (!rows.length) return h('p', { class: 'empty', dataset: { testid: 'outbox-empty' } }, t('msg.outbox_empty'));
  return h(
    'table',
    { class: 'cases admin-table', dataset: { testid: 'outbox' } },
    h('thead', {}, h('tr', {}, ['msg.col.time', 'msg.col.purpose', 'msg.col.to', 'msg.col.case', 'msg.col.status', 'msg.col.text', 'msg.col.action'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h(
      'tbody',
      {},
      rows.map((m) => {
        let action = null;
        if (m.status === 'dead' && m.purpose !== 'code') {
          action = h('button', { type: 'button', class: 'secondary small' }, t('msg.resend'));
          action.addEventListener('click', async () => {
            action.disabled = true;
            try {
              await api(`/api/v1/admin/messages/outbox/${encodeURIComponent(m.id)}/resend`, { method: 'POST', body: {} });
              rerender(t('msg.resent'));
            } catch (err) {
              action.disabled = false;
              announce(String(err.message || err));
            }
          });
        }
        const status = h('span', { class: `badge msg-${m.status}` }, t(`msg.st.${m.status}`));
        const detail = [status, m.attempts ? h('span', { class: 'hint' }, ` ${t('msg.attempts', { n: m.attempts })}`) : null];
        if (m.last_error && m.status !== 'delivered') detail.push(h('br'), h('span', { class: 'field-error' }, m.last_error));
        if (m.status === 'pending' && m.failures) detail.push(h('br'), h('span', { class: 'hint' }, t('msg.next'), ' ', timeEl(m.next_attempt_at)));
        return h(
          'tr',
          { class: m.status === 'dead' ? 'overdue' : '', dataset: { testid: `outbox-${m.status}` } },
          h('td', { 'data-label': t('msg.col.time') }, timeEl(m.created_at)),
          h('td', { 'data-label': t('msg.col.purpose') }, t(`msg.purpose.${m.purpose}`), h('br'), h('span', { class: 'hint' }, t(`msg.ch.${m.channel}`), m.provider ? ` · ${t(`msg.p.${m.provider}`)}` : '')),
          h('td', { 'data-label': t('msg.col.to') }, m.recipient),
          h('td', { 'data-label': t('msg.col.case') }, m.case_id ? h('a', { href: `#/case/${encodeURIComponent(m.case_id)}` }, m.case_number) : '—'),
          h('td', { 'data-label': t('msg.col.status') }, detail),
          h('td', { 'data-label': t('msg.col.text'), class: 'msg-text' }, m.body || '—'),
          h('td', {}, action),
        );
      }),
    ),
  );
}

/** Renders the message page into `root` (`page` is admin.js's page frame). */
export async function renderMessages(root, rerender, message, page, params) {
  const statusFilter = params?.get('status') || '';
  const q = statusFilter ? `?status=${encodeURIComponent(statusFilter)}&limit=100` : '?limit=100';
  const [settings, health, rows] = await Promise.all([
    api('/api/v1/admin/messages/settings'),
    api('/api/v1/admin/messages/health'),
    api(`/api/v1/admin/messages/outbox${q}`),
  ]);
  const filter = select('status', 'msg-filter', [['', t('msg.st.all')], ['pending', t('msg.st.pending')], ['delivered', t('msg.st.delivered')], ['dead', t('msg.st.dead')]], statusFilter);
  filter.addEventListener('change', () => rerender(null, filter.value ? `status=${filter.value}` : ''));
  page(
    root,
    'nav.admin_messages',
    message ? h('p', { class: 'notice', role: 'status', dataset: { testid: 'admin-done' } }, message) : null,
    healthBanner(health),
    h('p', { class: 'hint' }, t('msg.intro')),
    h('h3', {}, t('msg.outbox')),
    h('div', { class: 'row msg-filter' }, h('label', { for: 'msg-filter' }, t('msg.filter')), filter),
    outboxTable(rows, rerender),
    h('h3', {}, t('msg.channels')),
    settingsForm(settings, rerender),
  );
  if (message) announce(message);
}
