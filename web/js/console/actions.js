// One action on a case as a form: the fields the rule table requires for it (the server
// checks them again and names any missing one), an optional note, a reply for the
// citizen and photos; posted with the case's version. Also the row shortcuts a work
// list offers (never a destructive one: 作废 and the like only inside the case).

import { t } from '../i18n.js';
import { h, api, showError, clearErrors, clearOnInput, ApiError } from '../common.js';
import { photoPicker, uploadPhoto } from '../photos.js';
import { ctx, actionName, fieldBox } from './ctx.js';
import { categoryPicker } from './category.js';

/**
 * The fields each action needs, as the rule table says (the server checks them again;
 * a missing one comes back as a 422 naming the field, shown next to it).
 */
export const ACTION_FIELDS = {
  void: ['reason'],
  return: ['reason'],
  roll_back: ['reason'],
  check_fail: ['reason'],
  refuse_extension: ['reason'],
  suspend: ['reason'],
  dispatch: ['unit_id'],
  request_extension: ['extension', 'reason'],
  report_back: ['note', 'attachments'],
  callback: ['satisfaction'],
  not_true: ['reason', 'attachments'],
  redispatch: ['unit_id', 'reason'],
  merge: ['merge_into', 'reason'],
  supervise: ['reason'],
  assist_add: ['unit_id', 'note'],
  assist_report: ['note'],
  assist_return: ['reason'],
  assist_release: ['unit_id', 'reason'],
  assist_extend: ['unit_id', 'extension', 'reason'],
};
/** Co-handling actions (协办): internal between units, so no reply for the citizen. */
const ASSIST = new Set(['assist_add', 'assist_report', 'assist_return', 'assist_release', 'assist_extend']);
/** The call-back (回访) results an operator may record, in the order a call goes. */
export const SATISFACTIONS = ['satisfied', 'basically_satisfied', 'unsatisfied', 'unreached'];
export const DANGEROUS = new Set(['void', 'return', 'roll_back', 'check_fail', 'refuse_extension', 'suspend', 'not_true', 'merge', 'assist_return']);
/** Actions that end the case: the first press with the form filled asks again. */
const ENDS_CASE = new Set(['void', 'not_true', 'merge']);
/** What a citizen may be told when a case is not taken up (the reason itself stays internal). */
export const PUBLIC_REASONS = ['other', 'duplicate', 'not_found_on_site', 'not_urban_management', 'outside_district', 'insufficient_information'];

/**
 * Quick actions offered in a work list's rows, by state and role. A shortcut only: the
 * case shows the server's `allowed_actions`, and the server refuses anything else with a
 * message shown in the row. Destructive actions (void, roll back) are not here: they
 * are taken inside the case, with a reason and a confirmation.
 */
export const ROW_ACTIONS = {
  received: [['accept', ['operator', 'supervisor']]],
  to_verify: [['confirm', ['inspector']]],
  to_register: [['register', ['operator', 'supervisor']]],
  to_dispatch: [['dispatch', ['dispatcher', 'supervisor']]],
};

let formSeq = 0;

/**
 * The form of one action on case `c`: the fields the action requires (and an optional
 * note), a confirm and a cancel button. Posts with the case's version; every failure is
 * shown next to the field the server names. `mergeInto`: the master's number to start a
 * merge with; `duplicates`: the open cases nearby offered as masters.
 * @param {string} action
 * @param {any} c
 * @param {{ onDone: (updated: any) => any, onCancel?: () => void, mergeInto?: string, duplicates?: any[] }} opts
 */
