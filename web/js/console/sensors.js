// 污染防治联动 in the console (issue 19): the sites list (#/sensors), a site's page
// (#/sensor/ID: place on the map, responsible party and unit, devices, its cases, the
// ECharts line of a metric with the rule's open and clear thresholds), the devices by
// health (#/sensor-devices: offline first), and the same chart on a sensor case's page
// (sensorCaseChart). Data from /api/v1/sensors/* (readable by every staff role).

/* global echarts */
import { t, extend } from '../i18n.js';
import { h, fill, api, describe, fmtTime } from '../common.js';
import { createMap } from '../map.js';
import { ctx } from './ctx.js';

extend(
  {
    'nav.sensors': '监测站点',
    'nav.sensor-devices': '监测设备',
    'sn.sites': '监测站点',
    'sn.sites_intro': '工地扬尘、排污口水质等在线监测站点。持续超标自动生成案件，进入闭环处置。',
    'sn.devices': '监测设备',
    'sn.devices_intro': '离线设备排在最前，其余按最近上报时间排列。',
    'sn.none': '还没有监测站点。',
    'sn.no_devices': '还没有监测设备。',
    'sn.demo': '演示',
    'sn.demo_title': '演示用的示意站点和设备，不是真实监测数据',
    'sn.name': '站点',
    'sn.kind': '类型',
    'sn.kind.building_site': '工地',
    'sn.kind.sewage_outfall': '排污口',
    'sn.kind.road_section': '道路',
    'sn.kind.other': '其他',
    'sn.party': '责任主体',
    'sn.unit': '责任单位',
    'sn.permit': '施工许可证号',
    'sn.contractor': '施工单位',
    'sn.street': '街道',
    'sn.device_count': '设备数',
    'sn.offline_count': '离线',
    'sn.last_seen': '最近上报',
    'sn.never': '从未上报',
    'sn.device': '设备编号',
    'sn.device_kind': '设备类型',
    'sn.state': '状态',
    'sn.online': '在线',
    'sn.offline': '离线',
    'sn.battery': '电量',
    'sn.signal': '信号',
    'sn.offline_case': '离线案件',
    'sn.place': '站点位置',
    'sn.cases': '监测告警案件',
    'sn.no_cases': '暂无告警案件。',
    'sn.chart': '监测曲线',
    'sn.chart_none': '所选时段没有监测数据。',
    'sn.mean': '均值',
    'sn.max': '最大值',
    'sn.open_line': '告警阈值 {v}',
    'sn.clear_line': '解除阈值 {v}',
    'sn.episode': '超标时段',
    'sn.range': '时段',
    'sn.range.1': '近 24 小时',
    'sn.range.7': '近 7 天',
    'sn.range.30': '近 30 天',
    'sn.log.opened': '超标立案',
    'sn.log.reopened': '再次超标',
    'sn.log.cleared': '恢复达标',
    'sn.log.offline': '设备离线',
    'sn.log.online': '恢复上报',
    'sn.peak': '峰值 {v}',
    'sn.metric.pm10': 'PM10',
    'sn.metric.pm2_5': 'PM2.5',
    'sn.metric.noise': '噪声',
    'sn.metric.cod': '化学需氧量',
    'sn.metric.nh3_n': '氨氮',
    'sn.metric.ph': 'pH',
    'sn.metric.battery': '电量',
    'sn.metric.signal': '信号强度',
    'sn.load_failed': '监测数据加载失败：{e}',
  },
  {
    'nav.sensors': 'Monitoring sites',
    'nav.sensor-devices': 'Monitoring devices',
    'sn.sites': 'Monitoring sites',
    'sn.sites_intro': 'Building-site dust, sewage-outfall water quality and other online monitors. A lasting exceedance opens a case in the closed loop.',
    'sn.devices': 'Monitoring devices',
    'sn.devices_intro': 'Offline devices first, then by last report.',
    'sn.none': 'No monitoring sites yet.',
    'sn.no_devices': 'No monitoring devices yet.',
    'sn.demo': 'Demo',
    'sn.demo_title': 'Schematic demo site and devices, not real monitoring data',
    'sn.name': 'Site',
    'sn.kind': 'Kind',
    'sn.kind.building_site': 'Building site',
    'sn.kind.sewage_outfall': 'Sewage outfall',
    'sn.kind.road_section': 'Road section',
    'sn.kind.other': 'Other',
    'sn.party': 'Responsible party',
    'sn.unit': 'Responsible unit',
    'sn.permit': 'Building permit',
    'sn.contractor': 'Contractor',
    'sn.street': 'Street',
    'sn.device_count': 'Devices',
    'sn.offline_count': 'Offline',
    'sn.last_seen': 'Last report',
    'sn.never': 'Never reported',
    'sn.device': 'Device',
    'sn.device_kind': 'Device type',
    'sn.state': 'State',
    'sn.online': 'Online',
    'sn.offline': 'Offline',
    'sn.battery': 'Battery',
    'sn.signal': 'Signal',
    'sn.offline_case': 'Offline case',
    'sn.place': 'Location',
    'sn.cases': 'Alarm cases',
    'sn.no_cases': 'No alarm cases.',
    'sn.chart': 'Readings',
    'sn.chart_none': 'No readings in this period.',
    'sn.mean': 'Mean',
    'sn.max': 'Max',
    'sn.open_line': 'Alarm threshold {v}',
    'sn.clear_line': 'Clear threshold {v}',
    'sn.episode': 'Exceedance',
    'sn.range': 'Period',
    'sn.range.1': 'Last 24 hours',
    'sn.range.7': 'Last 7 days',
    'sn.range.30': 'Last 30 days',
    'sn.log.opened': 'Exceedance: case opened',
    'sn.log.reopened': 'Exceeded again',
    'sn.log.cleared': 'Back under the limit',
    'sn.log.offline': 'Device offline',
    'sn.log.online': 'Reporting again',
    'sn.peak': 'peak {v}',
    'sn.metric.pm10': 'PM10',
    'sn.metric.pm2_5': 'PM2.5',
    'sn.metric.noise': 'Noise',
    'sn.metric.cod': 'COD',
    'sn.metric.nh3_n': 'Ammonia nitrogen',
    'sn.metric.ph': 'pH',
    'sn.metric.battery': 'Battery',
    'sn.metric.signal': 'Signal',
    'sn.load_failed': 'Could not load monitoring data: {e}',
  },
);

