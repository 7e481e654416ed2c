// The leaders' view (领导驾驶舱): the command centre's wall screen (1920×1080, dark, no
// interaction needed) and a leader's desktop. Reads GET /api/v1/dashboard (figures), the
// league tables (GET /api/v1/rankings) and the open-case clusters (map.js). Refreshes
// itself every `?refresh=<seconds>` (default 30, at least 5) and at once when the push
// channel (GET /api/v1/stream with a ticket, `event: case`) says a case changed; keeps
// the last figures when the network drops, with the time of the last update and a plain
// 网络中断 notice.

import { t, extend, applyStatic, wireToggle, langTag } from './i18n.js';
import { api, h, fill, session, showError, clearErrors, ApiError, ZONE } from './common.js';
import { createMap } from './map.js';

extend(
  {
    'lv.district': '郑州市二七区',
    'lv.title': '城市管理领导驾驶舱',
    'lv.demo': '演示数据',
    'lv.demo_title': '本库含 {n} 件生成的示例案件，仅供演示',
    'lv.offline': '网络中断，显示的是上次更新的数据',
    'lv.error': '数据暂时取不到：{m}',
    'lv.updated': '更新于',
    'lv.login': '登录后查看',
    'lv.login_hint': '驾驶舱显示全区数据，请使用指挥中心、值班长或管理员账号登录。登录后本机保持到会话到期。',
    'lv.forbidden': '此账号只能查看部分辖区，驾驶舱需要能查看全区的账号。',
    'lv.today': '今日',
    'lv.vs_yesterday': '较昨日同时段',
    'lv.month': '本月',
    'lv.vs_last_month': '较上月同期',
    'lv.reported': '上报',
    'lv.registered': '立案',
    'lv.closed': '结案',
    'lv.on_time': '按期结案率',
    'lv.overdue_now': '当前超期',
    'lv.rework': '返工',
    'lv.same': '持平',
    'lv.up': '↑{n}',
    'lv.down': '↓{n}',
    'lv.pts_up': '↑{n}个百分点',
    'lv.pts_down': '↓{n}个百分点',
    'lv.no_rate': '暂无结案',
    'lv.no_prev': '上期无结案',
    'lv.overdue_today': '今日新增 {n}',
    'lv.cases': '件',
    'lv.map': '在办案件分布',
    'lv.map_note': '数字为该处在办案件数，红色弧段为其中超期的比例',
    'lv.legend': '图例',
    'lv.not_overdue': '未超期',
    'lv.overdue_part': '超期',
    'lv.trend': '近30日上报与结案',
    'lv.categories': '本周高发问题 TOP10',
    'lv.sources': '本月案件来源',
    'lv.overdue': '超期案件',
    'lv.overdue_count': '共 {n} 件，按超期时长排列',
    'lv.none_overdue': '当前没有超期案件',
    'lv.late': '超期{d}',
    'lv.days_hours': '{d}天{h}小时',
    'lv.hours': '{h}小时',
    'lv.minutes': '{m}分钟',
    'lv.centre': '指挥中心',
    'lv.league': '近30日综合评价',
    'lv.league_note': '前三与后三',
    'lv.league_street': '街道',
    'lv.league_department': '专业部门',
    'lv.league_top': '前三',
    'lv.league_bottom': '后三',
    'lv.league_none': '近30日暂无可排名的单位',
    'lv.score': '{s}分',
    'lv.src.public': '市民',
    'lv.src.hotline': '12345热线',
    'lv.src.inspector': '监督员巡查',
    'lv.src.sensor': '传感与视频',
    'lv.empty_week': '本周尚无上报',
  },
  {
    'lv.district': 'Erqi District, Zhengzhou',
    'lv.title': 'Urban management — leaders’ view',
    'lv.demo': 'Demo data',
    'lv.demo_title': 'This database holds {n} generated sample cases, for demonstration only',
    'lv.offline': 'Network down — showing the last figures received',
    'lv.error': 'Figures unavailable: {m}',
    'lv.updated': 'Updated',
    'lv.login': 'Sign in to view',
    'lv.login_hint': 'The leaders’ view shows the whole district: sign in with a command-centre, shift-leader or admin account. The session is kept on this device until it expires.',
    'lv.forbidden': 'This account reads only part of the district; the leaders’ view needs one that reads all of it.',
    'lv.today': 'Today',
    'lv.vs_yesterday': 'vs. yesterday at this time',
    'lv.month': 'This month',
    'lv.vs_last_month': 'vs. the same days last month',
    'lv.reported': 'Reported',
    'lv.registered': 'Registered',
    'lv.closed': 'Closed',
    'lv.on_time': 'Closed on time',
    'lv.overdue_now': 'Overdue now',
    'lv.rework': 'Rework',
    'lv.same': 'no change',
    'lv.up': '↑{n}',
    'lv.down': '↓{n}',
    'lv.pts_up': '↑{n} pts',
    'lv.pts_down': '↓{n} pts',
    'lv.no_rate': 'no closures yet',
    'lv.no_prev': 'none before',
    'lv.overdue_today': '{n} new today',
    'lv.cases': '',
    'lv.map': 'Open cases',
    'lv.map_note': 'numbers are open cases; the red arc is the overdue share',
    'lv.legend': 'Legend',
    'lv.not_overdue': 'not overdue',
    'lv.overdue_part': 'overdue',
    'lv.trend': 'Reports and closures, last 30 days',
    'lv.categories': 'Top 10 problems this week',
    'lv.sources': 'Sources this month',
    'lv.overdue': 'Overdue cases',
    'lv.overdue_count': '{n} in all, most overdue first',
    'lv.none_overdue': 'No case is overdue',
    'lv.late': '{d} late',
    'lv.days_hours': '{d} d {h} h',
    'lv.hours': '{h} h',
    'lv.minutes': '{m} min',
    'lv.centre': 'command centre',
    'lv.league': 'Evaluation, last 30 days',
    'lv.league_note': 'top and bottom three',
    'lv.league_street': 'Streets',
    'lv.league_department': 'Departments',
    'lv.league_top': 'Top three',
    'lv.league_bottom': 'Bottom three',
    'lv.league_none': 'No unit ranked in the last 30 days',
    'lv.score': '{s}',
    'lv.src.public': 'Citizens',
    'lv.src.hotline': '12345 hotline',
    'lv.src.inspector': 'Inspectors',
    'lv.src.sensor': 'Sensors and video',
    'lv.empty_week': 'Nothing reported this week yet',
  },
);

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Seconds between refreshes: `?refresh=`, default 30, at least 5 (wall screens are set up by URL). */
function refreshSeconds() {
  const raw = Number(new URLSearchParams(location.search).get('refresh'));
  if (!Number.isFinite(raw) || raw <= 0) return 30;
  return Math.max(5, Math.min(3600, Math.round(raw)));
}
const REFRESH = refreshSeconds();
/** League tables change slowly: read them at most once a minute. */
const LEAGUE_EVERY_MS = 60_000;

