// 我的路段 (My roads) and 巡查 (patrols on the phone) for road chiefs (路长), issue 21.
//
// The screen `#/roads`: the segments the signed-in road chief holds (GET /api/v1/me/roads)
// on the map and as a list, most urgent first — patrol status (done / due / overdue on
// the level's clock), open cases by light with the overdue ones first, the segment's
// chiefs — and the patrol panel on top.
//
// A patrol: 开始巡查 starts it on the server, then `navigator.geolocation.watchPosition`
// samples the position (with its accuracy). Points are queued in localStorage
// (`cityloop.patrol.<person id>`) and sealed into batches of at most BATCH_POINTS points
// (or every BATCH_SECONDS) with a batch id; each batch is PUT until the server has it,
// retried every RETRY_MS while the network is down (the server stores a batch once per id,
// so a retry after a lost answer adds nothing). A reload resumes the patrol from
// localStorage. 结束巡查 uploads what is queued and ends it; the answer lists the
// segments the trail covered. Without GPS a patrol is ended with a reason (无轨迹巡查).
// 上报问题 opens 城管通 (#/report) with the patrol's last position; the report's source is
// road_chief, which the rankings count as self-found (自查).

import { t, extend } from '../i18n.js';
import { h, fill, api, fmtTime, fmtDistance, distance, announce, ApiError, showError, clearErrors } from '../common.js';
import { createMap } from '../map.js';
import { ctx, lightEl, stateBadge, colon } from './ctx.js';
import { setScreenKeys } from './keys.js';

/** Most points in one uploaded batch (the server takes at most 1,000). */
const BATCH_POINTS = 20;
/** A batch is sealed at the latest this long after its first point. */
const BATCH_SECONDS = 30;
/** Wait between upload retries while the network is down. */
const RETRY_MS = 5000;
/** Positions worse than this (metres) are queued but not counted in the distance shown. */
const ROUGH_M = 50;

