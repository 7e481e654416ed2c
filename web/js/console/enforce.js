// Enforcement on the console (issue 20): on the case page, the case's party (当事人) with
// its 黑名单 mark (the rule that put it there and when it expires), naming the party
// (search or create), the case's enforcement records (执法记录) with their steps, documents
// and statutory clocks, and for 城管执法 the step form — by default the on-the-spot
// penalty (简易程序), phone-first. Also the party page (#/party/ID) and the party search
// (#/parties). The procedure's rules are the server's; this module shows what it answers.

import { t, extend, lang } from '../i18n.js';
import { h, fill, timeEl, api, describe, showError, clearErrors, clearOnInput, field, announce, ApiError } from '../common.js';
import { ctx, lightEl } from './ctx.js';

extend(
  {
    'enf.heading': '当事人与执法',
    'enf.no_party': '尚未指定当事人。',
    'enf.party': '当事人',
    'enf.party_page': '当事人页面',
    'enf.flagged': '黑名单',
    'enf.flag_rule': '{days}天内处罚{p}次或案件{e}次即列入；本次：{hits}；{until}解除',
    'enf.flag_rule_default': '（规则为系统预设示例，不是法规规定，请区里自行设定）',
    'enf.hit.penalties': '处罚{n}次',
    'enf.hit.episodes': '案件{n}件',
    'enf.flag_marked': '注意：该当事人已列入黑名单，请受理员重点关注此案。',
    'enf.set_party': '指定当事人',
    'enf.search': '按名称或统一社会信用代码查找',
    'enf.search_go': '查找',
    'enf.pick': '选定',
    'enf.none_found': '没有找到，可在下方新建。',
    'enf.new_party': '新建当事人',
    'enf.kind': '类型',
    'enf.kind.person': '自然人',
    'enf.kind.organisation': '单位',
    'enf.name': '名称或姓名',
    'enf.credit_code': '统一社会信用代码',
    'enf.credit_code_hint': '单位必填，18位，系统校验最后一位校验码。',
    'enf.id_number': '身份证件号码',
    'enf.id_number_hint': '只有城管执法人员能看到完整号码。',
    'enf.create': '新建并指定',
    'enf.records': '执法记录',
    'enf.no_records': '暂无执法记录。',
    'enf.proc.general': '普通程序',
    'enf.proc.on_the_spot': '简易程序（当场处罚）',
    'enf.penalty.fine': '罚款',
    'enf.penalty.warning': '警告',
    'enf.amount': '{n}元',
    'enf.basis': '依据',
    'enf.dropped': '不予处罚',
    'enf.clocks': '法定时限',
    'enf.deadline': '截止',
    'enf.done': '完成于',
    'enf.unverified': '未核实',
    'enf.clock.decide': '作出决定',
    'enf.clock.hearing_request': '听证申请期',
    'enf.clock.serve': '送达',
    'enf.clock.pay': '缴纳罚款',
    'enf.steps': '步骤与文书',
    'enf.step.file': '立案',
    'enf.step.investigate': '调查取证',
    'enf.step.notify': '告知',
    'enf.step.statement': '陈述申辩',
    'enf.step.request_hearing': '听证申请',
    'enf.step.hold_hearing': '举行听证',
    'enf.step.decide': '处罚决定',
    'enf.step.serve': '送达',
    'enf.step.execute': '执行',
    'enf.step.close': '结案',
    'enf.step.drop': '不予处罚',
    'enf.step.on_the_spot': '当场处罚',
    'enf.step.correct': '更正',
    'enf.state.filed': '立案',
    'enf.state.investigating': '调查取证',
    'enf.state.notified': '告知',
    'enf.state.hearing': '听证',
    'enf.state.decided': '决定',
    'enf.state.served': '送达',
    'enf.state.executed': '执行',
    'enf.state.closed': '结案',
    'enf.form.open': '记录当场处罚',
    'enf.form.file': '普通程序立案',
    'enf.form.next': '记录下一步',
    'enf.f.kind': '步骤',
    'enf.f.doc_no': '文书编号',
    'enf.f.article': '法律依据',
    'enf.f.article_pick': '请选择条款',
    'enf.f.penalty': '处罚种类',
    'enf.f.amount_yuan': '罚款金额（元）',
    'enf.f.amount_hint': '当场处罚：个人不超过200元，单位不超过3000元。',
    'enf.f.hearing_right': '当事人有权要求听证',
    'enf.f.note': '说明',
    'enf.f.corrects': '更正第几步',
    'enf.f.submit': '提交',
    'enf.saved': '已记录：{step}',
    'enf.parties': '当事人查询',
    'enf.party_cases': '涉及案件',
    'enf.case': '案件',
    'field.credit_code': '统一社会信用代码',
    'field.amount_yuan': '罚款金额',
    'field.article': '法律依据',
    'field.doc_no': '文书编号',
    'field.party_id': '当事人',
    'field.id_number': '身份证件号码',
    'role.enforcer': '城管执法',
    'enf.err.amount_yuan': '金额不在允许范围内：须在所选条款规定的幅度内，当场处罚个人不超过200元、单位不超过3000元',
    'enf.err.article': '请选择法律依据（法律法规条款）',
    'enf.err.doc_no': '请填写文书编号',
    'enf.err.note': '请填写说明',
    'enf.err.penalty': '所选条款不允许这种处罚',
    'enf.err.hearing_right': '请说明当事人是否有权要求听证',
    'enf.err.at': '时间不符合要求（不能晚于现在，也不能早于上一步）',
    'enf.err.kind': '当前阶段不能进行这一步',
    'enf.err.credit_code': '统一社会信用代码不正确：须为18位，且最后一位校验码要与前17位相符；单位不能重复登记',
    'enf.err.name': '请填写名称或姓名',
    'enf.err.party_id': '请先指定当事人',
    'enf.err.corrects': '请填写要更正的步骤序号（不能更正“更正”本身）',
  },
  {
    'enf.heading': 'Party and enforcement',
    'enf.no_party': 'No party named yet.',
    'enf.party': 'Party',
    'enf.party_page': 'Party page',
    'enf.flagged': 'Blacklisted',
    'enf.flag_rule': 'listed at {p} penalties or {e} cases within {days} days; now: {hits}; leaves the list {until}',
    'enf.flag_rule_default': '(the rule is an invented example default, not law: the district must set its own)',
    'enf.hit.penalties': '{n} penalties',
    'enf.hit.episodes': '{n} cases',
    'enf.flag_marked': 'Note: this party is blacklisted; the operator should watch this case.',
    'enf.set_party': 'Name the party',
    'enf.search': 'Search by name or credit code',
    'enf.search_go': 'Search',
    'enf.pick': 'Choose',
    'enf.none_found': 'Nothing found; create the party below.',
    'enf.new_party': 'New party',
    'enf.kind': 'Kind',
    'enf.kind.person': 'Person',
    'enf.kind.organisation': 'Organisation',
    'enf.name': 'Name',
    'enf.credit_code': 'Unified social credit code',
    'enf.credit_code_hint': 'Required for an organisation: 18 characters; the check character is verified.',
    'enf.id_number': 'ID number',
    'enf.id_number_hint': 'Only enforcement officers see the full number.',
    'enf.create': 'Create and name',
    'enf.records': 'Enforcement records',
    'enf.no_records': 'No enforcement records.',
    'enf.proc.general': 'General procedure',
    'enf.proc.on_the_spot': 'Simplified procedure (on the spot)',
    'enf.penalty.fine': 'Fine',
    'enf.penalty.warning': 'Warning',
    'enf.amount': '{n} yuan',
    'enf.basis': 'Basis',
    'enf.dropped': 'No penalty',
    'enf.clocks': 'Statutory time limits',
    'enf.deadline': 'due',
    'enf.done': 'done',
    'enf.unverified': 'unverified',
    'enf.clock.decide': 'Decision',
    'enf.clock.hearing_request': 'Hearing request period',
    'enf.clock.serve': 'Service',
    'enf.clock.pay': 'Payment',
    'enf.steps': 'Steps and documents',
    'enf.step.file': 'File',
    'enf.step.investigate': 'Investigate',
    'enf.step.notify': 'Notify',
    'enf.step.statement': 'Statement',
    'enf.step.request_hearing': 'Hearing request',
    'enf.step.hold_hearing': 'Hearing held',
    'enf.step.decide': 'Decision',
    'enf.step.serve': 'Service',
    'enf.step.execute': 'Execution',
    'enf.step.close': 'Close',
    'enf.step.drop': 'No penalty',
    'enf.step.on_the_spot': 'On-the-spot penalty',
    'enf.step.correct': 'Correction',
    'enf.state.filed': 'Filed',
    'enf.state.investigating': 'Investigating',
    'enf.state.notified': 'Notified',
    'enf.state.hearing': 'Hearing',
    'enf.state.decided': 'Decided',
    'enf.state.served': 'Served',
    'enf.state.executed': 'Executed',
    'enf.state.closed': 'Closed',
    'enf.form.open': 'Record an on-the-spot penalty',
    'enf.form.file': 'File (general procedure)',
    'enf.form.next': 'Record the next step',
    'enf.f.kind': 'Step',
    'enf.f.doc_no': 'Document number',
    'enf.f.article': 'Legal basis',
    'enf.f.article_pick': 'Choose an article',
    'enf.f.penalty': 'Penalty',
    'enf.f.amount_yuan': 'Fine (yuan)',
    'enf.f.amount_hint': 'On the spot: at most 200 yuan for a person, 3000 for an organisation.',
    'enf.f.hearing_right': 'The party may ask for a hearing',
    'enf.f.note': 'Note',
    'enf.f.corrects': 'Step to correct',
    'enf.f.submit': 'Submit',
    'enf.saved': 'Recorded: {step}',
    'enf.parties': 'Parties',
    'enf.party_cases': 'Cases',
    'enf.case': 'Case',
    'field.credit_code': 'credit code',
    'field.amount_yuan': 'fine',
    'field.article': 'legal basis',
    'field.doc_no': 'document number',
    'field.party_id': 'party',
    'field.id_number': 'ID number',
    'role.enforcer': 'Enforcement officer',
  },
);

