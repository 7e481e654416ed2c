// Maps without any tile server: Leaflet draws only the district's own geometry (the
// outline and the street offices, embedded in the binary under /assets/geo/) and the
// case markers. Every map carries the "示意数据 / schematic data" label, since the
// street polygons are generated stand-ins.

import { t } from './i18n.js';
import { h, inGeometry } from './common.js';

/* global L */

let geoPromise = null;

/** The district outline and street polygons (fetched once). */
export function geometry() {
  if (!geoPromise) {
    const get = (f) =>
      fetch(`/assets/geo/${f}`).then((r) => {
        if (!r.ok) throw new Error(`${f}: HTTP ${r.status}`);
        return r.json();
      });
    geoPromise = Promise.all([get('erqi_district.wgs84.geojson'), get('erqi_streets.geojson')]).then(
      ([district, streets]) => ({ district, streets }),
    );
  }
  return geoPromise;
}

/** Whether a point is inside the district outline. */
export async function inDistrict(lat, lon) {
  const { district } = await geometry();
  return district.features.some((f) => inGeometry(lon, lat, f.geometry));
}

/** The street feature containing a point, if any. */
export async function streetAt(lat, lon) {
  const { streets } = await geometry();
  return streets.features.find((f) => inGeometry(lon, lat, f.geometry)) || null;
}

const TINTS = ['#f4f7fb', '#eef5ee', '#fbf6ec', '#f3eff8', '#eef6f7'];

/** Colours of case markers by light. */
export const LIGHT_COLOURS = { green: '#1b7a36', yellow: '#a86200', red: '#c0262d' };

/**
 * Creates a map in `el`. Options: `center` [lat, lon] and `zoom` (default: fit the
 * district), `onPick(lat, lon)` to let the user pick a spot by tapping (or Enter on the
 * focused map, which picks its centre), `label` for screen readers.
 * @param {HTMLElement} el
 * @param {{ center?: number[], zoom?: number, onPick?: (lat: number, lon: number) => void, label?: string }} [opts]
 */
export function createMap(el, { center, zoom, onPick, label } = {}) {
  L.Icon.Default.imagePath = '/assets/vendor/leaflet/images/';
  const map = L.map(el, {
    zoomSnap: 0.5,
    minZoom: 9,
    maxZoom: 18,
    attributionControl: true,
    keyboard: true,
  });
  el.setAttribute('role', 'application');
  el.setAttribute('aria-label', label || t('map.label'));
  map.attributionControl.setPrefix(false);

  const badge = L.control({ position: 'topright' });
  badge.onAdd = () => h('div', { class: 'map-badge', 'data-testid': 'schematic' }, t('map.schematic'));
  badge.addTo(map);

  let attribution = t('map.attribution');
  map.attributionControl.addAttribution(attribution);
  document.addEventListener('langchange', () => {
    map.attributionControl.removeAttribution(attribution);
    attribution = t('map.attribution');
    map.attributionControl.addAttribution(attribution);
  });

  // Case markers sit in their own pane above the territory, whatever loads first.
  map.createPane('cases').style.zIndex = 450;
  const cases = L.layerGroup().addTo(map);
  let pick = null;
  const ready = geometry().then(({ district, streets }) => {
    L.geoJSON(streets, {
      interactive: false,
      style: (f) => ({
        color: '#8a9bb0',
        weight: 1,
        dashArray: '4 3',
        fillColor: TINTS[streets.features.indexOf(f) % TINTS.length],
        fillOpacity: 1,
      }),
      onEachFeature: (f, layer) => {
        layer.bindTooltip(f.properties.name, {
          permanent: true,
          direction: 'center',
          className: 'street-label',
          interactive: false,
        });
      },
    }).addTo(map);
    const outline = L.geoJSON(district, {
      interactive: false,
      style: { color: '#0b4f94', weight: 2.5, fill: false },
    }).addTo(map);
    const bounds = outline.getBounds();
    map.setMaxBounds(bounds.pad(0.6));
    if (center) map.setView(center, zoom || 14);
    else map.fitBounds(bounds, { padding: [8, 8] });
    return map;
  });

  // Street names only where there is room for them.
  const toggleLabels = () => el.classList.toggle('hide-street-labels', map.getZoom() < 11.5);
  map.on('zoomend', toggleLabels);
  map.whenReady(toggleLabels);

  function setPick(lat, lon, { pan = false } = {}) {
    if (!pick) {
      pick = L.marker([lat, lon], { draggable: true, keyboard: true, title: '', alt: '' }).addTo(map);
      pick.on('dragend', () => {
        const p = pick.getLatLng();
        onPick && onPick(p.lat, p.lng);
      });
    } else {
      pick.setLatLng([lat, lon]);
    }
    if (pan) map.setView([lat, lon], Math.max(map.getZoom(), 14));
  }

  if (onPick) {
    el.classList.add('pickable');
    map.on('click', (e) => {
      setPick(e.latlng.lat, e.latlng.lng);
      onPick(e.latlng.lat, e.latlng.lng);
    });
    el.addEventListener('keydown', (e) => {
      if (e.target !== el) return;
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        const c = map.getCenter();
        setPick(c.lat, c.lng);
        onPick(c.lat, c.lng);
      }
    });
  }

  /** Replaces the case markers. items: {lat, lon, colour, title, popup (Node), onClick}. */
  function setCases(items, { fit = false } = {}) {
    cases.clearLayers();
    const pts = [];
    for (const it of items) {
      if (!Number.isFinite(it.lat) || !Number.isFinite(it.lon)) continue;
      const m = L.circleMarker([it.lat, it.lon], {
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
      pts.push([it.lat, it.lon]);
    }
    if (fit && pts.length) {
      ready.then(() => {
        // Only points near the district count: a report far outside would zoom out to the world.
        const area = map.options.maxBounds;
        const near = area ? pts.filter((p) => area.contains(p)) : pts;
        if (!near.length) return;
        pts.splice(0, pts.length, ...near);
        if (pts.length === 1) map.setView(pts[0], 14);
        else map.fitBounds(pts, { padding: [24, 24], maxZoom: 14 });
      });
    }
  }

  /** Call after the container changed size (e.g. a tab became visible). */
  function refresh() {
    map.invalidateSize();
  }

  return { map, ready, setPick, setCases, refresh };
}