extend(
  {
    'nav.roads': '我的路段',
    'roads.title': '我的路段',
    'roads.intro_district': '全区路段（总路长），先列超期未巡和有超时案件的路段。',
    'roads.intro_street': '{street}的路段，先列超期未巡和有超时案件的路段。',
    'roads.intro_none': '您目前没有负责的路段，请联系管理员配置。',
    'roads.levels': '我的路长级别',
    'roads.level.district': '总路长',
    'roads.level.first': '一级路长',
    'roads.level.second': '二级路长',
    'roads.status.done': '已巡查',
    'roads.status.due': '待巡查',
    'roads.status.overdue': '超期未巡',
    'roads.window': '本期 {from} 至 {due}',
    'roads.window_day': '本期 {due}',
    'roads.last': '上次巡查 {at}',
    'roads.never': '近两个月没有巡查记录',
    'roads.open': '未办结 {n} 件',
    'roads.open_none': '没有未办结案件',
    'roads.counts': '红灯 {red} · 黄灯 {yellow} · 绿灯 {green}',
    'roads.chiefs': '路长',
    'roads.me': '（我）',
    'roads.truncated': '未办结案件较多，每条路段只列出前 20 件，全部案件请看“全部案件”。',
    'roads.map': '我的路段地图',
    'roads.list': '路段列表',
    'roads.no_gps_count': '近两个月无轨迹巡查 {n} 次（不计入路段覆盖）。',
    'patrol.title': '巡查',
    'patrol.idle': '开始巡查后，手机会记录您走过的路线，结束时自动核算覆盖了哪些路段。',
    'patrol.start': '开始巡查',
    'patrol.end': '结束巡查',
    'patrol.report': '上报问题',
    'patrol.no_gps': '无法定位时登记巡查',
    'patrol.no_gps_reason': '无轨迹的原因',
    'patrol.no_gps_hint': '如：手机无信号、定位失败。无轨迹巡查单独统计，不计入路段覆盖。',
    'patrol.no_gps_save': '登记无轨迹巡查',
    'patrol.running': '巡查中',
    'patrol.elapsed': '已用时',
    'patrol.distance': '里程',
    'patrol.queued': '待上传',
    'patrol.sent': '已上传',
    'patrol.points': '{n} 个点',
    'patrol.accuracy': '定位精度约 {m} 米',
    'patrol.waiting_fix': '正在定位…',
    'patrol.geo_failed': '无法定位：{msg}。轨迹会在恢复定位后继续记录；如一直无法定位，可结束并填写原因。',
    'patrol.geo_unsupported': '此设备不支持定位，请用“无法定位时登记巡查”。',
    'patrol.offline': '网络中断，轨迹已保存在手机上，恢复后自动上传。',
    'patrol.ending': '正在上传轨迹并结束巡查…',
    'patrol.end_offline': '网络中断，轨迹未能全部上传，已保存在手机上。请恢复网络后再点“结束巡查”。',
    'patrol.ended': '巡查已结束，覆盖 {n} 条路段。',
    'patrol.ended_none': '巡查已结束，但轨迹没有覆盖任何路段的足够长度，本次不计入路段巡查。',
    'patrol.ended_no_gps': '已登记无轨迹巡查（单独统计，不计入路段覆盖）。',
    'patrol.credited': '本次计入巡查的路段',
    'patrol.dropped': '剔除异常定位点 {n} 个。',
    'patrol.need_reason': '没有可用的轨迹点，请填写无轨迹的原因后登记。',
    'patrol.in_report': '巡查中上报：位置已取巡查轨迹的最新位置，来源为路长上报，计为自查。',
    'patrol.back': '返回巡查',
  },
  {
    'nav.roads': 'My roads',
    'roads.title': 'My roads',
    'roads.intro_district': 'Every segment of the district (district road chief); overdue patrols and late cases first.',
    'roads.intro_street': 'The segments of {street}; overdue patrols and late cases first.',
    'roads.intro_none': 'You hold no road segment yet; ask an administrator.',
    'roads.levels': 'My levels',
    'roads.level.district': 'District road chief',
    'roads.level.first': 'First-level road chief',
    'roads.level.second': 'Second-level road chief',
    'roads.status.done': 'Patrolled',
    'roads.status.due': 'Patrol due',
    'roads.status.overdue': 'Patrol overdue',
    'roads.window': 'This period {from} to {due}',
    'roads.window_day': 'This period {due}',
    'roads.last': 'Last patrol {at}',
    'roads.never': 'No patrol in the last two months',
    'roads.open': '{n} open cases',
    'roads.open_none': 'No open case',
    'roads.counts': 'red {red} · yellow {yellow} · green {green}',
    'roads.chiefs': 'Road chiefs',
    'roads.me': ' (me)',
    'roads.truncated': 'Many open cases: each segment lists its first 20; see “All cases” for the rest.',
    'roads.map': 'Map of my roads',
    'roads.list': 'Segments',
    'roads.no_gps_count': '{n} patrols without a trail in the last two months (not counted for segments).',
    'patrol.title': 'Patrol',
    'patrol.idle': 'Once started, the phone records your route; at the end the segments you covered are worked out.',
    'patrol.start': 'Start patrol',
    'patrol.end': 'End patrol',
    'patrol.report': 'Report a problem',
    'patrol.no_gps': 'Record a patrol without GPS',
    'patrol.no_gps_reason': 'Why there is no trail',
    'patrol.no_gps_hint': 'E.g. no signal, no position. Counted apart, never for a segment.',
    'patrol.no_gps_save': 'Record patrol without trail',
    'patrol.running': 'Patrolling',
    'patrol.elapsed': 'Elapsed',
    'patrol.distance': 'Distance',
    'patrol.queued': 'Queued',
    'patrol.sent': 'Sent',
    'patrol.points': '{n} points',
    'patrol.accuracy': 'Accuracy about {m} m',
    'patrol.waiting_fix': 'Locating…',
    'patrol.geo_failed': 'No position: {msg}. Recording resumes when the position returns; otherwise end with a reason.',
    'patrol.geo_unsupported': 'This device cannot locate: use “Record a patrol without GPS”.',
    'patrol.offline': 'Offline: the trail is kept on the phone and uploaded when the network returns.',
    'patrol.ending': 'Uploading the trail and ending…',
    'patrol.end_offline': 'Offline: not all of the trail could be uploaded; it is kept on the phone. End again when the network is back.',
    'patrol.ended': 'Patrol ended; {n} segments covered.',
    'patrol.ended_none': 'Patrol ended, but the trail covered no segment far enough: it does not count for a segment.',
    'patrol.ended_no_gps': 'Patrol without a trail recorded (counted apart, not for segments).',
    'patrol.credited': 'Segments this patrol counts for',
    'patrol.dropped': '{n} implausible positions dropped.',
    'patrol.need_reason': 'No usable trail point: give the reason there is no trail.',
    'patrol.in_report': 'Reporting during a patrol: the position is the trail’s latest; the source is road chief (self-found).',
    'patrol.back': 'Back to the patrol',
  },
);

