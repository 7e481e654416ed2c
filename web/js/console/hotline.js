// The 12345 work order on a case page (issue 18): for a case the city hotline platform
// pushed (GET /api/v1/cases/{id}/hotline), its 工单号, the platform's own deadline in
// natural days (a second clock beside cityloop's working-time one), what the operator must
// check (an unmapped 诉求类型, an address that could not be placed), the bridge's record of
// the platform's calls (催办, 撤单, 补充材料) and every call back to the platform (签收,
// 退回, 阶段答复, 办结) with its delivery state, and the 阶段答复 form. Cases that did not
// come through the bridge show nothing.

import { t, extend } from '../i18n.js';
import { h, fill, timeEl, api, describe, showError, clearErrors, field, announce, ApiError } from '../common.js';
import { ctx } from './ctx.js';

extend(
  {
    'hl.heading': '12345 工单',
    'hl.ticket': '工单号',
    'hl.kind': '诉求类型',
    'hl.deadline': '平台时限',
    'hl.by': '{day} 24:00 前',
    'hl.left': '（按自然日，还剩 {n} 天）',
    'hl.today': '（按自然日，今天到期）',
    'hl.over': '（按自然日，已超过 {n} 天）',
    'hl.unmapped': '诉求类型没有对应的案件类别，已先按默认类别登记，立案时请确认类别。',
    'hl.unplaced': '工单没有坐标，地址也没能在辖区内定位，案件暂放在受理点，请核实位置。',
    'hl.withdrawn': '平台已于 {at} 撤单。',
    'hl.history': '与平台往来',
    'hl.none': '暂无往来记录。',
    'hl.log.received': '收到工单',
    'hl.log.updated': '工单内容更新',
    'hl.log.urged': '平台催办',
    'hl.log.withdrawn': '平台撤单',
    'hl.log.supplemented': '平台补充材料',
    'hl.log.progress': '阶段答复',
    'hl.out.hotline.signed': '回传签收',
    'hl.out.hotline.returned': '回传退回',
    'hl.out.hotline.progress': '回传阶段答复',
    'hl.out.hotline.closed': '回传办结',
    'hl.st.delivered': '已送达',
    'hl.st.pending': '待发送',
    'hl.st.retrying': '发送失败，第 {n} 次重试中',
    'hl.st.dead': '多次发送失败，已停止',
    'hl.progress': '阶段答复',
    'hl.progress_hint': '向 12345 平台说明目前的办理进展，平台会转告来电人。',
    'hl.send': '发送阶段答复',
    'hl.sent': '阶段答复已记录，正在发送给平台。',
  },
  {
    'hl.heading': '12345 work order',
    'hl.ticket': 'Work order no.',
    'hl.kind': 'Request type',
    'hl.deadline': 'Platform deadline',
    'hl.by': 'by the end of {day}',
    'hl.left': ' (calendar days, {n} left)',
    'hl.today': ' (calendar days, due today)',
    'hl.over': ' (calendar days, {n} over)',
    'hl.unmapped': 'The request type maps to no category; a default was used. Confirm the category at registration.',
    'hl.unplaced': 'The order had no coordinates and its address could not be placed; the case sits at the intake point. Check the location.',
    'hl.withdrawn': 'The platform withdrew the order on {at}.',
    'hl.history': 'Exchanges with the platform',
    'hl.none': 'No exchanges yet.',
    'hl.log.received': 'Order received',
    'hl.log.updated': 'Order updated',
    'hl.log.urged': 'Platform urged',
    'hl.log.withdrawn': 'Platform withdrew',
    'hl.log.supplemented': 'Platform added material',
    'hl.log.progress': 'Interim reply',
    'hl.out.hotline.signed': 'Receipt sent',
    'hl.out.hotline.returned': 'Return sent',
    'hl.out.hotline.progress': 'Interim reply sent',
    'hl.out.hotline.closed': 'Completion sent',
    'hl.st.delivered': 'delivered',
    'hl.st.pending': 'waiting to send',
    'hl.st.retrying': 'failed, retry {n}',
    'hl.st.dead': 'failed repeatedly, stopped',
    'hl.progress': 'Interim reply',
    'hl.progress_hint': 'Tell the 12345 platform how the case is going; it passes this on to the caller.',
    'hl.send': 'Send interim reply',
    'hl.sent': 'Interim reply recorded and being sent to the platform.',
  },
);

/** Roles that may send an interim reply (the server checks it again). */
const REPLIERS = ['operator', 'supervisor', 'dispatcher', 'handler'];
const DAY_MS = 86_400_000;

/** A Beijing-time calendar day (`2026-12-05`) of an instant. @param {number} ms */
const beijingDay = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);

/**
 * The platform's deadline: the last natural day it allows (the deadline instant is the
 * end of that day, Beijing time) and how many days are left counted from today.
 * @param {string} iso
 */