/** Roles that name a case's party and create parties. */
const PARTY_WRITERS = ['enforcer', 'operator', 'dispatcher', 'supervisor'];

/** @type {any[] | null} */
let articles = null;

/**
 * On the Chinese page, a field error of these forms in Chinese (the server's messages are
 * English); the English page shows the server's message.
 * @param {any} err
 */
function localised(err) {
  if (lang() !== 'zh' || !(err instanceof ApiError) || !err.field) return err;
  const key = `enf.err.${err.field}`;
  const text = t(key);
  if (text === key) return err;
  return new ApiError({ status: err.status, code: err.status === 409 && err.field === 'kind' ? 'invalid_field' : err.code, message: `${err.field}: ${text}`, field: err.field });
}

async function lawArticles() {
  if (!articles) articles = (await api('/api/v1/law-articles')).items;
  return articles || [];
}

/** The label of an article: law and article, what it forbids, and 未核实 when unchecked. @param {any} a */
function articleLabel(a) {
  const mark = a.status === 'verified' ? '' : lang() === 'en' ? ` (${t('enf.unverified')})` : `（${t('enf.unverified')}）`;
  return `${a.law}${a.article}：${a.forbids}${mark}`;
}

/** @param {any} flag */
export function flagBadge(flag) {
  if (!flag?.flagged) return null;
  return h('span', { class: 'badge flag-black', 'data-testid': 'party-flag' }, t('enf.flagged'));
}