// ---- the patrol engine (one per page, outlives a screen) ------------------------------

/**
 * @typedef {{ t: string, lon: number, lat: number, accuracy_m: number | null }} Point
 * @typedef {{ id: string, startedAt: string, seq: number, open: Point[], openSince: number | null,
 *   batches: { id: string, points: Point[] }[], sent: number, distance: number,
 *   last: { lat: number, lon: number, accuracy: number | null } | null }} Run
 */

/** @type {Run | null} */
let run = null;
/** @type {number | null} */
let watchId = null;
/** @type {ReturnType<typeof setTimeout> | null} */
let retryTimer = null;
let uploading = false;
let offline = false;
/** @type {string} */
let geoNote = '';
/** Redraws the patrol panel when something changed (set by the screen). */
/** @type {(() => void) | null} */
let onChange = null;

const storeKey = () => `cityloop.patrol.${ctx.user?.id || ''}`;

function save() {
  try {
    if (run) localStorage.setItem(storeKey(), JSON.stringify(run));
    else localStorage.removeItem(storeKey());
  } catch {
    // A full storage keeps the run in memory; the upload still goes on.
  }
}

function load() {
  if (run && run.id) return run;
  try {
    const raw = localStorage.getItem(storeKey());
    run = raw ? JSON.parse(raw) : null;
  } catch {
    run = null;
  }
  return run;
}

/** The running patrol's last position, for the report screen. */
export function patrolPosition() {
  const r = load();
  return r && r.last ? { ...r.last } : null;
}

/** Whether a patrol runs on this phone. */
export function patrolRunning() {
  return !!load();
}

const changed = () => onChange && onChange();

function seal() {
  if (!run || !run.open.length) return;
  run.seq += 1;
  run.batches.push({ id: `${run.id.slice(-12)}-${run.seq}`, points: run.open });
  run.open = [];
  run.openSince = null;
  save();
}

/** Uploads the sealed batches in order; true when none is left. */
async function flush() {
  if (!run) return true;
  if (uploading) return false;
  uploading = true;
  try {
    while (run && run.batches.length) {
      const b = run.batches[0];
      try {
        await api(`/api/v1/patrols/${run.id}/points/${b.id}`, { method: 'PUT', body: { points: b.points } });
      } catch (err) {
        if (err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 429)) {
          offline = true;
          changed();
          scheduleRetry();
          return false;
        }
        // Refused for good (the patrol ended elsewhere, a point the server will not take):
        // this batch cannot succeed by retrying.
        if (err instanceof ApiError && err.status === 409) {
          run.batches.shift();
          save();
          continue;
        }
        throw err;
      }
      run.sent += b.points.length;
      run.batches.shift();
      offline = false;
      save();
      changed();
    }
    return true;
  } finally {
    uploading = false;
  }
}

function scheduleRetry() {
  if (retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    flush().catch(() => {});
  }, RETRY_MS);
}

