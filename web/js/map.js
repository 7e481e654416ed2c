// Maps of the district. Every map draws the territory stored in the database (what
// `cityloop territory import` loaded), read view by view from GET /api/v1/map/layers:
// with no tile source configured (the default, offline) that territory IS the base map —
// roads with their names along them, street and community boundaries and names, unit grids
// at close zoom, the district outline. When an admin configured a tile source
// (GET /api/v1/map/config), its tiles go underneath; for GCJ-02 tiles (Amap, Tencent) every
// overlay is shifted into GCJ-02 for display and every click is shifted back, so callers
// only ever see WGS84.
//
// API (stable; the staff console and the public page use only this):
//   createMap(el, { center: [lat, lon], zoom, onPick(lat, lon), label, base = true })
//     → handle {
//         map,                      the Leaflet map (its coordinates are the tiles' system)
//         ready,                    Promise: config loaded and the first view set
//         setPick(lat, lon, { pan, accuracy }),  the draggable pin (+ accuracy circle, m)
//         setCases(items, { fit }), case markers {lat, lon, colour, title, popup, onClick, radius}
//         showClusters({ heat, ring, onCase(caseId) }), server-side clusters of open cases (staff);
//         reloadClusters() reads them again (the leaders' view refreshing itself)
//         hideClusters(),
//         showPlace(place),         zoom to a search answer (see geocode.js)
//         locate({ onFound, onError }),  device location with an accuracy circle
//         geoJSON(data, options),   L.geoJSON with the WGS84 → map shift applied
//         fitTo(bounds, options),   fit the view (kept on resize until the user moves the map)
//         toMap(lat, lon), fromMap(latlng) → [lat, lon] WGS84,
//         refresh(),                after the container changed size
//       }
//   mapConfig()        → Promise of the server's map settings (tile source, extent)
//   inDistrict(lat, lon) → Promise<boolean> (reverse geocoding on the server)
//   LIGHT_COLOURS      case colours by light
//   wgs84ToGcj02(lat, lon), gcj02ToWgs84(lat, lon) → [lat, lon]

import { t } from './i18n.js';
import { h, session } from './common.js';

/* global L */

/** Colours of case markers by light. */
export const LIGHT_COLOURS = { green: '#1b7a36', yellow: '#a86200', red: '#c0262d' };

// ---- coordinate systems -----------------------------------------------------------------
// The published GCJ-02 forward formula (Krasovsky ellipsoid), as in
// crates/cityloop-geo/src/coords.rs; the inverse by fixed-point iteration.

const GCJ_A = 6378245.0;
const GCJ_EE = 0.006693421622965943;

function outOfChina(lat, lon) {
  return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
}

function tLat(x, y) {
  const p = Math.PI;
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * p) + 20 * Math.sin(2 * x * p)) * 2) / 3;
  r += ((20 * Math.sin(y * p) + 40 * Math.sin((y / 3) * p)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * p) + 320 * Math.sin((y * p) / 30)) * 2) / 3;
  return r;
}

function tLon(x, y) {
  const p = Math.PI;
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * p) + 20 * Math.sin(2 * x * p)) * 2) / 3;
  r += ((20 * Math.sin(x * p) + 40 * Math.sin((x / 3) * p)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * p) + 300 * Math.sin((x / 30) * p)) * 2) / 3;
  return r;
}

/** WGS84 → GCJ-02, as [lat, lon]. */
export function wgs84ToGcj02(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  let dLat = tLat(lon - 105, lat - 35);
  let dLon = tLon(lon - 105, lat - 35);
  const rad = (lat / 180) * Math.PI;
  const magic = 1 - GCJ_EE * Math.sin(rad) * Math.sin(rad);
  const sq = Math.sqrt(magic);
  dLat = (dLat * 180) / (((GCJ_A * (1 - GCJ_EE)) / (magic * sq)) * Math.PI);
  dLon = (dLon * 180) / ((GCJ_A / sq) * Math.cos(rad) * Math.PI);
  return [lat + dLat, lon + dLon];
}

/** GCJ-02 → WGS84, as [lat, lon] (round trip under 1e-9°). */
export function gcj02ToWgs84(lat, lon) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || outOfChina(lat, lon)) return [lat, lon];
  let wLat = lat;
  let wLon = lon;
  for (let i = 0; i < 50; i++) {
    const [gLat, gLon] = wgs84ToGcj02(wLat, wLon);
    const eLat = gLat - lat;
    const eLon = gLon - lon;
    wLat -= eLat;
    wLon -= eLon;
    if (Math.abs(eLat) < 1e-10 && Math.abs(eLon) < 1e-10) break;
  }
  return [wLat, wLon];
}