/** The rule and expiry of a flag. @param {any} flag */
function flagNote(flag) {
  const hits = flag.hits.map((x) => t(`enf.hit.${x.reason}`, { n: x.count })).join('、');
  const text = t('enf.flag_rule', {
    days: flag.rule.period_days,
    p: flag.rule.penalties || '–',
    e: flag.rule.episodes || '–',
    hits,
    until: new Date(flag.expires_at).toLocaleDateString(lang() === 'en' ? 'en' : 'zh-CN', { timeZone: 'Asia/Shanghai' }),
  });
  return h(
    'p',
    { class: 'flag-note', 'data-testid': 'flag-note' },
    flagBadge(flag),
    ' ',
    text,
    flag.rule_is_default ? h('span', { class: 'muted' }, ' ', t('enf.flag_rule_default')) : null,
  );
}

/** @param {any} p */
function partyLine(p) {
  const ident = p.credit_code || p.id_number;
  return h(
    'p',
    { 'data-testid': 'party' },
    h('strong', {}, p.name),
    ` · ${t(`enf.kind.${p.kind}`)}`,
    ident ? ` · ${ident}` : '',
    ' ',
    h('a', { href: `#/party/${encodeURIComponent(p.id)}` }, t('enf.party_page')),
  );
}

/** One record: procedure, state, penalty, clocks and steps. @param {any} r */
export function recordEl(r) {
  const penalty = r.dropped
    ? t('enf.dropped')
    : r.penalty
      ? [t(`enf.penalty.${r.penalty}`), r.amount_yuan != null ? ` ${t('enf.amount', { n: r.amount_yuan })}` : ''].join('')
      : '';
  const basis = r.article && articles ? articles.find((a) => a.code === r.article) : null;
  return h(
    'article',
    { class: 'enf-record', 'data-testid': 'enf-record', dataset: { state: r.state } },
    h(
      'p',
      { class: 'enf-head' },
      h('span', { class: 'badge' }, t(`enf.state.${r.state}`)),
      ` ${t(`enf.proc.${r.procedure}`)}`,
      penalty ? ` · ${penalty}` : '',
    ),
    basis ? h('p', { class: 'muted' }, `${t('enf.basis')}：${articleLabel(basis)}`) : null,
    r.clocks.length
      ? h(
          'ul',
          { class: 'enf-clocks', 'aria-label': t('enf.clocks') },
          r.clocks.map((/** @type {any} */ c) =>
            h(
              'li',
              { title: c.basis, dataset: { clock: c.kind } },
              lightEl(c.light),
              ` ${t(`enf.clock.${c.kind}`)} ${c.limit} · `,
              c.done_at ? [t('enf.done'), ' ', timeEl(c.done_at)] : [t('enf.deadline'), ' ', timeEl(c.deadline)],
              c.status === 'verified' ? '' : h('span', { class: 'muted' }, ` ${t('enf.unverified')}`),
            ),
          ),
        )
      : null,
    h(
      'ol',
      { class: 'enf-steps', 'aria-label': t('enf.steps') },
      r.steps.map((/** @type {any} */ s) =>
        h(
          'li',
          { dataset: { kind: s.kind } },
          h('strong', {}, t(`enf.step.${s.kind}`)),
          s.doc_no ? ` · ${s.doc_no}` : '',
          ' · ',
          timeEl(s.at),
          s.note ? h('span', { class: 'muted' }, ` · ${s.note}`) : null,
        ),
      ),
    ),
  );
}