/** @param {GeolocationPosition} pos */
function onPosition(pos) {
  if (!run) return;
  const { latitude, longitude, accuracy } = pos.coords;
  const p = { t: new Date(pos.timestamp || Date.now()).toISOString(), lon: longitude, lat: latitude, accuracy_m: Number.isFinite(accuracy) ? accuracy : null };
  if (run.last && (accuracy == null || accuracy <= ROUGH_M)) run.distance += distance(run.last.lat, run.last.lon, latitude, longitude);
  run.last = { lat: latitude, lon: longitude, accuracy: p.accuracy_m };
  run.open.push(p);
  if (run.openSince == null) run.openSince = Date.now();
  geoNote = '';
  if (run.open.length >= BATCH_POINTS || Date.now() - run.openSince >= BATCH_SECONDS * 1000) seal();
  save();
  flush().catch(() => {});
  changed();
}

function startWatch() {
  if (watchId != null || !run) return;
  if (!navigator.geolocation) {
    geoNote = t('patrol.geo_unsupported');
    return;
  }
  watchId = navigator.geolocation.watchPosition(
    onPosition,
    (err) => {
      geoNote = t('patrol.geo_failed', { msg: err.message });
      changed();
    },
    { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 },
  );
}

function stopWatch() {
  if (watchId != null && navigator.geolocation) navigator.geolocation.clearWatch(watchId);
  watchId = null;
}

/** @param {{ watch?: boolean }} [opts] */
async function startPatrol({ watch = true } = {}) {
  const r = await api('/api/v1/patrols/start', { method: 'POST', body: {} });
  // "start" answers a patrol already running: keep this phone's queue if it is that one.
  const kept = load();
  if (!kept || kept.id !== r.id) {
    run = { id: r.id, startedAt: r.started_at, seq: 0, open: [], openSince: null, batches: [], sent: r.points || 0, distance: 0, last: null };
  }
  save();
  if (watch) startWatch();
}

/**
 * Uploads what is queued and ends the patrol.
 * @param {string | null} reason a no-GPS reason
 */
async function endPatrol(reason) {
  if (!run) return null;
  seal();
  if (!(await flush())) throw new ApiError({ status: 0, code: 'network', message: t('patrol.end_offline') });
  const body = reason ? { no_gps_reason: reason } : {};
  const r = await api(`/api/v1/patrols/${run.id}/end`, { method: 'POST', body });
  stopWatch();
  run = null;
  save();
  return r;
}

// ---- the screen ---------------------------------------------------------------------------