// ---- server settings --------------------------------------------------------------------

let configPromise = null;

/** The map settings: `{ tiles: null | {url, subdomains, attribution, max_zoom, coord}, extent, schematic }`. */
export function mapConfig() {
  if (!configPromise) {
    configPromise = fetch('/api/v1/map/config', { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`map config: HTTP ${r.status}`))))
      .catch((e) => {
        configPromise = null;
        throw e;
      });
  }
  return configPromise;
}

/** Whether a WGS84 point is inside the district (asks the server's reverse geocoder). */
export async function inDistrict(lat, lon) {
  const r = await fetch(`/api/v1/map/reverse?lat=${lat}&lon=${lon}`);
  if (!r.ok) return true;
  return !(await r.json()).outside_district;
}

function authHeaders() {
  const tok = session.token;
  return tok ? { Authorization: `Bearer ${tok}` } : {};
}

// ---- drawing ----------------------------------------------------------------------------

const TINTS = ['#eef2f7', '#eef4ec', '#f7f2e8', '#f1edf6', '#ebf3f4', '#f6eeee'];
/** Largest side of a layer request, in pixels (the server allows 4096). */
const MAX_SPAN_PX = 4000;

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function hasCjk(s) {
  return /[\u4e00-\u9fff]/.test(s);
}

/** Road line widths by zoom. */
function roadWidth(z) {
  return z >= 17 ? 9 : z >= 16 ? 7 : z >= 15 ? 5 : z >= 14 ? 4 : z >= 13 ? 3 : 2;
}

let pathSeq = 0;

/**
 * Creates a map in `el`; see the API at the top of this file.
 * @param {HTMLElement} el
 * @param {{ center?: number[], zoom?: number, onPick?: (lat: number, lon: number) => void, label?: string, base?: boolean }} [opts]
 */