/**
 * The step form. `record` null opens a record (on the spot by default, or 立案).
 * @param {string} caseId
 * @param {any} record
 * @param {() => void} done
 */
async function stepForm(caseId, record, done) {
  const kinds = record ? [...record.next, 'correct'] : ['on_the_spot', 'file'];
  const arts = await lawArticles();
  const kind = h('select', { name: 'kind' }, kinds.map((k) => h('option', { value: k }, t(`enf.step.${k}`))));
  const doc = h('input', { name: 'doc_no', autocomplete: 'off', maxlength: '64' });
  const article = h(
    'select',
    { name: 'article' },
    h('option', { value: '' }, t('enf.f.article_pick')),
    arts.map((a) => h('option', { value: a.code }, articleLabel(a))),
  );
  const penalty = h('select', { name: 'penalty' }, ['fine', 'warning'].map((p) => h('option', { value: p }, t(`enf.penalty.${p}`))));
  const amount = h('input', { name: 'amount_yuan', type: 'number', inputmode: 'numeric', min: '0', step: '1' });
  const hearing = h('input', { name: 'hearing_right', type: 'checkbox' });
  const note = h('textarea', { name: 'note', rows: '2', maxlength: '2000' });
  const corrects = h('input', { name: 'corrects', type: 'number', inputmode: 'numeric', min: '1' });
  const pre = record ? `enf-${record.id.slice(-6)}` : 'enf-new';
  const rows = {
    doc_no: field({ name: 'doc_no', id: `${pre}-doc`, label: t('enf.f.doc_no'), control: doc }),
    article: field({ name: 'article', id: `${pre}-article`, label: t('enf.f.article'), control: article }),
    penalty: field({ name: 'penalty', id: `${pre}-penalty`, label: t('enf.f.penalty'), control: penalty }),
    amount_yuan: field({ name: 'amount_yuan', id: `${pre}-amount`, label: t('enf.f.amount_yuan'), control: amount, hint: t('enf.f.amount_hint') }),
    hearing_right: h('div', { class: 'field check', dataset: { field: 'hearing_right' } }, h('label', {}, hearing, ' ', t('enf.f.hearing_right')), h('p', { class: 'field-error', hidden: true })),
    note: field({ name: 'note', id: `${pre}-note`, label: t('enf.f.note'), control: note }),
    corrects: field({ name: 'corrects', id: `${pre}-corrects`, label: t('enf.f.corrects'), control: corrects }),
  };
  /** Which rows a step shows. */
  const SHOWN = {
    on_the_spot: ['doc_no', 'article', 'penalty', 'amount_yuan', 'note'],
    decide: ['doc_no', 'article', 'penalty', 'amount_yuan', 'note'],
    notify: ['doc_no', 'hearing_right', 'note'],
    statement: ['note'],
    request_hearing: ['note'],
    drop: ['note'],
    correct: ['corrects', 'doc_no', 'amount_yuan', 'note'],
  };
  const show = () => {
    const wanted = SHOWN[/** @type {keyof typeof SHOWN} */ (kind.value)] || ['doc_no', 'note'];
    for (const [k, el] of Object.entries(rows)) el.hidden = !wanted.includes(k);
  };
  kind.addEventListener('change', show);
  const form = h(
    'form',
    { class: 'enf-form', novalidate: true, 'data-testid': record ? 'enf-next-form' : 'enf-open-form' },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ name: 'kind', id: `${pre}-kind`, label: t('enf.f.kind'), control: kind }),
    Object.values(rows),
    h('button', { type: 'submit', class: 'primary' }, t('enf.f.submit')),
  );
  clearOnInput(form);
  show();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const k = kind.value;
    const wanted = SHOWN[/** @type {keyof typeof SHOWN} */ (k)] || ['doc_no', 'note'];
    /** @type {Record<string, any>} */
    const body = { kind: k, at: new Date().toISOString() };
    if (record) body.record_id = record.id;
    if (wanted.includes('doc_no') && doc.value.trim()) body.doc_no = doc.value.trim();
    if (wanted.includes('article') && article.value) body.article = article.value;
    if (wanted.includes('penalty')) body.penalty = penalty.value;
    if (wanted.includes('amount_yuan') && amount.value !== '' && penalty.value !== 'warning') body.amount_yuan = Number(amount.value);
    if (k === 'correct' && amount.value !== '') body.amount_yuan = Number(amount.value);
    if (wanted.includes('hearing_right')) body.hearing_right = hearing.checked;
    if (wanted.includes('note') && note.value.trim()) body.note = note.value.trim();
    if (wanted.includes('corrects') && corrects.value !== '') body.corrects = Number(corrects.value);
    try {
      await api(`/api/v1/cases/${encodeURIComponent(caseId)}/enforcement/steps`, { method: 'POST', body });
      announce(t('enf.saved', { step: t(`enf.step.${k}`) }));
      done();
    } catch (err) {
      showError(form, localised(err));
    }
  });
  return form;
}