/** @param {number} ms */
function clockText(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${hh}:${two(mm)}:${two(ss)}`;
}

/** @type {ReturnType<typeof setInterval> | null} */
let ticker = null;

/**
 * 我的路段.
 * @param {HTMLElement} root
 */
export async function renderRoads(root) {
  setScreenKeys([]);
  if (ticker) clearInterval(ticker);
  ticker = null;
  const heading = h('h2', { tabindex: '-1', id: 'view-heading' }, t('roads.title'));
  const intro = h('p', { class: 'intro' });
  const panel = h('section', { class: 'patrol-panel card-box', 'aria-labelledby': 'patrol-heading', 'data-testid': 'patrol-panel' });
  const result = h('div', { class: 'patrol-result', 'aria-live': 'polite', 'data-testid': 'patrol-result' });
  const mapEl = h('div', { class: 'map roads-map' });
  const list = h('ol', { class: 'roads-list', 'aria-label': t('roads.list'), 'data-testid': 'roads-list' });
  const notes = h('p', { class: 'hint' });
  fill(
    root,
    h('section', { class: 'my-roads', 'aria-labelledby': 'view-heading' }, heading, intro, panel, result, mapEl, notes, list),
  );
  const map = createMap(mapEl, { label: t('roads.map') });
  /** @type {any} */
  let drawn = null;

  const drawPanel = () => {
    const r = load();
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    if (!r) {
      const reason = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'no_gps_reason', id: 'patrol-reason', rows: 2, maxlength: 500 }));
      const noGps = /** @type {HTMLFormElement} */ (
        h(
          'form',
          { class: 'no-gps', hidden: true, novalidate: true },
          h('p', { class: 'form-error', role: 'alert', hidden: true }),
          h(
            'div',
            { class: 'field', dataset: { field: 'no_gps_reason' } },
            h('label', { for: 'patrol-reason' }, t('patrol.no_gps_reason')),
            h('p', { class: 'hint' }, t('patrol.no_gps_hint')),
            reason,
            h('p', { class: 'field-error', hidden: true }),
          ),
          h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'secondary', 'data-testid': 'patrol-no-gps-save' }, t('patrol.no_gps_save'))),
        )
      );
      const start = h('button', { type: 'button', class: 'primary big', 'data-testid': 'patrol-start' }, t('patrol.start'));
      const noGpsToggle = h('button', { type: 'button', class: 'link-button', 'data-testid': 'patrol-no-gps' }, t('patrol.no_gps'));
      start.addEventListener('click', async () => {
        start.setAttribute('disabled', '');
        try {
          await startPatrol();
          fill(result);
          drawPanel();
          announce(t('patrol.running'));
        } catch (err) {
          showError(/** @type {HTMLElement} */ (panel), err);
          start.removeAttribute('disabled');
        }
      });
      noGpsToggle.addEventListener('click', () => {
        noGps.hidden = !noGps.hidden;
        if (!noGps.hidden) reason.focus();
      });
      noGps.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearErrors(noGps);
        const why = reason.value.trim();
        if (!why) {
          showError(noGps, new ApiError({ status: 422, code: 'invalid_field', field: 'no_gps_reason', message: t('patrol.need_reason') }));
          return;
        }
        try {
          await startPatrol({ watch: false });
          const ended = await endPatrol(why);
          showResult(ended);
          drawPanel();
          await loadRoads();
        } catch (err) {
          showError(noGps, err);
        }
      });
      fill(panel, h('h3', { id: 'patrol-heading' }, t('patrol.title')), error, h('p', { class: 'hint' }, t('patrol.idle')), h('div', { class: 'buttons' }, start), noGpsToggle, noGps);
      return;
    }
    startWatch();
    const figures = h('dl', { class: 'patrol-figures' });
    const status = h('p', { class: 'status-line', 'data-testid': 'patrol-status', 'aria-live': 'polite' });
    const queued = () => r.open.length + r.batches.reduce((a, b) => a + b.points.length, 0);
    const drawFigures = () => {
      const cur = load();
      if (!cur) return;
      fill(
        figures,
        h('div', {}, h('dt', {}, t('patrol.elapsed')), h('dd', { 'data-testid': 'patrol-elapsed' }, clockText(Date.now() - Date.parse(cur.startedAt)))),
        h('div', {}, h('dt', {}, t('patrol.distance')), h('dd', { 'data-testid': 'patrol-distance' }, fmtDistance(cur.distance))),
        h('div', {}, h('dt', {}, t('patrol.queued')), h('dd', { 'data-testid': 'patrol-queued' }, t('patrol.points', { n: queued() }))),
        h('div', {}, h('dt', {}, t('patrol.sent')), h('dd', { 'data-testid': 'patrol-sent' }, t('patrol.points', { n: cur.sent }))),
      );
      const bits = [];
      if (geoNote) bits.push(geoNote);
      else if (cur.last && cur.last.accuracy != null) bits.push(t('patrol.accuracy', { m: Math.round(cur.last.accuracy) }));
      else if (!cur.last) bits.push(t('patrol.waiting_fix'));
      if (offline) bits.push(t('patrol.offline'));
      status.textContent = bits.join(' ');
      status.classList.toggle('warning', offline || !!geoNote);
    };
    drawFigures();
    onChange = drawFigures;
    ticker = setInterval(() => {
      if (!document.body.contains(figures)) {
        if (ticker) clearInterval(ticker);
        ticker = null;
        return;
      }
      drawFigures();
    }, 1000);
    const report = h('a', { href: '#/report?patrol=1', class: 'button secondary big', 'data-testid': 'patrol-report' }, t('patrol.report'));
    const end = h('button', { type: 'button', class: 'primary big', 'data-testid': 'patrol-end' }, t('patrol.end'));
    const reasonBox = h('div', { class: 'no-gps', hidden: true });
    const reason = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'no_gps_reason', id: 'patrol-end-reason', rows: 2, maxlength: 500 }));
    fill(
      reasonBox,
      h(
        'div',
        { class: 'field', dataset: { field: 'no_gps_reason' } },
        h('label', { for: 'patrol-end-reason' }, t('patrol.no_gps_reason')),
        h('p', { class: 'hint' }, t('patrol.no_gps_hint')),
        reason,
        h('p', { class: 'field-error', hidden: true }),
      ),
    );
    end.addEventListener('click', async () => {
      clearErrors(/** @type {HTMLElement} */ (panel));
      end.setAttribute('disabled', '');
      status.textContent = t('patrol.ending');
      try {
        const ended = await endPatrol(reasonBox.hidden ? null : reason.value.trim() || null);
        if (ticker) clearInterval(ticker);
        ticker = null;
        onChange = null;
        showResult(ended);
        drawPanel();
        await loadRoads();
      } catch (err) {
        if (err instanceof ApiError && err.field === 'no_gps_reason') reasonBox.hidden = false;
        showError(/** @type {HTMLElement} */ (panel), err);
        end.removeAttribute('disabled');
        drawFigures();
      }
    });
    fill(
      panel,
      h('h3', { id: 'patrol-heading' }, t('patrol.running')),
      error,
      figures,
      status,
      reasonBox,
      h('div', { class: 'buttons patrol-buttons' }, report, end),
    );
  };

  /** @type {Map<string, string>} */
  const names = new Map();
  /** @param {any} ended */
  const showResult = (ended) => {
    if (!ended || !ended.result) return;
    const res = ended.result;
    if (res.kind === 'no_gps') {
      fill(result, h('p', { class: 'status-line' }, h('strong', {}, t('patrol.ended_no_gps'))));
      announce(t('patrol.ended_no_gps'));
      return;
    }
    const credited = res.credited || [];
    const msg = credited.length ? t('patrol.ended', { n: credited.length }) : t('patrol.ended_none');
    const dropped = res.dropped ? Object.values(res.dropped).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0) : 0;
    fill(
      result,
      h('p', { class: 'status-line' }, h('strong', {}, msg)),
      credited.length
        ? h('div', {}, h('h3', {}, t('patrol.credited')), h('ul', { class: 'credited', 'data-testid': 'patrol-credited' }, credited.map((/** @type {string} */ id) => h('li', { dataset: { segment: id } }, names.get(id) || id))))
        : null,
      dropped ? h('p', { class: 'hint' }, t('patrol.dropped', { n: dropped })) : null,
    );
    announce(msg);
  };

  const statusClass = (/** @type {string} */ s) => (s === 'done' ? 'ok' : s === 'overdue' ? 'bad' : 'warn');
  const colour = (/** @type {string} */ s) => (s === 'done' ? '#2e7d32' : s === 'overdue' ? '#c62828' : '#ef8f00');

  async function loadRoads() {
    /** @type {any} */
    let data;
    try {
      data = await api('/api/v1/me/roads');
    } catch (err) {
      fill(list, h('li', { class: 'form-error' }, err instanceof Error ? err.message : String(err)));
      return;
    }
    const segs = data.segments || [];
    for (const s of segs) names.set(s.segment_id, s.road_name || s.segment_id);
    if (data.scope === 'district') intro.textContent = t('roads.intro_district');
    else if (data.scope === 'street') {
      const street = segs.find((/** @type {any} */ s) => s.street_name)?.street_name || '';
      intro.textContent = t('roads.intro_street', { street });
    } else intro.textContent = t('roads.intro_none');
    if (data.levels && data.levels.length) {
      intro.append(' ', h('span', { class: 'levels' }, `${t('roads.levels')}${colon()}${data.levels.map((/** @type {string} */ l) => t(`roads.level.${l}`)).join('、')}`));
    }
    const bits = [];
    if (data.open_cases_truncated) bits.push(t('roads.truncated'));
    if (data.no_gps_patrols) bits.push(t('roads.no_gps_count', { n: data.no_gps_patrols }));
    notes.textContent = bits.join(' ');
    notes.hidden = !bits.length;
    fill(
      list,
      segs.map((/** @type {any} */ s) => {
        const p = s.patrol;
        const o = s.open;
        return h(
          'li',
          { class: `road-card patrol-${p.status}`, dataset: { segment: s.segment_id, patrol: p.status }, 'data-testid': 'road' },
          h(
            'div',
            { class: 'road-head' },
            h('strong', { class: 'road-name' }, s.road_name || s.segment_id),
            ' ',
            s.road_name ? h('span', { class: 'seg-id' }, s.segment_id) : null,
            ' ',
            h('span', { class: `badge patrol-badge ${statusClass(p.status)}`, 'data-testid': 'road-patrol' }, t(`roads.status.${p.status}`)),
          ),
          h(
            'p',
            { class: 'hint' },
            [s.street_name, p.window_from && p.window_due ? t(p.window_from === p.window_due ? 'roads.window_day' : 'roads.window', { from: p.window_from, due: p.window_due }) : null, p.last_patrol_at ? t('roads.last', { at: fmtTime(p.last_patrol_at) }) : t('roads.never')]
              .filter(Boolean)
              .join(' · '),
          ),
          h(
            'p',
            { class: 'road-open' },
            o.total ? `${t('roads.open', { n: o.total })}（${t('roads.counts', o)}）` : t('roads.open_none'),
          ),
          s.cases && s.cases.length
            ? h(
                'ul',
                { class: 'road-cases' },
                s.cases.map((/** @type {any} */ c) =>
                  h('li', {}, lightEl(c.light), ' ', h('a', { href: `#/case/${c.id}` }, c.number), ' ', stateBadge(c.state), ' ', h('span', { class: 'desc' }, c.description)),
                ),
              )
            : null,
          h(
            'p',
            { class: 'road-chiefs' },
            `${t('roads.chiefs')}${colon()}`,
            (s.chiefs || []).map((/** @type {any} */ c, /** @type {number} */ i) =>
              h('span', { class: c.me ? 'me' : '' }, `${i ? '，' : ''}${t(`roads.level.${c.level}`)} ${c.name}${c.me ? t('roads.me') : ''}`),
            ),
          ),
        );
      }),
    );
    await map.ready;
    if (drawn) drawn.remove();
    const fc = {
      type: 'FeatureCollection',
      features: segs
        .filter((/** @type {any} */ s) => s.line && s.line.length > 1)
        .map((/** @type {any} */ s) => ({ type: 'Feature', properties: { id: s.segment_id, status: s.patrol.status, name: s.road_name }, geometry: { type: 'LineString', coordinates: s.line } })),
    };
    if (!fc.features.length) return;
    drawn = map
      .geoJSON(fc, {
        style: (/** @type {any} */ f) => ({ color: colour(f.properties.status), weight: 6, opacity: 0.85, lineCap: 'round' }),
        onEachFeature: (/** @type {any} */ f, /** @type {any} */ layer) => {
          layer.bindTooltip(`${f.properties.name || f.properties.id} · ${t(`roads.status.${f.properties.status}`)}`);
          layer.on('add', () => {
            const el = layer.getElement && layer.getElement();
            if (el) {
              el.dataset.segment = f.properties.id;
              el.dataset.patrol = f.properties.status;
            }
          });
        },
      })
      .addTo(map.map);
    map.fitTo(drawn.getBounds());
  }

  drawPanel();
  await loadRoads();
}