export function actionForm(action, c, { onDone, onCancel, mergeInto = '', duplicates = [] }) {
  const n = ++formSeq;
  const id = (f) => `act-${n}-${f}`;
  const needs = ACTION_FIELDS[action] || [];
  const form = h('form', { class: 'action-form', novalidate: true, dataset: { action } });
  form.append(h('h4', {}, `${actionName(action)} · ${c.number}`));
  form.append(h('p', { class: 'form-error', role: 'alert', hidden: true }));

  if (needs.includes('unit_id') && ASSIST.has(action)) {
    // 协办: a new assisting unit is neither the lead nor already assisting; release and
    // extension name one whose part is open.
    const assists = /** @type {any[]} */ (c.assists || []);
    const open = assists.filter((a) => a.state === 'open');
    const busy = new Set(assists.filter((a) => a.state === 'open' || a.state === 'reported').map((a) => a.unit.id));
    const choices =
      action === 'assist_add'
        ? ctx.units.filter((u) => u.active !== false && u.kind !== 'command' && u.id !== c.unit?.id && !busy.has(u.id))
        : open.map((a) => ({ id: a.unit.id, name: a.unit.name }));
    const sel = h(
      'select',
      { name: 'unit_id' },
      action === 'assist_add' || open.length !== 1 ? h('option', { value: '' }, t('act.unit_pick')) : null,
      choices.map((u) => h('option', { value: u.id }, u.name)),
    );
    form.append(fieldBox('unit_id', id('unit'), action === 'assist_add' ? t('act.assist_unit') : t('act.assist_open_unit'), sel));
    if (action === 'assist_add') form.append(h('p', { class: 'hint' }, t('act.assist_hint')));
  } else if (needs.includes('unit_id')) {
    // 改派 goes to another unit than the one holding the case: nothing is preselected.
    const current = action === 'redispatch' ? c.unit?.id : null;
    const suggested = action === 'redispatch' ? null : c.suggested_unit?.id || c.unit?.id;
    const opt = (u) =>
      h('option', { value: u.id, selected: u.id === suggested }, `${u.name}${u.id === suggested ? ` ${t('act.suggested')}` : ''}`);
    const sel = h(
      'select',
      { name: 'unit_id' },
      h('option', { value: '' }, t('act.unit_pick')),
      ['department', 'street'].map((kind) =>
        h('optgroup', { label: t(`unitkind.${kind}`) }, ctx.units.filter((u) => u.kind === kind && u.active !== false && u.id !== current).map(opt)),
      ),
    );
    form.append(fieldBox('unit_id', id('unit'), action === 'redispatch' ? t('act.redispatch_unit', { unit: c.unit?.name || '' }) : t('act.unit'), sel));
  }
  // 立案: the operator may correct the category (the case is re-routed) and set the urgency.
  /** @type {any} */
  let recat = null;
  if (action === 'register') {
    recat = categoryPicker({ id: id('recat') });
    const label = recat.querySelector('label');
    if (label) label.textContent = t('act.recategorise', { name: c.category?.name || c.category?.code || '' });
    form.append(recat);
    form.append(
      fieldBox(
        'priority',
        id('priority'),
        t('act.priority'),
        h('select', { name: 'priority' }, ['normal', 'urgent'].map((p) => h('option', { value: p, selected: p === c.priority }, t(`priority.${p}`)))),
      ),
    );
  }
  if (needs.includes('merge_into')) {
    const list = id('masters');
    const input = h('input', { type: 'text', name: 'merge_into', value: mergeInto, list, autocomplete: 'off', inputmode: 'numeric', placeholder: t('act.merge_into_placeholder') });
    form.append(
      fieldBox('merge_into', id('merge-into'), t('act.merge_into'), input, t('act.merge_into_hint')),
      h('datalist', { id: list }, duplicates.filter((d) => d.id !== c.id).map((d) => h('option', { value: d.number }, `${d.number} · ${Math.round(d.distance_m)} m`))),
    );
  }
  if (action === 'not_true') form.append(h('p', { class: 'hint' }, t('act.not_true_hint')));
  if (action === 'supervise') form.append(h('p', { class: 'hint' }, t('act.supervise_hint', { unit: c.unit?.name || '' })));
  if (needs.includes('extension')) {
    const amount = h('input', { type: 'number', name: 'extension_amount', min: '1', step: '1', inputmode: 'numeric', value: '1', id: id('ext-amount'), 'aria-label': `${t('act.extension')} · ${t('act.extension_amount')}` });
    const unit = h(
      'select',
      { name: 'extension_unit', id: id('ext-unit'), 'aria-label': `${t('act.extension')} · ${t('act.extension_unit')}` },
      ['工作日', '工作时', '自然日', '小时'].map((u) => h('option', { value: u }, t(`ext.${u}`))),
    );
    form.append(
      h(
        'fieldset',
        { class: 'field', dataset: { field: 'extension' } },
        h('legend', {}, t('act.extension')),
        h('div', { class: 'ext-row' }, amount, unit),
        h('p', { class: 'field-error', id: `${id('ext-amount')}-error`, hidden: true, 'aria-live': 'polite' }),
      ),
    );
  }
  if (needs.includes('satisfaction')) {
    const sel = h(
      'select',
      { name: 'satisfaction', 'aria-describedby': id('sat-hint') },
      h('option', { value: '' }, t('sat.pick')),
      SATISFACTIONS.map((v) => h('option', { value: v }, t(`sat.${v}`))),
    );
    const box = fieldBox('satisfaction', id('sat'), t('act.satisfaction'), sel);
    box.insertBefore(h('p', { class: 'hint', id: id('sat-hint') }, t('act.callback_hint')), box.lastChild);
    form.append(box);
    form.append(fieldBox('reason', id('reason'), t('act.callback_reason'), h('textarea', { name: 'reason', rows: 2, maxlength: 500 })));
  }
  if (needs.includes('reason')) {
    const label = action === 'supervise' ? t('act.supervise_reason') : t('act.reason');
    form.append(fieldBox('reason', id('reason'), label, h('textarea', { name: 'reason', rows: 2, maxlength: 500 })));
  }
  if (action === 'void') {
    form.append(
      fieldBox(
        'public_reason',
        id('public-reason'),
        t('act.public_reason'),
        h('select', { name: 'public_reason' }, PUBLIC_REASONS.map((r) => h('option', { value: r }, t(`preason.${r}`)))),
      ),
    );
  }
  form.append(
    fieldBox(
      'note',
      id('note'),
      action === 'assist_add' ? t('act.assist_task') : action === 'assist_report' ? t('act.assist_report_note') : needs.includes('note') ? t('act.note_required') : t('act.note'),
      h('textarea', { name: 'note', rows: 2, maxlength: 2000 }),
    ),
  );
  const reply = fieldBox(
    'public_reply',
    id('public-reply'),
    t('act.public_reply'),
    h('textarea', { name: 'public_reply', rows: 2, maxlength: 500, 'aria-describedby': id('public-reply-hint') }),
  );
  reply.insertBefore(h('p', { class: 'hint', id: id('public-reply-hint') }, t('act.public_reply_hint')), reply.lastChild);
  if (!ASSIST.has(action)) form.append(reply);
  // Photos: required for report-back (after photos), optional with any other action.
  const photos = photoPicker({
    id: id('att'),
    field: 'attachments',
    label: needs.includes('attachments') ? t('act.photos_required') : t('act.photos'),
    hint: t('act.photos_hint'),
  });
  form.append(photos);
  const submit = h(
    'button',
    { type: 'submit', class: DANGEROUS.has(action) ? 'danger' : 'primary', dataset: { confirm: action } },
    t('act.confirm_button', { action: actionName(action) }),
  );
  form.append(
    h(
      'div',
      { class: 'row' },
      submit,
      h('button', { type: 'button', class: 'secondary', onclick: () => onCancel && onCancel() }, t('act.cancel')),
    ),
  );
  clearOnInput(form);
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel && onCancel();
    }
  });
  // Voiding ends the case: once the reason is written, the first press asks again.
  const ask = h('p', { class: 'warning confirm-ask', role: 'alert', hidden: true, 'data-testid': 'confirm-ask' });
  submit.parentElement.before(ask);
  let asked = false;
  form.addEventListener('input', () => {
    asked = false;
    ask.hidden = true;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    /** @type {Record<string, any>} */
    const body = { action, version: c.version };
    const val = (/** @type {string} */ name) => form.elements[name]?.value?.trim() || '';
    if (ENDS_CASE.has(action) && val('reason') && !asked) {
      asked = true;
      ask.textContent = t(`act.${action}_confirm`, { number: c.number, master: val('merge_into') });
      ask.hidden = false;
      submit.textContent = t(`act.${action}_confirm_button`);
      submit.focus();
      return;
    }
    if (val('note')) body.note = val('note');
    if ((needs.includes('reason') || needs.includes('satisfaction')) && val('reason')) body.reason = val('reason');
    if (needs.includes('satisfaction') && val('satisfaction')) body.satisfaction = val('satisfaction');
    if (val('public_reply')) body.public_reply = val('public_reply');
    if (action === 'void' && val('public_reason')) body.public_reason = val('public_reason');
    if (needs.includes('unit_id') && val('unit_id')) body.unit_id = val('unit_id');
    if (needs.includes('extension') && val('extension_amount')) body.extension = `${val('extension_amount')}${val('extension_unit')}`;
    if (action === 'register') {
      const cat = recat?.value();
      if (cat && cat.code !== c.category?.code) body.category = { standard: cat.standard, kind: cat.kind, code: cat.code };
      if (val('priority') && val('priority') !== c.priority) body.priority = val('priority');
    }
    submit.disabled = true;
    try {
      // The master is typed or picked by its number; the API takes its id.
      if (needs.includes('merge_into') && val('merge_into')) {
        const typed = val('merge_into');
        const known = duplicates.find((d) => d.number === typed || d.id === typed);
        if (known) body.merge_into = known.id;
        else {
          try {
            body.merge_into = (await api(`/api/v1/cases/by-number/${encodeURIComponent(typed)}`)).id;
          } catch (err) {
            if (!(err instanceof ApiError) || err.status !== 404) throw err;
            throw new ApiError({ status: 422, code: 'invalid_field', field: 'merge_into', message: `merge_into: ${t('act.merge_into_unknown', { n: typed })}` });
          }
        }
      }
      const files = photos.files();
      if (files.length) {
        body.attachments = [];
        for (const f of files) body.attachments.push((await uploadPhoto(f)).id);
      }
      const updated = await api(`/api/v1/cases/${encodeURIComponent(c.id)}/actions`, { method: 'POST', body });
      await onDone(updated);
    } catch (err) {
      showError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