/** @type {any} */
let last = null;
/** @type {any} */
let leagues = { street: null, department: null, at: 0 };
/** @type {Date | null} */
let updatedAt = null;
/** @type {any} */
let mapHandle = null;
/** @type {Record<string, any>} */
const charts = {};
let timer = 0;
let loading = false;

const COLOURS = { reported: '#4da3ff', closed: '#3ecf8e', red: '#ff5b5b', text: '#c9d6e8', grid: '#2a3a52' };

function num(n) {
  return Number(n).toLocaleString(langTag());
}

/** The change line of a count: ↑3 / ↓2 / 持平, coloured by whether up is good. */
function change(now, before, upIsGood) {
  const d = now - before;
  if (d === 0) return h('span', { class: 'lv-delta same' }, t('lv.same'));
  const good = d > 0 === upIsGood;
  return h('span', { class: `lv-delta ${good ? 'good' : 'bad'}` }, t(d > 0 ? 'lv.up' : 'lv.down', { n: num(Math.abs(d)) }));
}

function pct(r) {
  return `${(r * 100).toFixed(1)}%`;
}

function rateTile(r) {
  const value = r.value == null ? '—' : pct(r.value);
  let delta;
  if (r.value == null) delta = h('span', { class: 'lv-delta same' }, t('lv.no_rate'));
  else if (r.previous == null) delta = h('span', { class: 'lv-delta same' }, t('lv.no_prev'));
  else {
    const d = Math.round((r.value - r.previous) * 1000) / 10;
    delta = d === 0
      ? h('span', { class: 'lv-delta same' }, t('lv.same'))
      : h('span', { class: `lv-delta ${d > 0 ? 'good' : 'bad'}` }, t(d > 0 ? 'lv.pts_up' : 'lv.pts_down', { n: Math.abs(d).toFixed(1) }));
  }
  return tile('on_time', t('lv.on_time'), value, delta);
}