/** Search and create, to name the case's party. @param {string} caseId @param {() => void} done */
function partyForm(caseId, done) {
  const q = h('input', { name: 'q', type: 'search', autocomplete: 'off', maxlength: '64' });
  const results = h('ul', { class: 'enf-results', 'aria-live': 'polite' });
  const pick = async (/** @type {string} */ id, /** @type {HTMLFormElement} */ form) => {
    try {
      await api(`/api/v1/cases/${encodeURIComponent(caseId)}/party`, { method: 'PUT', body: { party_id: id } });
      done();
    } catch (err) {
      showError(form, localised(err));
    }
  };
  const search = h(
    'form',
    { role: 'search', novalidate: true, 'data-testid': 'party-search' },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ name: 'q', id: `ps-q-${caseId.slice(-6)}`, label: t('enf.search'), control: q }),
    h('button', { type: 'submit' }, t('enf.search_go')),
    results,
  );
  search.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(search);
    try {
      const r = await api(`/api/v1/parties?q=${encodeURIComponent(q.value.trim())}`);
      fill(
        results,
        r.items.length
          ? r.items.map((/** @type {any} */ p) =>
              h('li', {}, `${p.name} · ${t(`enf.kind.${p.kind}`)} ${p.credit_code || p.id_number || ''} `, h('button', { type: 'button', onclick: () => pick(p.id, search) }, t('enf.pick'))),
            )
          : h('li', { class: 'muted' }, t('enf.none_found')),
      );
    } catch (err) {
      showError(search, localised(err));
    }
  });
  const kind = h('select', { name: 'kind' }, ['organisation', 'person'].map((k) => h('option', { value: k }, t(`enf.kind.${k}`))));
  const name = h('input', { name: 'name', autocomplete: 'off', maxlength: '100' });
  const code = h('input', { name: 'credit_code', autocomplete: 'off', maxlength: '18', autocapitalize: 'characters' });
  const idn = h('input', { name: 'id_number', autocomplete: 'off', maxlength: '32' });
  const pre = `np-${caseId.slice(-6)}`;
  const codeRow = field({ name: 'credit_code', id: `${pre}-code`, label: t('enf.credit_code'), control: code, hint: t('enf.credit_code_hint') });
  const idRow = field({ name: 'id_number', id: `${pre}-id`, label: t('enf.id_number'), control: idn, hint: t('enf.id_number_hint') });
  const sync = () => {
    codeRow.hidden = kind.value !== 'organisation';
    idRow.hidden = kind.value !== 'person';
  };
  kind.addEventListener('change', sync);
  const create = h(
    'form',
    { novalidate: true, 'data-testid': 'party-create' },
    h('h4', {}, t('enf.new_party')),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ name: 'kind', id: `${pre}-kind`, label: t('enf.kind'), control: kind }),
    field({ name: 'name', id: `${pre}-name`, label: t('enf.name'), control: name }),
    codeRow,
    idRow,
    h('button', { type: 'submit', class: 'primary' }, t('enf.create')),
  );
  sync();
  clearOnInput(create);
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(create);
    /** @type {Record<string, any>} */
    const body = { kind: kind.value, name: name.value };
    if (kind.value === 'organisation') body.credit_code = code.value;
    else if (idn.value.trim()) body.id_number = idn.value;
    try {
      const p = await api('/api/v1/parties', { method: 'POST', body });
      await pick(p.id, create);
    } catch (err) {
      showError(create, localised(err));
    }
  });
  return h('details', { class: 'enf-party-form' }, h('summary', {}, t('enf.set_party')), search, create);
}