/** The screens this module draws, for the shell's router. */
export const SENSOR_VIEWS = ['sensors', 'sensor-devices'];

const demoBadge = () => h('span', { class: 'badge demo', title: t('sn.demo_title') }, t('sn.demo'));
const lastSeen = (iso) => (iso ? fmtTime(iso) : t('sn.never'));
const metricName = (m) => t(`sn.metric.${m}`);
/** A unit's name from its code (the code itself when the unit is unknown). */
const unitByCode = (code) => (code && (ctx.units.find((u) => u.code === code) || {}).name) || code;

/** @param {HTMLElement} root */
export async function renderSensorSites(root) {
  fill(root, h('h2', {}, t('sn.sites')));
  let list;
  try {
    list = await api('/api/v1/sensors/sites');
  } catch (e) {
    fill(root, h('h2', {}, t('sn.sites')), h('p', { role: 'alert' }, t('sn.load_failed', { e: describe(e) })));
    return;
  }
  const rows = list.map((s) => h('tr', { dataset: { id: s.site.id } },
    h('th', { scope: 'row' }, h('a', { href: `#/sensor/${encodeURIComponent(s.site.id)}` }, s.site.name), s.site.demo ? [' ', demoBadge()] : ''),
    h('td', {}, t(`sn.kind.${s.site.kind}`)),
    h('td', {}, s.site.responsible_party || '—'),
    h('td', { class: 'num' }, String(s.devices)),
    h('td', { class: 'num' }, s.offline ? h('span', { class: 'badge red' }, String(s.offline)) : '0'),
    h('td', {}, lastSeen(s.last_seen_at))));
  fill(root,
    h('h2', {}, t('sn.sites')),
    h('p', { class: 'hint' }, t('sn.sites_intro'), ' ', h('a', { href: '#/sensor-devices' }, t('nav.sensor-devices'))),
    list.length
      ? h('div', { class: 'table-scroll' }, h('table', { class: 'data', 'data-testid': 'sensor-sites' },
        h('thead', {}, h('tr', {}, ['sn.name', 'sn.kind', 'sn.party', 'sn.device_count', 'sn.offline_count', 'sn.last_seen']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, rows)))
      : h('p', {}, t('sn.none')));
}

function deviceState(d) {
  if (d.offline) return h('span', { class: 'badge red' }, t('sn.offline'));
  if (!d.last_seen_at) return h('span', { class: 'badge' }, t('sn.never'));
  return h('span', { class: 'badge green' }, t('sn.online'));
}

/** A unit as a reader writes it (the payloads' ASCII `ug/m3` is μg/m³). */
const unitText = (u) => ({ 'ug/m3': 'μg/m³', 'mg/m3': 'mg/m³', degC: '℃' })[u] || u || '';

function status(d, key, unit) {
  const v = d.last_status && d.last_status[key];
  return v === undefined || v === null ? '—' : `${v}${unit}`;
}

function devicesTable(list, { site = true } = {}) {
  // The state and when it last reported come right after the id: on a phone they are what
  // fits on the screen before the table scrolls sideways.
  const cols = ['sn.device', 'sn.state', 'sn.last_seen', 'sn.device_kind'].concat(site ? ['sn.name'] : [], ['sn.battery', 'sn.signal', 'sn.offline_case']);
  // A wide table scrolls sideways inside its box on a phone instead of wrapping each cell.
  return h('div', { class: 'table-scroll' }, h('table', { class: 'data', 'data-testid': 'sensor-devices' },
    h('thead', {}, h('tr', {}, cols.map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, list.map((d) => h('tr', { class: d.offline ? 'offline' : null, dataset: { id: d.device.id } },
      h('th', { scope: 'row' }, d.device.id),
      h('td', {}, deviceState(d)),
      h('td', {}, lastSeen(d.last_seen_at)),
      h('td', {}, d.device.kind),
      site ? h('td', {}, h('a', { href: `#/sensor/${encodeURIComponent(d.device.site_id)}` }, d.site_name || d.device.site_id), d.demo ? [' ', demoBadge()] : '') : null,
      h('td', { class: 'num' }, status(d, 'battery', '%')),
      h('td', { class: 'num' }, status(d, 'signal', ' dBm')),
      h('td', {}, d.offline_case_id ? h('a', { href: `#/case/${d.offline_case_id}` }, t('sn.log.offline')) : '—'))))));
}

/** @param {HTMLElement} root */
export async function renderSensorDevices(root) {
  fill(root, h('h2', {}, t('sn.devices')));
  try {
    const list = await api('/api/v1/sensors/devices');
    fill(root, h('h2', {}, t('sn.devices')), h('p', { class: 'hint' }, t('sn.devices_intro')),
      list.length ? devicesTable(list) : h('p', {}, t('sn.no_devices')));
  } catch (e) {
    fill(root, h('h2', {}, t('sn.devices')), h('p', { role: 'alert' }, t('sn.load_failed', { e: describe(e) })));
  }
}

function logLine(l) {
  const s = l.summary || {};
  const peak = typeof s.peak === 'number' ? `，${t('sn.peak', { v: `${s.peak.toFixed(1)} ${unitText(s.unit)}`.trim() })}` : '';
  return h('li', {}, `${fmtTime(l.at)} ${t(`sn.log.${l.kind}`)}${peak}`);
}

/** A bucket that keeps a range within the API's 1,440 points, in whole minutes. */
function bucketFor(fromMs, toMs) {
  // The server floors `from` and ceils `to` to the minute: count one minute more.
  const minutes = Math.ceil(((toMs - fromMs) / 60000 + 1) / 1440);
  return Math.max(1, minutes) * 60;
}

/**
 * Draws a metric's line (bucket mean and max) with the rule's thresholds and the
 * exceedances as shaded spans.
 * @param {HTMLElement} el
 * @param {{ device?: string, site?: string, metric: string, from: Date, to: Date, episodes?: {from: string, to: string}[] }} q
 */
export async function drawSeries(el, q) {
  const params = new URLSearchParams({
    metric: q.metric,
    from: q.from.toISOString(),
    to: q.to.toISOString(),
    bucket: String(bucketFor(q.from.getTime(), q.to.getTime())),
  });
  if (q.device) params.set('device', q.device);
  else if (q.site) params.set('site', q.site);
  let s;
  try {
    s = await api(`/api/v1/sensors/series?${params}`);
  } catch (e) {
    fill(el, h('p', { role: 'alert' }, t('sn.load_failed', { e: describe(e) })));
    return;
  }
  el.dataset.points = String(s.points.length);
  if (!s.points.length) {
    fill(el, h('p', { class: 'hint' }, t('sn.chart_none')));
    return;
  }
  if (typeof echarts === 'undefined') return;
  fill(el);
  const unit = unitText(s.unit);
  const name = `${metricName(s.metric)}（${unit}）`;
  // On a phone the labels of the thresholds take less room and fewer time ticks fit.
  const narrow = el.clientWidth < 560;
  // ECharts draws a time axis in the browser's zone; the district's is Beijing time (UTC+8,
  // no daylight saving): shift every instant by 8 h and let ECharts draw in UTC.
  const SHIFT = 8 * 3600000;
  const at = (p) => p.start * 1000 + SHIFT;
  const shifted = (iso) => Date.parse(iso) + SHIFT;
  const lines = [];
  for (const r of s.thresholds.slice(0, 1)) {
    lines.push({ yAxis: r.open_above, name: t('sn.open_line', { v: r.open_above }), lineStyle: { color: '#c0262d', type: 'solid' }, label: { formatter: t('sn.open_line', { v: r.open_above }), color: '#c0262d' } });
    lines.push({ yAxis: r.clear_below, name: t('sn.clear_line', { v: r.clear_below }), lineStyle: { color: '#1b7a36', type: 'dashed' }, label: { formatter: t('sn.clear_line', { v: r.clear_below }), color: '#1b7a36' } });
  }
  const areas = (q.episodes || []).map((e) => [{ xAxis: shifted(e.from), name: t('sn.episode') }, { xAxis: shifted(e.to) }]);
  const chart = echarts.init(el, null, { renderer: 'svg' });
  if (ctx.chart) ctx.chart.dispose();
  ctx.chart = chart;
  chart.setOption({
    useUTC: true,
    animation: false,
    grid: { left: 48, right: narrow ? 84 : 120, top: 40, bottom: 32 },
    legend: { data: [t('sn.mean'), t('sn.max')], top: 0 },
    tooltip: { trigger: 'axis', valueFormatter: (v) => (typeof v === 'number' ? `${v.toFixed(1)} ${unit}` : v) },
    xAxis: { type: 'time', splitNumber: narrow ? 3 : 6, axisLabel: { hideOverlap: true } },
    yAxis: { type: 'value', name, nameTextStyle: { align: 'left' }, min: 0, max: (v) => Math.max(v.max, ...lines.map((l) => l.yAxis)) * 1.1 },
    series: [
      { name: t('sn.mean'), type: 'line', showSymbol: false, data: s.points.map((p) => [at(p), p.mean]), itemStyle: { color: '#0b5cad' },
        markLine: { symbol: 'none', silent: true, data: lines },
        markArea: { silent: true, label: { position: 'insideTop', color: '#a01818' }, itemStyle: { color: 'rgba(192, 38, 45, 0.08)' }, data: areas } },
      { name: t('sn.max'), type: 'line', showSymbol: false, data: s.points.map((p) => [at(p), p.max]), itemStyle: { color: '#8aa9cc' }, lineStyle: { type: 'dotted' } },
    ],
  });
}

/** The spans of a sensor log's episodes (opened → cleared, or → the last reading). */
function episodesOf(log) {
  const out = [];
  for (const l of log) {
    const s = l.summary || {};
    if (!s.started_at) continue;
    const end = s.cleared_at || s.last_at || l.at;
    const prev = out.find((e) => e.from === s.started_at);
    if (prev) prev.to = end > prev.to ? end : prev.to;
    else out.push({ from: s.started_at, to: end, metric: s.metric, device: l.device_id });
  }
  return out;
}

/**
 * @param {HTMLElement} root
 * @param {string} id
 */
export async function renderSensorSite(root, id) {
  fill(root, h('h2', {}, t('sn.sites')));
  let p;
  try {
    p = await api(`/api/v1/sensors/sites/${encodeURIComponent(id)}`);
  } catch (e) {
    fill(root, h('p', {}, h('a', { href: '#/sensors' }, `← ${t('sn.sites')}`)), h('p', { role: 'alert' }, t('sn.load_failed', { e: describe(e) })));
    return;
  }
  const site = p.site;
  const kv = (k, v) => (v ? [h('dt', {}, t(k)), h('dd', {}, v)] : []);
  const mapEl = h('div', { class: 'site-map' });
  const chartEl = h('div', { class: 'sensor-chart', 'data-testid': 'sensor-chart' });
  const metrics = p.thresholds.filter((m) => m.rules.length).map((m) => m.metric);
  const all = p.thresholds.map((m) => m.metric).filter((m) => m !== 'battery' && m !== 'signal');
  const choices = metrics.length ? metrics : all;
  let metric = choices[0];
  let days = 1;
  const episodes = p.cases.flatMap((c) => episodesOf(c.log));
  // The demo's sample episode may be older than a day: open the chart on the latest one.
  const latest = episodes.map((e) => e.to).sort().pop();
  let end = latest && Date.now() - Date.parse(latest) > 86400000 ? new Date(Date.parse(latest) + 3 * 3600000) : new Date();
  const redraw = () => {
    if (!metric) return;
    const to = days === 1 ? end : new Date();
    drawSeries(chartEl, { site: site.id, metric, from: new Date(to.getTime() - days * 86400000), to, episodes: episodes.filter((e) => e.metric === metric) });
  };
  const metricSel = h('select', { 'aria-label': t('sn.chart'), onchange: (e) => { metric = e.target.value; redraw(); } },
    choices.map((m) => h('option', { value: m }, metricName(m))));
  const rangeSel = h('select', { 'aria-label': t('sn.range'), onchange: (e) => { days = Number(e.target.value); end = new Date(); redraw(); } },
    [1, 7, 30].map((d) => h('option', { value: String(d) }, t(`sn.range.${d}`))));
  const cases = p.cases.length
    ? h('ul', { class: 'sensor-cases', 'data-testid': 'sensor-site-cases' }, p.cases.map((c) => h('li', {},
      h('a', { href: `#/case/${c.id}` }, c.number), ` ${t(`state.${c.state}`)} · ${fmtTime(c.created_at)}`,
      h('ul', {}, c.log.map(logLine)))))
    : h('p', { class: 'hint' }, t('sn.no_cases'));
  fill(root,
    h('p', {}, h('a', { href: '#/sensors' }, `← ${t('sn.sites')}`)),
    h('h2', { tabindex: '-1' }, site.name, site.demo ? [' ', demoBadge()] : ''),
    h('div', { class: 'site-grid' },
      h('div', {},
        h('dl', { class: 'kv' }, kv('sn.kind', t(`sn.kind.${site.kind}`)), kv('sn.party', site.responsible_party), kv('sn.unit', unitByCode(site.unit_code)),
          kv('sn.permit', site.permit), kv('sn.contractor', site.contractor), kv('sn.street', site.street)),
        h('section', {}, h('h3', {}, t('sn.chart')), choices.length ? h('p', { class: 'chart-controls' }, metricSel, ' ', rangeSel) : null, chartEl),
        h('section', {}, h('h3', {}, t('sn.devices')), p.devices.length ? devicesTable(p.devices, { site: false }) : h('p', {}, t('sn.no_devices'))),
        h('section', {}, h('h3', {}, t('sn.cases')), cases)),
      h('section', {}, h('h3', {}, t('sn.place')), mapEl)));
  const map = createMap(mapEl, { center: [site.lat, site.lon], zoom: 15, label: t('sn.place') });
  map.setCases([{ lat: site.lat, lon: site.lon, radius: 9, colour: '#0b5cad', title: site.name }]);
  redraw();
}

/**
 * On a sensor case's page: the chart of the metric that opened it, around its episode.
 * @param {HTMLElement} box
 * @param {string} caseId
 */
export async function sensorCaseChart(box, caseId) {
  let log;
  try {
    log = await api(`/api/v1/cases/${caseId}/sensor-log`);
  } catch {
    return;
  }
  const eps = episodesOf(log);
  if (!eps.length) {
    if (log.length) fill(box, h('h3', {}, t('sn.chart')), h('ul', {}, log.map(logLine)));
    return;
  }
  const first = Date.parse(eps[0].from);
  const last = Math.max(...eps.map((e) => Date.parse(e.to)));
  const chartEl = h('div', { class: 'sensor-chart', 'data-testid': 'sensor-chart' });
  fill(box, h('h3', {}, t('sn.chart')), chartEl, h('ul', {}, log.map(logLine)));
  await drawSeries(chartEl, {
    device: eps[0].device,
    metric: eps[0].metric,
    from: new Date(first - 2 * 3600000),
    to: new Date(Math.min(Date.now(), last + 2 * 3600000)),
    episodes: eps,
  });
}