function tile(key, label, value, delta) {
  return h('div', { class: `lv-tile lv-tile-${key}`, 'data-testid': `tile-${key}` },
    h('p', { class: 'lv-tile-label' }, label),
    h('p', { class: 'lv-tile-value', 'data-testid': `value-${key}` }, value),
    h('p', { class: 'lv-tile-delta' }, delta));
}

function tiles(p, overdue, withOverdue) {
  const list = [
    tile('reported', t('lv.reported'), num(p.reported.value), change(p.reported.value, p.reported.previous, true)),
    tile('registered', t('lv.registered'), num(p.registered.value), change(p.registered.value, p.registered.previous, true)),
    tile('closed', t('lv.closed'), num(p.closed.value), change(p.closed.value, p.closed.previous, true)),
    rateTile(p.on_time_rate),
  ];
  if (withOverdue) {
    list.push(tile('overdue', t('lv.overdue_now'), num(overdue.count),
      h('span', { class: `lv-delta ${overdue.since_today ? 'bad' : 'same'}` }, t('lv.overdue_today', { n: num(overdue.since_today) }))));
  } else {
    // The month row repeats no snapshot: overdue is a "now" figure, shown once.
    list.push(tile('overdue', t('lv.overdue_now'), num(overdue.count), h('span', { class: 'lv-delta same' }, '')));
  }
  list.push(tile('rework', t('lv.rework'), num(p.rework.value), change(p.rework.value, p.rework.previous, false)));
  return list;
}

function lateText(secs) {
  const d = Math.floor(secs / 86400);
  const hh = Math.floor((secs % 86400) / 3600);
  if (d > 0) return t('lv.days_hours', { d, h: hh });
  if (hh > 0) return t('lv.hours', { h: hh });
  return t('lv.minutes', { m: Math.max(1, Math.floor(secs / 60)) });
}

function renderOverdue(o) {
  $('lv-overdue-count').textContent = t('lv.overdue_count', { n: num(o.count) });
  if (!o.cases.length) {
    fill($('lv-overdue'), h('li', { class: 'lv-empty' }, t('lv.none_overdue')));
    return;
  }
  fill($('lv-overdue'), ...o.cases.map((c) => h('li', {},
    h('span', { class: 'lv-late' }, t('lv.late', { d: lateText(c.late_secs) })),
    h('span', { class: 'lv-o-main' },
      h('a', { href: `/staff#/case/${c.id}`, class: 'lv-o-num' }, c.number),
      h('span', { class: 'lv-o-cat' }, c.category_name)),
    // Whose: the handling unit once dispatched; before that the command centre, at its step.
    h('span', { class: 'lv-o-who' }, [t(`state.${c.state}`), c.unit_name || t('lv.centre'), c.street_name].filter(Boolean).join(' · ')),
  )));
}

function chart(id) {
  const el = $(id);
  // @ts-ignore ECharts is a classic script (window.echarts)
  const ec = window.echarts;
  if (!ec) return null;
  if (!charts[id]) {
    charts[id] = ec.init(el, null, { renderer: 'canvas' });
    new ResizeObserver(() => charts[id].resize()).observe(el);
  }
  return charts[id];
}

const axisStyle = {
  axisLine: { lineStyle: { color: COLOURS.grid } },
  axisLabel: { color: COLOURS.text, fontSize: 13 },
  splitLine: { lineStyle: { color: COLOURS.grid } },
};

function renderTrend(trend) {
  const c = chart('lv-trend');
  if (!c) return;
  const days = trend.map((d) => d.day.slice(5).replace('-', '/'));
  c.setOption({
    animation: false,
    grid: { left: 44, right: 16, top: 34, bottom: 28 },
    legend: { top: 0, right: 8, textStyle: { color: COLOURS.text, fontSize: 13 } },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: days, ...axisStyle, axisLabel: { ...axisStyle.axisLabel, interval: 4 } },
    yAxis: { type: 'value', minInterval: 1, ...axisStyle },
    series: [
      { name: t('lv.reported'), type: 'line', smooth: true, symbol: 'none', data: trend.map((d) => d.reported), lineStyle: { width: 3, color: COLOURS.reported }, itemStyle: { color: COLOURS.reported }, areaStyle: { color: 'rgba(77,163,255,0.15)' } },
      { name: t('lv.closed'), type: 'line', smooth: true, symbol: 'none', data: trend.map((d) => d.closed), lineStyle: { width: 3, color: COLOURS.closed }, itemStyle: { color: COLOURS.closed } },
    ],
  }, true);
}