/**
 * The case page's enforcement box: party, flag, records, and the forms the reader's role
 * may use.
 * @param {HTMLElement} box
 * @param {string} caseId
 */
export async function renderEnforcement(box, caseId) {
  const role = ctx.user?.role || '';
  let e;
  try {
    [e] = await Promise.all([api(`/api/v1/cases/${encodeURIComponent(caseId)}/enforcement`), lawArticles()]);
  } catch (err) {
    fill(box, h('section', { class: 'card-box' }, h('p', { class: 'form-error', role: 'alert' }, describe(err))));
    return;
  }
  const again = () => renderEnforcement(box, caseId);
  const parts = [h('h3', { id: 'enf-heading' }, t('enf.heading'))];
  parts.push(e.party ? partyLine(e.party) : h('p', { class: 'muted' }, t('enf.no_party')));
  if (e.flag?.flagged) parts.push(flagNote(e.flag), h('p', { class: 'flag-marked', role: 'note' }, t('enf.flag_marked')));
  if (PARTY_WRITERS.includes(role)) parts.push(partyForm(caseId, again));
  parts.push(h('h4', {}, t('enf.records')));
  parts.push(e.records.length ? e.records.map(recordEl) : h('p', { class: 'muted' }, t('enf.no_records')));
  if (role === 'enforcer' && e.party) {
    for (const r of e.records.filter((/** @type {any} */ r) => r.state !== 'closed')) {
      parts.push(h('details', { class: 'enf-step-box', open: true }, h('summary', {}, t('enf.form.next')), await stepForm(caseId, r, again)));
    }
    if (!e.records.some((/** @type {any} */ r) => r.state !== 'closed')) {
      parts.push(h('details', { class: 'enf-step-box', open: true }, h('summary', {}, t('enf.form.open')), await stepForm(caseId, null, again)));
    }
  }
  fill(box, h('section', { class: 'card-box', 'aria-labelledby': 'enf-heading', 'data-testid': 'enforcement' }, parts));
}