function deadlineEl(iso) {
  const last = beijingDay(Date.parse(iso) - 1);
  const days = Math.round((Date.parse(last) - Date.parse(beijingDay(Date.now()))) / DAY_MS);
  const note = days > 0 ? h('span', { class: 'muted' }, t('hl.left', { n: days }))
    : days === 0 ? h('span', { class: 'warn' }, t('hl.today'))
      : h('strong', { class: 'overdue' }, t('hl.over', { n: -days }));
  return [h('time', { datetime: iso }, t('hl.by', { day: last })), note];
}

/** @param {any} l one line of the bridge's log */
function logLine(l) {
  const b = l.body || {};
  const said = b.text || b.reason || (Array.isArray(b.changed) && b.changed.length ? b.changed.join('、') : '');
  return h('li', { dataset: { kind: l.kind } }, timeEl(l.at), ' ', h('strong', {}, t(`hl.log.${l.kind}`)), said ? `：${said}` : '');
}

/** @param {any} d one call back to the platform */
function outLine(d) {
  const state = d.status === 'delivered' ? t('hl.st.delivered')
    : d.status === 'dead' ? t('hl.st.dead')
      : d.attempts > 0 ? t('hl.st.retrying', { n: d.attempts }) : t('hl.st.pending');
  const cls = d.status === 'delivered' ? 'badge green' : d.status === 'dead' ? 'badge red' : 'badge';
  return h('li', { dataset: { event: d.event_type, status: d.status } }, timeEl(d.created_at), ' ', h('strong', {}, t(`hl.out.${d.event_type}`)), ' ', h('span', { class: cls }, state));
}

/**
 * Fills `box` with the case's work order, or leaves it empty for a case that did not come
 * through the bridge.
 * @param {HTMLElement} box
 * @param {any} c the case
 */
export async function renderHotline(box, c) {
  if (c.source !== 'hotline_12345' || !c.external_ref) return;
  let v;
  try {
    v = await api(`/api/v1/cases/${encodeURIComponent(c.id)}/hotline`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return;
    fill(box, h('section', { class: 'card-box' }, h('p', { class: 'form-error', role: 'alert' }, describe(e))));
    return;
  }
  const kind = v.order && typeof v.order.kind === 'string' ? v.order.kind : '';
  const parts = [
    h('h3', { id: 'hotline-heading' }, t('hl.heading')),
    h('dl', { class: 'kv' },
      h('dt', {}, t('hl.ticket')), h('dd', { 'data-testid': 'hotline-ticket' }, v.ticket_no),
      kind ? [h('dt', {}, t('hl.kind')), h('dd', {}, kind)] : null,
      v.platform_deadline
        ? [h('dt', {}, t('hl.deadline')), h('dd', { 'data-testid': 'hotline-deadline' }, deadlineEl(v.platform_deadline))]
        : null),
  ];
  if (!v.category_mapped) parts.push(h('p', { class: 'flag-marked', role: 'note' }, t('hl.unmapped')));
  if (!v.placed) parts.push(h('p', { class: 'flag-marked', role: 'note' }, t('hl.unplaced')));
  if (v.withdrawn_at) parts.push(h('p', { class: 'flag-marked', role: 'note' }, t('hl.withdrawn', { at: timeEl(v.withdrawn_at).textContent })));
  const lines = [
    ...v.log.map((/** @type {any} */ l) => ({ at: l.at, el: logLine(l) })),
    ...v.outbound.map((/** @type {any} */ d) => ({ at: d.created_at, el: outLine(d) })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  parts.push(h('h4', {}, t('hl.history')));
  parts.push(lines.length ? h('ul', { class: 'hotline-log', 'data-testid': 'hotline-log' }, lines.map((x) => x.el)) : h('p', { class: 'muted' }, t('hl.none')));
  const open = !['closed', 'voided'].includes(c.state);
  if (open && REPLIERS.includes(ctx.user?.role || '')) parts.push(progressForm(box, c));
  fill(box, h('section', { class: 'card-box', 'aria-labelledby': 'hotline-heading', 'data-testid': 'hotline' }, parts));
}

/** The 阶段答复 form. @param {HTMLElement} box @param {any} c */
function progressForm(box, c) {
  const text = h('textarea', { rows: 3, maxlength: 4000, name: 'text' });
  const form = h('form', { class: 'hotline-progress', novalidate: true, 'data-testid': 'hotline-progress' },
    field({ name: 'text', id: 'hotline-progress-text', label: t('hl.progress'), hint: t('hl.progress_hint'), control: text }),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    h('button', { type: 'submit', class: 'primary' }, t('hl.send')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await api(`/api/v1/cases/${encodeURIComponent(c.id)}/hotline/progress`, { method: 'POST', body: { text: /** @type {HTMLTextAreaElement} */ (text).value } });
      announce(t('hl.sent'));
      await renderHotline(box, c);
    } catch (err) {
      showError(form, err);
    }
  });
  return form;
}