function renderCategories(list) {
  const c = chart('lv-cats');
  if (!c) return;
  const rows = [...list].reverse();
  c.setOption({
    animation: false,
    grid: { left: 8, right: 44, top: 2, bottom: 2, containLabel: true },
    tooltip: {},
    xAxis: { type: 'value', show: false },
    yAxis: { type: 'category', data: rows.map((r) => r.name), axisLine: { show: false }, axisTick: { show: false }, axisLabel: { color: COLOURS.text, fontSize: 14, interval: 0 } },
    series: [{ type: 'bar', data: rows.map((r) => r.count), barWidth: '62%', itemStyle: { color: '#f5a524', borderRadius: [0, 3, 3, 0] }, label: { show: true, position: 'right', color: COLOURS.text, fontSize: 13 } }],
    graphic: list.length ? [] : [{ type: 'text', left: 'center', top: 'middle', style: { text: t('lv.empty_week'), fill: COLOURS.text, fontSize: 16 } }],
  }, true);
}

function renderSources(list) {
  const c = chart('lv-sources');
  if (!c) return;
  const palette = ['#4da3ff', '#f5a524', '#3ecf8e', '#b58cff'];
  c.setOption({
    animation: false,
    tooltip: { trigger: 'item', formatter: '{b}：{c}（{d}%）' },
    legend: { orient: 'vertical', right: 8, top: 'middle', textStyle: { color: COLOURS.text, fontSize: 14 },
      formatter: (name) => { const r = list.find((s) => t(`lv.src.${s.key}`) === name); return r ? `${name}  ${num(r.count)}` : name; } },
    series: [{ type: 'pie', radius: ['48%', '76%'], center: ['32%', '50%'], label: { show: false },
      data: list.map((s, i) => ({ name: t(`lv.src.${s.key}`), value: s.count, itemStyle: { color: palette[i % palette.length] } })) }],
  }, true);
}

function leagueBlock(title, data) {
  const rows = (data?.rows || []).filter((r) => r.rank != null);
  if (!rows.length) return [h('h3', {}, title), h('p', { class: 'lv-empty' }, t('lv.league_none'))];
  const top = rows.slice(0, 3);
  const bottom = rows.length > 3 ? rows.slice(Math.max(3, rows.length - 3)) : [];
  const line = (r, cls) => h('li', { class: cls },
    h('span', { class: 'lv-rank' }, String(r.rank)),
    h('span', { class: 'lv-name' }, r.name),
    h('span', { class: 'lv-score' }, r.score == null ? '—' : t('lv.score', { s: r.score.toFixed(1) })));
  return [
    h('h3', {}, title),
    h('p', { class: 'lv-league-sub good' }, t('lv.league_top')),
    h('ol', { class: 'lv-league-list' }, ...top.map((r) => line(r, 'top'))),
    ...(bottom.length ? [h('p', { class: 'lv-league-sub bad' }, t('lv.league_bottom')), h('ol', { class: 'lv-league-list' }, ...bottom.map((r) => line(r, 'bottom')))] : []),
  ];
}

function renderLeagues() {
  fill($('lv-league-street'), ...leagueBlock(t('lv.league_street'), leagues.street));
  fill($('lv-league-department'), ...leagueBlock(t('lv.league_department'), leagues.department));
}

function render(d) {
  fill($('lv-today'), ...tiles(d.today, d.overdue, true));
  fill($('lv-month'), ...tiles(d.month, d.overdue, false));
  renderOverdue(d.overdue);
  renderTrend(d.trend);
  renderCategories(d.categories_week);
  renderSources(d.sources_month);
  const demo = $('lv-demo');
  demo.hidden = !d.demo;
  if (d.demo) demo.title = t('lv.demo_title', { n: num(d.demo.cases) });
}