/** The party page (#/party/ID). @param {HTMLElement} root @param {string} id */
export async function renderParty(root, id) {
  let p;
  try {
    [p] = await Promise.all([api(`/api/v1/parties/${encodeURIComponent(id)}`), lawArticles()]);
  } catch (err) {
    fill(root, h('section', { class: 'card-box' }, h('p', { class: 'form-error', role: 'alert' }, describe(err))));
    return;
  }
  const heading = h('h2', { tabindex: '-1' }, p.party.name, ' ', flagBadge(p.flag));
  fill(
    root,
    h(
      'section',
      { class: 'card-box', 'data-testid': 'party-page' },
      heading,
      h('p', {}, t(`enf.kind.${p.party.kind}`), p.party.credit_code ? ` · ${p.party.credit_code}` : '', p.party.id_number ? ` · ${p.party.id_number}` : '', p.party.address ? ` · ${p.party.address}` : ''),
      p.flag.flagged ? flagNote(p.flag) : null,
      h('h3', {}, t('enf.party_cases')),
      p.cases.length
        ? h('ul', {}, p.cases.map((/** @type {any} */ c) => h('li', {}, h('a', { href: `#/case/${encodeURIComponent(c.id)}` }, t('enf.case')), ' ', timeEl(c.reported_at))))
        : h('p', { class: 'muted' }, '—'),
      h('h3', {}, t('enf.records')),
      p.records.length ? p.records.map(recordEl) : h('p', { class: 'muted' }, t('enf.no_records')),
    ),
  );
  heading.focus();
}

/** The party search (#/parties). @param {HTMLElement} root */
export function renderParties(root) {
  const q = h('input', { name: 'q', type: 'search', autocomplete: 'off', maxlength: '64' });
  const list = h('ul', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { role: 'search', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ name: 'q', id: 'parties-q', label: t('enf.search'), control: q }),
    h('button', { type: 'submit', class: 'primary' }, t('enf.search_go')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      const r = await api(`/api/v1/parties?q=${encodeURIComponent(q.value.trim())}`);
      fill(
        list,
        r.items.map((/** @type {any} */ p) => h('li', {}, h('a', { href: `#/party/${encodeURIComponent(p.id)}` }, p.name), ` · ${t(`enf.kind.${p.kind}`)} ${p.credit_code || p.id_number || ''}`)),
      );
    } catch (err) {
      showError(form, localised(err));
    }
  });
  fill(root, h('section', { class: 'card-box' }, h('h2', {}, t('enf.parties')), form, list));
  q.focus();
}