export function createMap(el, { center, zoom, onPick, label, base = true } = {}) {
  L.Icon.Default.imagePath = '/assets/vendor/leaflet/images/';
  const map = L.map(el, {
    zoomSnap: 0.5,
    minZoom: 8,
    maxZoom: 19,
    attributionControl: true,
    keyboard: true,
  });
  el.setAttribute('role', 'application');
  el.setAttribute('aria-label', label || t('map.label'));
  el.classList.add('territory-map');
  map.attributionControl.setPrefix(false);
  // A map created before its container is laid out (a tab, a split view) keeps its centre
  // when the container gets its size.
  if (typeof ResizeObserver === 'function') {
    let size = '';
    new ResizeObserver(() => {
      const now = `${el.clientWidth}x${el.clientHeight}`;
      if (now === size || !el.clientWidth) return;
      size = now;
      map.invalidateSize();
      if (fitted && !moved) map.fitBounds(fitted, { padding: [8, 8] });
    }).observe(el);
  }
  for (const ev of ['pointerdown', 'wheel', 'keydown']) el.addEventListener(ev, () => (moved = true), { passive: true });

  let sys = 'wgs84';
  const toMap = (lat, lon) => (sys === 'gcj02' ? wgs84ToGcj02(lat, lon) : [lat, lon]);
  const fromMap = (ll) => (sys === 'gcj02' ? gcj02ToWgs84(ll.lat, ll.lng) : [ll.lat, ll.lng]);
  const coordsToLatLng = (c) => L.latLng(...toMap(c[1], c[0]));
  const geoJSON = (data, options = {}) => L.geoJSON(data, { coordsToLatLng, ...options });
  /** Fits the view to `bounds` (map coordinates) and keeps it fitted when the container resizes. */
  const fitTo = (bounds, options = {}) => {
    fitted = bounds;
    map.fitBounds(bounds, { padding: [8, 8], ...options });
  };

  // Panes, bottom to top: areas, grids, district outline, roads, road names, cases, pin.
  map.createPane('areas').style.zIndex = 300;
  map.createPane('roads').style.zIndex = 380;
  map.createPane('clusters').style.zIndex = 440;
  map.createPane('cases').style.zIndex = 450;
  const roadRenderer = L.svg({ pane: 'roads', padding: 0.5 });
  const areaRenderer = L.svg({ pane: 'areas', padding: 0.5 });

  let badge = null;
  let attribution = null;
  const baseLayer = L.layerGroup().addTo(map);
  const cases = L.layerGroup().addTo(map);
  const clusterLayer = L.layerGroup().addTo(map);
  let roadLabels = [];
  let pick = null;
  let accuracyCircle = null;
  let lastCases = null;
  let clusters = null;
  let fitted = null;
  let moved = false;

  const ready = mapConfig()
    .catch(() => ({ tiles: null, extent: null, schematic: true }))
    .then((cfg) => {
      const tiles = cfg.tiles;
      if (tiles) {
        sys = tiles.coord === 'gcj02' ? 'gcj02' : 'wgs84';
        L.tileLayer(tiles.url, {
          subdomains: tiles.subdomains || 'abc',
          maxZoom: Math.min(19, tiles.max_zoom || 18),
          maxNativeZoom: tiles.max_zoom || 18,
          // Leaflet writes attributions as HTML: the admin's text goes in as text.
          attribution: escapeHtml(tiles.attribution || ''),
          key: tiles.key || '',
          crossOrigin: false,
        }).addTo(map);
        el.classList.add('has-tiles');
      }
      attribution = tiles ? '' : t('map.attribution_territory');
      if (attribution) map.attributionControl.addAttribution(attribution);
      if (cfg.schematic) {
        badge = L.control({ position: 'topright' });
        badge.onAdd = () => h('div', { class: 'map-badge', 'data-testid': 'schematic' }, t('map.schematic'));
        badge.addTo(map);
      }
      const ext = cfg.extent;
      if (ext) {
        const b = L.latLngBounds([toMap(ext[1], ext[0]), toMap(ext[3], ext[2])]);
        map.setMaxBounds(b.pad(0.6));
        if (center) map.setView(toMap(center[0], center[1]), zoom || 14);
        else {
          map.fitBounds(b, { padding: [8, 8] });
          // Fit again when the container gets its real size, until someone moves the map.
          fitted = b;
        }
      } else if (center) {
        map.setView(toMap(center[0], center[1]), zoom || 14);
      } else {
        map.setView([0, 0], 2);
      }
      if (lastCases) setCases(lastCases.items, lastCases.opts);
      if (pick) {
        const w = pick.wgs;
        pick.marker.setLatLng(toMap(w[0], w[1]));
      }
      if (base) loadBase();
      return map;
    });

  document.addEventListener('langchange', () => {
    if (attribution) {
      map.attributionControl.removeAttribution(attribution);
      attribution = t('map.attribution_territory');
      map.attributionControl.addAttribution(attribution);
    }
  });

  // ---- the territory as the base map ----
  let inflight = null;
  let timer = null;
  let seq = 0;

  function viewQuery() {
    const z = Math.max(0, Math.min(22, Math.floor(map.getZoom())));
    const b = map.getBounds().pad(0.2);
    const sw = fromMap(b.getSouthWest());
    const ne = fromMap(b.getNorthEast());
    let [s, w] = sw;
    let [n, e] = ne;
    // Keep within the server's limit: at most MAX_SPAN_PX pixels per side.
    const maxDeg = (MAX_SPAN_PX * 360) / (256 * 2 ** z);
    const cx = (w + e) / 2;
    const cy = (s + n) / 2;
    if (e - w > maxDeg) [w, e] = [cx - maxDeg / 2, cx + maxDeg / 2];
    if (n - s > maxDeg) [s, n] = [cy - maxDeg / 2, cy + maxDeg / 2];
    w = Math.max(-180, w);
    e = Math.min(180, e);
    s = Math.max(-90, s);
    n = Math.min(90, n);
    const f = (v) => v.toFixed(5);
    return { z, q: `bbox=${f(w)},${f(s)},${f(e)},${f(n)}&zoom=${z}` };
  }

  async function loadBase() {
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    const { z, q } = viewQuery();
    const mine = ++seq;
    try {
      const r = await fetch(`/api/v1/map/layers?${q}`, { headers: authHeaders(), signal: ctl.signal });
      if (!r.ok) return;
      const data = await r.json();
      if (mine !== seq) return;
      drawBase(data, z);
    } catch (e) {
      if (e.name !== 'AbortError') el.dataset.baseError = String(e.message || e);
    }
  }

  function scheduleBase() {
    clearTimeout(timer);
    timer = setTimeout(loadBase, 120);
  }

  function drawBase(data, z) {
    baseLayer.clearLayers();
    for (const t0 of roadLabels) t0.remove();
    roadLabels = [];
    const by = { streets: [], communities: [], grids: [], district: [], roads: [] };
    for (const f of data.features) (by[f.properties.layer] || []).push(f);
    const tinted = el.classList.contains('has-tiles') ? 0.12 : 1;
    const fc = (features) => ({ type: 'FeatureCollection', features });

    geoJSON(fc(by.streets), {
      renderer: areaRenderer,
      interactive: false,
      style: (f) => ({
        color: '#7d8ea3',
        weight: 1.2,
        dashArray: '5 4',
        fillColor: TINTS[(parseInt(f.properties.code.slice(-3), 10) || 0) % TINTS.length],
        fillOpacity: tinted,
      }),
      onEachFeature: (f, layer) => {
        if (z < 15) {
          layer.bindTooltip(f.properties.name, {
            permanent: true,
            direction: 'center',
            className: 'street-label',
            interactive: false,
          });
        }
      },
    }).addTo(baseLayer);
    geoJSON(fc(by.communities), {
      renderer: areaRenderer,
      interactive: false,
      style: { color: '#9aa8b8', weight: 0.8, fill: false },
      onEachFeature: (f, layer) => {
        if (z >= 14) {
          layer.bindTooltip(f.properties.name, {
            permanent: true,
            direction: 'center',
            className: 'community-label',
            interactive: false,
          });
        }
      },
    }).addTo(baseLayer);
    geoJSON(fc(by.grids), {
      renderer: areaRenderer,
      interactive: false,
      style: { color: '#b3bfcc', weight: 0.6, dashArray: '2 3', fill: false },
    }).addTo(baseLayer);
    geoJSON(fc(by.district), {
      renderer: areaRenderer,
      interactive: false,
      style: { color: '#0b4f94', weight: 2.5, fill: false },
    }).addTo(baseLayer);

    // Roads: read left to right, so a name along the line is never upside down.
    for (const f of by.roads) {
      const c = f.geometry.coordinates;
      if (c.length > 1 && c[0][0] > c[c.length - 1][0]) c.reverse();
    }
    const w = roadWidth(z);
    geoJSON(fc(by.roads), {
      renderer: roadRenderer,
      interactive: false,
      style: { color: '#c3ccd6', weight: w + 2, lineCap: 'round', lineJoin: 'round' },
    }).addTo(baseLayer);
    const lines = geoJSON(fc(by.roads), {
      renderer: roadRenderer,
      interactive: false,
      style: (f) => ({
        color: f.properties.name ? '#ffffff' : '#f4f6f8',
        weight: w,
        lineCap: 'round',
        lineJoin: 'round',
        className: 'road',
      }),
      onEachFeature: (f, layer) => {
        layer.on('add', () => {
          const p = layer.getElement();
          if (p) {
            p.dataset.road = f.properties.name || '';
            p.dataset.segment = f.properties.id;
          }
        });
      },
    }).addTo(baseLayer);
    if (z >= 13) labelRoads(lines, z);
  }

  /** Writes road names along their lines (SVG textPath), where a name fits. */
  function labelRoads(group, z) {
    const placed = [];
    const size = z >= 16 ? 13 : 12;
    const candidates = [];
    group.eachLayer((layer) => {
      const name = layer.feature.properties.name;
      if (!name) return;
      const pts = layer.getLatLngs().map((ll) => map.latLngToLayerPoint(ll));
      let len = 0;
      for (let i = 1; i < pts.length; i++) len += pts[i].distanceTo(pts[i - 1]);
      const need = [...name].reduce((a, ch) => a + (hasCjk(ch) ? size : size * 0.58), 0) + 16;
      if (len < need) return;
      const mid = pts[Math.floor(pts.length / 2)];
      candidates.push({ layer, name, len, mid });
    });
    candidates.sort((a, b) => b.len - a.len);
    for (const c of candidates) {
      // One name per stretch: skip a label too close to one of the same road.
      if (placed.some((p) => p.name === c.name && p.mid.distanceTo(c.mid) < 220)) continue;
      if (placed.some((p) => p.mid.distanceTo(c.mid) < 24)) continue;
      const path = c.layer.getElement();
      if (!path || !path.parentNode) continue;
      if (!path.id) path.id = `road-path-${++pathSeq}`;
      const ns = 'http://www.w3.org/2000/svg';
      const text = document.createElementNS(ns, 'text');
      text.setAttribute('class', 'road-label');
      text.setAttribute('dy', '0.35em');
      text.style.fontSize = `${size}px`;
      const tp = document.createElementNS(ns, 'textPath');
      tp.setAttribute('href', `#${path.id}`);
      tp.setAttribute('startOffset', '50%');
      tp.setAttribute('text-anchor', 'middle');
      tp.textContent = c.name;
      text.append(tp);
      path.parentNode.append(text);
      roadLabels.push(text);
      placed.push(c);
    }
  }

  if (base) map.on('moveend', scheduleBase);


  // ---- pin, location ----
  /**
   * @param {number} lat
   * @param {number} lon
   * @param {{ pan?: boolean, accuracy?: number }} [opts]
   */
  function setPick(lat, lon, { pan = false, accuracy } = {}) {
    const at = toMap(lat, lon);
    if (!pick) {
      const marker = L.marker(at, { draggable: true, keyboard: true, title: t('map.pin'), alt: t('map.pin'), pane: 'markerPane' }).addTo(map);
      pick = { marker, wgs: [lat, lon] };
      marker.on('dragend', () => {
        const [la, lo] = fromMap(marker.getLatLng());
        pick.wgs = [la, lo];
        if (accuracyCircle) {
          accuracyCircle.remove();
          accuracyCircle = null;
        }
        if (onPick) onPick(la, lo);
      });
    } else {
      pick.marker.setLatLng(at);
      pick.wgs = [lat, lon];
    }
    if (accuracyCircle) {
      accuracyCircle.remove();
      accuracyCircle = null;
    }
    if (Number.isFinite(accuracy) && accuracy > 0) {
      accuracyCircle = L.circle(at, {
        radius: accuracy,
        color: '#0b5cad',
        weight: 1,
        fillColor: '#0b5cad',
        fillOpacity: 0.12,
        interactive: false,
        className: 'accuracy-circle',
      }).addTo(map);
    }
    if (pan) {
      moved = true;
      if (accuracyCircle && accuracy > 60) map.fitBounds(accuracyCircle.getBounds(), { maxZoom: 17 });
      else map.setView(at, Math.max(map.getZoom(), 16));
    }
  }

  /** @param {{ onFound?: (lat: number, lon: number, accuracy: number) => void, onError?: (err: any, unsupported: boolean) => void }} [opts] */
  function locate({ onFound, onError } = {}) {
    if (!navigator.geolocation) {
      if (onError) onError(new Error('unsupported'), true);
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const { latitude, longitude, accuracy } = pos.coords;
        setPick(latitude, longitude, { pan: true, accuracy });
        if (onFound) onFound(latitude, longitude, accuracy);
        else if (onPick) onPick(latitude, longitude);
      },
      (e) => onError && onError(e, false),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  }

  if (onPick) {
    el.classList.add('pickable');
    map.on('click', (e) => {
      const [lat, lon] = fromMap(e.latlng);
      setPick(lat, lon);
      onPick(lat, lon);
    });
    el.addEventListener('keydown', (e) => {
      if (e.target !== el) return;
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        const [lat, lon] = fromMap(map.getCenter());
        setPick(lat, lon);
        onPick(lat, lon);
      }
    });
  }

  /** Zooms to a search answer ({lat, lon, bbox}). */
  function showPlace(place) {
    moved = true;
    const [w, s, e, n] = place.bbox || [];
    if (place.kind === 'intersection' || !Number.isFinite(w)) {
      map.setView(toMap(place.lat, place.lon), Math.max(map.getZoom(), 17));
    } else {
      map.fitBounds(L.latLngBounds([toMap(s, w), toMap(n, e)]), { padding: [16, 16], maxZoom: 17 });
    }
  }

  /** Replaces the case markers. items: {lat, lon, colour, title, popup (Node), onClick}. */
  function setCases(items, opts = {}) {
    lastCases = { items, opts };
    cases.clearLayers();
    const pts = [];
    for (const it of items) {
      if (!Number.isFinite(it.lat) || !Number.isFinite(it.lon)) continue;
      const at = toMap(it.lat, it.lon);
      const m = L.circleMarker(at, {
        pane: 'cases',
        radius: it.radius || 7,
        color: '#ffffff',
        weight: 2,
        fillColor: it.colour || '#0b5cad',
        fillOpacity: 0.95,
      });
      if (it.title) m.bindTooltip(it.title);
      if (it.popup) m.bindPopup(it.popup);
      if (it.onClick) m.on('click', it.onClick);
      m.addTo(cases);
      pts.push(at);
    }
    if (opts.fit && pts.length) {
      moved = true;
      ready.then(() => {
        // Only points near the district count: a report far outside would zoom out to the world.
        const area = map.options.maxBounds;
        const near = area ? pts.filter((p) => area.contains(p)) : pts;
        if (!near.length) return;
        if (near.length === 1) map.setView(near[0], 15);
        else map.fitBounds(near, { padding: [24, 24], maxZoom: 15 });
      });
    }
  }

  // ---- clusters of open cases (staff) ----
  async function loadClusters() {
    if (!clusters) return;
    const { q } = viewQuery();
    const mine = ++clusters.seq;
    let data;
    try {
      const r = await fetch(`/api/v1/map/clusters?${q}`, { headers: authHeaders() });
      if (!r.ok) return;
      data = await r.json();
    } catch {
      return;
    }
    if (!clusters || mine !== clusters.seq) return;
    clusterLayer.clearLayers();
    el.dataset.clusterTotal = String(data.total);
    for (const c of data.clusters) {
      if (clusters.heat) {
        const [w, s, e, n] = c.bbox;
        const k = data.max ? c.count / data.max : 0;
        L.rectangle(L.latLngBounds([toMap(s, w), toMap(n, e)]), {
          pane: 'clusters',
          stroke: false,
          fillColor: k > 0.66 ? '#b3001b' : k > 0.33 ? '#e8590c' : '#f4b400',
          fillOpacity: 0.25 + 0.5 * k,
          className: 'heat-cell',
        })
          .bindTooltip(t('map.cluster_cases', { n: c.count }))
          .on('click', () => zoomInto(c))
          .addTo(clusterLayer);
        continue;
      }
      const size = c.count >= 1000 ? 52 : c.count >= 100 ? 44 : c.count >= 10 ? 36 : 28;
      // `ring`: the overdue share as a red arc around the count (the leaders' view).
      const ring = clusters.ring ? ` style="--overdue:${Math.round((360 * c.overdue) / Math.max(1, c.count))}deg"` : '';
      const icon = L.divIcon({
        className: `case-cluster${c.overdue ? ' has-overdue' : ''}${clusters.ring ? ' ring' : ''}`,
        html: `<span${ring}>${c.count}</span>`,
        iconSize: [size, size],
      });
      L.marker(toMap(c.lat, c.lon), { icon, pane: 'clusters', keyboard: true, title: t('map.cluster_cases', { n: c.count }) })
        .on('click', () => zoomInto(c))
        .addTo(clusterLayer);
    }
  }

  function zoomInto(c) {
    if (c.count === 1 && c.case_id && clusters.onCase) {
      clusters.onCase(c.case_id);
      return;
    }
    const [w, s, e, n] = c.bbox;
    map.fitBounds(L.latLngBounds([toMap(s, w), toMap(n, e)]), { maxZoom: 19 });
  }

  /** @param {{ heat?: boolean, ring?: boolean, onCase?: (id: string) => void }} [opts] */
  function showClusters({ heat = false, ring = false, onCase } = {}) {
    clusters = { heat, ring, onCase, seq: 0 };
    map.on('moveend', loadClusters);
    ready.then(loadClusters);
  }

  function hideClusters() {
    clusters = null;
    map.off('moveend', loadClusters);
    clusterLayer.clearLayers();
  }

  /** Call after the container changed size (e.g. a tab became visible). */
  function refresh() {
    map.invalidateSize();
  }

  const handle = {
    map,
    ready,
    reloadClusters: () => loadClusters(),
    setPick,
    setCases,
    showClusters,
    hideClusters,
    showPlace,
    locate,
    geoJSON,
    fitTo,
    toMap,
    fromMap: (ll) => fromMap(ll),
    refresh,
  };
  // The browser tests place clicks at known map positions through this.
  /** @type {any} */ (el).cityloopMap = handle;
  return handle;
}