function showUpdated() {
  const el = $('lv-updated');
  if (!updatedAt) {
    el.textContent = '—';
    return;
  }
  el.setAttribute('datetime', updatedAt.toISOString());
  el.textContent = updatedAt.toLocaleString(langTag(), { timeZone: ZONE, month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function setOffline(on, message) {
  const el = $('lv-offline');
  el.hidden = !on;
  el.textContent = message || t('lv.offline');
  document.body.classList.toggle('is-offline', on);
}

async function load() {
  if (loading) return;
  loading = true;
  try {
    const d = await api('/api/v1/dashboard');
    if (Date.now() - leagues.at > LEAGUE_EVERY_MS) {
      // The last 30 days, not the calendar month: on the 1st a month's table is nearly empty.
      const day = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
      const range = `from=${day(Date.now() - 29 * 86_400_000)}&to=${day(Date.now())}`;
      const [street, department] = await Promise.all(
        ['street', 'department'].map((o) => api(`/api/v1/rankings?object=${o}&${range}`).catch(() => null)));
      leagues = { street: street || leagues.street, department: department || leagues.department, at: Date.now() };
    }
    last = d;
    updatedAt = new Date();
    setOffline(false);
    render(d);
    renderLeagues();
    showUpdated();
    mapHandle?.reloadClusters();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin();
    } else if (err instanceof ApiError && err.status === 403) {
      showLogin(t('lv.forbidden'));
    } else if (err instanceof ApiError && err.status !== 0) {
      setOffline(true, t('lv.error', { m: err.message }));
    } else {
      setOffline(true);
    }
  } finally {
    loading = false;
  }
}

function schedule() {
  clearInterval(timer);
  timer = window.setInterval(() => {
    load();
    subscribe();
  }, REFRESH * 1000);
}

/** @type {EventSource | null} */
let stream = null;

/**
 * The push channel: a single-use ticket from `POST /api/v1/stream/ticket` (EventSource
 * cannot send the Bearer token, and the session token never goes into a URL) opens
 * `GET /api/v1/stream`; a case event refreshes the figures at once (at most every 1.5 s).
 * A dropped stream is closed (its ticket cannot reconnect) and reopened with a new ticket
 * at the next timed refresh; meanwhile the timer carries on.
 */
async function subscribe() {
  if (typeof EventSource !== 'function' || stream) return;
  let ticket;
  try {
    ticket = (await api('/api/v1/stream/ticket', { method: 'POST' })).ticket;
  } catch {
    return;
  }
  if (stream) return;
  const es = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
  stream = es;
  let soon = 0;
  es.addEventListener('case', () => {
    if (soon) return;
    soon = window.setTimeout(() => {
      soon = 0;
      load();
    }, 1500);
  });
  es.onerror = () => {
    es.close();
    if (stream === es) stream = null;
  };
}

function showLogin(message) {
  $('lv-main').hidden = true;
  $('lv-login').hidden = false;
  const form = /** @type {HTMLFormElement} */ ($('lv-login-form'));
  const err = form.querySelector('[data-form-error]');
  if (err) err.textContent = message || '';
  clearInterval(timer);
}

async function login(e) {
  e.preventDefault();
  const form = /** @type {HTMLFormElement} */ ($('lv-login-form'));
  clearErrors(form);
  try {
    const r = await api('/api/v1/auth/login', {
      method: 'POST',
      auth: false,
      body: { username: /** @type {HTMLInputElement} */ ($('lv-username')).value.trim(), password: /** @type {HTMLInputElement} */ ($('lv-password')).value },
    });
    session.set(r.token, r.user, r.expires_at);
    /** @type {HTMLInputElement} */ ($('lv-password')).value = '';
    start();
  } catch (err) {
    showError(form, err);
  }
}

function tick() {
  $('lv-clock').textContent = new Date().toLocaleString(langTag(), { timeZone: ZONE, weekday: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function start() {
  $('lv-login').hidden = true;
  $('lv-main').hidden = false;
  if (!mapHandle) {
    mapHandle = createMap($('lv-map'), { label: t('lv.map') });
    mapHandle.showClusters({ ring: true });
  }
  load();
  schedule();
  subscribe();
}

applyStatic();
wireToggle(/** @type {HTMLButtonElement} */ ($('lang')));
$('lv-login-form').addEventListener('submit', login);
window.addEventListener('online', () => load());
window.addEventListener('offline', () => setOffline(true));
// Re-render in the other language without waiting for the next refresh.
document.addEventListener('langchange', () => {
  if (last) {
    render(last);
    renderLeagues();
    showUpdated();
  }
});
tick();
setInterval(tick, 15_000);
if (session.token) start();
else showLogin();
