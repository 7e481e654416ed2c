// Address search and reverse geocoding against the district's own territory
// (GET /api/v1/map/search and /api/v1/map/reverse; no outside service).
//
// API (stable):
//   searchPlaces(q, { limit }) → Promise<[{kind, label, roads, code, lat, lon, bbox}]>
//   reversePlace(lat, lon)     → Promise<{district, street, community, road, label, outside_district}>
//   placeText(answer)          → the place in the page's language ("二七区 · 福华街街道 · 大学路（陇海路—航海路段）附近")
//   addressSearch({ onChoose(place), id }) → a search box element with a result list

import { t, lang } from './i18n.js';
import { h } from './common.js';

/** Longest query the server accepts (docs/API-DESIGN.md, "Maps"). */
export const MAX_QUERY = 64;

export async function searchPlaces(q, { limit = 8 } = {}) {
  const r = await fetch(`/api/v1/map/search?${new URLSearchParams({ q, limit: String(limit) })}`);
  if (!r.ok) throw new Error(`search: HTTP ${r.status}`);
  return r.json();
}

export async function reversePlace(lat, lon) {
  const r = await fetch(`/api/v1/map/reverse?lat=${lat.toFixed(7)}&lon=${lon.toFixed(7)}`);
  if (!r.ok) throw new Error(`reverse: HTTP ${r.status}`);
  return r.json();
}

/** The reverse answer in words, in the page's language. */
export function placeText(a) {
  if (!a) return '';
  if (lang() === 'zh') return a.label;
  const parts = [];
  const d = a.district || a.neighbour_district;
  if (d) parts.push(d.name);
  if (a.street) parts.push(a.street.name);
  const r = a.road;
  if (r) {
    if (r.from && r.to) parts.push(t('geo.between', { road: r.road, a: r.from, b: r.to }));
    else if (r.from || r.to) parts.push(t('geo.at', { road: r.road, a: r.from || r.to }));
    else parts.push(t('geo.near', { road: r.road }));
  } else if (a.community) {
    parts.push(t('geo.near', { road: a.community.name }));
  }
  return parts.join(' · ');
}

const KIND_KEYS = { road: 'geo.kind_road', intersection: 'geo.kind_intersection', street: 'geo.kind_street', community: 'geo.kind_community' };

/**
 * A search box: typing lists matching roads, intersections, streets and communities;
 * choosing one calls onChoose(place). Keyboard: ↑/↓ move, Enter chooses, Esc closes.
 * @param {{ onChoose?: (place: any) => void, id?: string }} [opts]
 */
export function addressSearch({ onChoose, id = 'place-search' } = {}) {
  const input = h('input', {
    type: 'search',
    id,
    class: 'place-search',
    autocomplete: 'off',
    maxlength: String(MAX_QUERY),
    role: 'combobox',
    'aria-expanded': 'false',
    'aria-controls': `${id}-list`,
    'aria-autocomplete': 'list',
    placeholder: t('geo.search_ph'),
    'aria-label': t('geo.search_label'),
    'data-testid': 'place-search',
  });
  const list = h('ul', { id: `${id}-list`, class: 'place-results', role: 'listbox', hidden: true });
  const status = h('p', { class: 'place-status', 'aria-live': 'polite' });
  let results = [];
  let active = -1;
  let timer = null;
  let seq = 0;

  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    active = -1;
  };
  const choose = (p) => {
    close();
    input.value = p.label;
    status.textContent = '';
    onChoose && onChoose(p);
  };
  const render = () => {
    list.replaceChildren(
      ...results.map((p, i) =>
        h(
          'li',
          {
            role: 'option',
            id: `${id}-opt-${i}`,
            class: i === active ? 'active' : '',
            'aria-selected': String(i === active),
            onmousedown: (e) => e.preventDefault(),
            onclick: () => choose(p),
          },
          h('span', { class: 'place-kind' }, t(KIND_KEYS[p.kind] || 'geo.kind_road')),
          ' ',
          h('span', { class: 'place-label' }, p.label),
        ),
      ),
    );
    if (active >= 0) input.setAttribute('aria-activedescendant', `${id}-opt-${active}`);
    else input.removeAttribute('aria-activedescendant');
    list.hidden = !results.length;
    input.setAttribute('aria-expanded', String(!!results.length));
  };
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) {
      results = [];
      status.textContent = '';
      render();
      return;
    }
    try {
      const found = await searchPlaces(q.slice(0, MAX_QUERY));
      if (mine !== seq) return;
      results = found;
      active = found.length ? 0 : -1;
      status.textContent = found.length ? '' : t('geo.none');
      render();
    } catch {
      if (mine === seq) status.textContent = t('geo.failed');
    }
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 180);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && results.length) {
      e.preventDefault();
      active = (active + 1) % results.length;
      render();
    } else if (e.key === 'ArrowUp' && results.length) {
      e.preventDefault();
      active = (active + results.length - 1) % results.length;
      render();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (results[active]) choose(results[active]);
      else run();
    } else if (e.key === 'Escape') {
      close();
    }
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
  document.addEventListener('langchange', () => {
    input.placeholder = t('geo.search_ph');
    input.setAttribute('aria-label', t('geo.search_label'));
    render();
  });
  return h('div', { class: 'place-search-box' }, input, list, status);
}
