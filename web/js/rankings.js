// The rankings page (综合评价) of the staff console: a league table per object and month
// with change from the previous month and the red/black list, exports, a score trend
// chart, a heat map of registered cases by unit grid (单元网格), and drill-down from any
// figure or grid cell to the cases behind it.

/* global echarts */
import { t } from './i18n.js';
import { api, h, fill, describe, session } from './common.js';
import { createMap } from './map.js';

/* global L */

/** Heat colours, light to dark, for 1..max cases in a grid. */
const HEAT = ['#fdd49e', '#fdae6b', '#f16913', '#d94801', '#8c2d04'];

function heatColour(n, max) {
  const k = Math.min(HEAT.length - 1, Math.max(0, Math.ceil((n / Math.max(max, 1)) * HEAT.length) - 1));
  return HEAT[k];
}

export const OBJECTS = [
  'street', 'community', 'department', 'road_chief', 'segment',
  'inspector', 'operator', 'supervisor', 'dispatcher',
];

function monthRange(ym) {
  const [y, m] = ym.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const mm = String(m).padStart(2, '0');
  return { from: `${y}-${mm}-01`, to: `${y}-${mm}-${String(last).padStart(2, '0')}` };
}

function shiftMonth(ym, by) {
  const [y, m] = ym.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + by, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function thisMonth() {
  const now = new Date(Date.now() + 8 * 3600 * 1000);
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

function fmt(v, unit) {
  if (v === null || v === undefined) return '—';
  return unit === 'percent' ? `${v}%` : String(v);
}

async function download(object, range, format) {
  const q = new URLSearchParams({ object, ...range, format });
  const resp = await fetch(`/api/v1/rankings?${q}`, {
    headers: { Authorization: `Bearer ${session.token}` },
  });
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  const url = URL.createObjectURL(await resp.blob());
  const a = h('a', { href: url, download: `rankings-${object}-${range.from}.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

/** Renders the page into `view`; `params` carries object= and month= from the hash. */
export async function renderRankings(view, params, ctx) {
  const object = OBJECTS.includes(params.get('object')) ? params.get('object') : 'street';
  const month = /^\d{4}-\d{2}$/.test(params.get('month') || '') ? params.get('month') : thisMonth();
  const range = monthRange(month);
  const go = (o, m) => {
    location.hash = `#/rankings?object=${o}&month=${m}`;
  };
  const select = h('select', { id: 'rank-object', 'aria-label': t('rank.object'),
    onchange: (e) => go(e.target.value, month) },
  OBJECTS.map((o) => h('option', { value: o, selected: o === object }, t(`rank.obj.${o}`))));
  const picker = h('input', { type: 'month', id: 'rank-month', value: month, 'aria-label': t('rank.month'),
    onchange: (e) => e.target.value && go(object, e.target.value) });
  const status = h('p', { class: 'hint', role: 'status' }, t('rank.loading'));
  const table = h('div', { class: 'rank-table', 'data-testid': 'rank-table' });
  const chart = h('div', { id: 'rank-trend', class: 'rank-trend', style: 'height:260px' });
  const drill = h('div', { id: 'rank-drill', 'data-testid': 'rank-drill' });
  const heatEl = h('div', { id: 'rank-heat', class: 'map', 'data-testid': 'rank-heat' });
  const heatLegend = h('div', { class: 'heat-legend', 'data-testid': 'rank-heat-legend' });
  const exportBtn = (format) => h('button', { type: 'button',
    onclick: () => download(object, range, format).catch((e) => fill(status, String(e))) },
  t(`rank.export_${format}`));
  fill(view,
    h('section', { class: 'panel' },
      h('h2', {}, t('nav.rankings')),
      h('div', { class: 'filters' }, select, picker, exportBtn('csv'), exportBtn('xlsx')),
      status, table, chart,
      h('h3', {}, t('rank.heat')), heatEl, heatLegend,
      drill));
  let data;
  try {
    data = await api(`/api/v1/rankings?${new URLSearchParams({ object, ...range })}`);
  } catch (e) {
    fill(status, describe(e));
    return;
  }
  fill(status, data.title_zh, data.weights_verified ? '' : ` · ${t('rank.unverified')}`);
  const inds = data.rows.length ? data.rows[0].indicators : [];
  const showDrill = async (row, ind) => {
    fill(drill, t('rank.loading'));
    try {
      const q = new URLSearchParams({ object, id: row.id, indicator: ind.key, ...range });
      const d = await api(`/api/v1/rankings/cases?${q}`);
      fill(drill,
        h('h3', {}, `${row.name} · ${ind.name_zh} · ${d.cases.length}`),
        h('ul', {}, d.cases.map((c) => h('li', {},
          h('a', { href: `#/case/${c.id}` }, c.number), ` ${c.day} ${c.state}`))));
    } catch (e) {
      fill(drill, describe(e));
    }
  };
  const trend = async (row) => {
    if (typeof echarts === 'undefined') return;
    const months = [-5, -4, -3, -2, -1, 0].map((k) => shiftMonth(month, k));
    const scores = [];
    for (const m of months) {
      try {
        const d = await api(`/api/v1/rankings?${new URLSearchParams({ object, ...monthRange(m) })}`);
        const r = d.rows.find((x) => x.id === row.id);
        scores.push(r ? r.score : null);
      } catch {
        scores.push(null);
      }
    }
    if (ctx.chart) ctx.chart.dispose();
    ctx.chart = echarts.init(chart, null, { renderer: 'svg' });
    ctx.chart.setOption({
      title: { text: `${row.name} · ${t('rank.trend')}`, textStyle: { fontSize: 14 } },
      xAxis: { type: 'category', data: months },
      yAxis: { type: 'value', min: 0, max: 100 },
      // A month without a score is a gap; a lone score still shows as a labelled point.
      // clip: false keeps a point on the 100 line whole.
      series: [{ type: 'line', data: scores, connectNulls: false, showSymbol: true, clip: false,
        symbol: 'circle', symbolSize: 9, itemStyle: { color: '#0b5cad' }, lineStyle: { color: '#0b5cad' },
        label: { show: true, position: 'top' } }],
      animation: false,
      tooltip: { trigger: 'axis' },
    });
  };
  const head = h('tr', {}, [t('rank.rank'), t('rank.name'), t('rank.score'), t('rank.grade'),
    t('rank.change'), t('rank.honour')].map((s) => h('th', { scope: 'col' }, s)),
  inds.map((i) => h('th', { scope: 'col' }, i.name_zh)));
  const body = data.rows.map((row) => {
    const ch = row.rank_change;
    // Against a previous period without data there is no change to show (not a jump from 0).
    const change = row.previous_no_data || row.no_data
      ? h('span', { class: 'hint', title: t('rank.prev_no_data') }, '—')
      : ch === null || ch === undefined ? '—' : ch > 0 ? `↑${ch}` : ch < 0 ? `↓${-ch}` : '—';
    const honour = row.honour ? h('span', { class: `badge ${row.honour}` }, t(`rank.${row.honour}`)) : '';
    // 无数据: no case in the period, listed below the ranked rows, not scored or ranked.
    const score = row.no_data
      ? h('span', { class: 'badge nodata', title: t('rank.no_data_hint') }, t('rank.no_data'))
      : row.score ?? '—';
    return h('tr', { dataset: { id: row.id }, class: row.no_data ? 'no-data' : null },
      h('td', {}, row.rank ?? '—'),
      h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', onclick: () => trend(row) }, row.name)),
      h('td', {}, score),
      h('td', {}, row.grade ?? '—'),
      h('td', {}, change),
      h('td', {}, honour),
      // A row without cases has no figures to drill into: dashes, not a column of 0 links.
      row.indicators.map((i) => h('td', {},
        i.value === null || row.no_data ? '—'
          : h('button', { type: 'button', class: 'link', onclick: () => showDrill(row, i) }, fmt(i.value, i.unit)))));
  });
  const noData = data.rows.filter((r) => r.no_data).length;
  fill(table, h('table', {}, h('thead', {}, head), h('tbody', {}, body)),
    h('p', { class: 'hint', 'data-testid': 'rank-rules' },
      t('rank.rules', { n: data.honour_min_cases }),
      noData ? ` ${t('rank.no_data_count', { n: noData })}` : ''));
  if (data.rows.length) trend(data.rows[0]);
  heatMap(heatEl, heatLegend, drill, range);
}

/** The cases behind one grid cell, listed in `drill`. */
async function gridDrill(drill, code, n, range) {
  fill(drill, t('rank.loading'));
  try {
    const q = new URLSearchParams({ object: 'grid', id: code, indicator: 'registered', ...range });
    const d = await api(`/api/v1/rankings/cases?${q}`);
    fill(drill,
      h('h3', {}, `${t('rank.heat_grid')} ${code} · ${t('rank.heat_cases', { n })}`),
      h('ul', {}, d.cases.map((c) => h('li', {},
        h('a', { href: `#/case/${c.id}` }, c.number), ` ${c.day} ${c.state}`))));
  } catch (e) {
    fill(drill, describe(e));
  }
}

/** Grid cells coloured by the cases registered in them in `range`; a click drills down. */
async function heatMap(el, legend, drill, range) {
  if (typeof L === 'undefined') return;
  let heat;
  try {
    heat = await api(`/api/v1/rankings/grid-heat?${new URLSearchParams(range)}`);
  } catch (e) {
    fill(legend, describe(e));
    return;
  }
  const m = createMap(el, { label: t('rank.heat') });
  const { map } = m;
  await m.ready;
  const few = heat.features.length <= 40;
  const layer = m.geoJSON(heat, {
    style: (f) => ({
      className: 'heat-cell',
      color: '#5a2a00',
      weight: 1,
      fillColor: heatColour(f.properties.cases, heat.max),
      fillOpacity: 0.85,
    }),
    onEachFeature: (f, cell) => {
      const n = f.properties.cases;
      cell.bindTooltip(`${f.properties.code} · ${t('rank.heat_cases', { n })}`, few
        ? { permanent: true, direction: 'top', className: 'heat-label' } : {});
      cell.on('click', () => gridDrill(drill, f.properties.code, n, range));
      cell.on('add', () => {
        const path = cell.getElement && cell.getElement();
        if (path) {
          path.dataset.code = f.properties.code;
          path.dataset.cases = String(n);
        }
      });
    },
  }).addTo(map);
  if (heat.features.length) m.fitTo(layer.getBounds(), { padding: [24, 24], maxZoom: 16 });
  const steps = HEAT.map((c, k) => {
    const lo = Math.floor((k * heat.max) / HEAT.length) + 1;
    const hi = Math.floor(((k + 1) * heat.max) / HEAT.length);
    return hi >= lo ? [c, lo === hi ? `${lo}` : `${lo}–${hi}`] : null;
  }).filter(Boolean);
  fill(legend,
    h('span', {}, `${t('rank.heat_legend')}: `),
    heat.max ? steps.map(([c, label]) => h('span', { class: 'heat-step' },
      h('i', { style: `background:${c}` }), label)) : t('rank.heat_none'));
}
