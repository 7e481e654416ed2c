// The public page: report a problem (Open311 POST), follow a case by its query code or
// number (GET /api/v1/public/cases/{ref}: steps, photos, replies in citizen words), the
// reports made from this browser (local storage only), "my reports" by phone and a
// one-time text-message code (POST /api/v1/public/my/{code,cases}), and the open cases nearby. Everything goes through /open311/v2/ with the page's own API key,
// read from GET /api/v1/public/config (an admin may rotate it: on a 403 the page reads it
// again and retries once; the key is never written into this file).

import { t, lang, applyStatic, wireToggle } from './i18n.js';
import {
  h,
  fill,
  fmtTime,
  timeEl,
  fmtDistance,
  distance,
  open311,
  api,
  showError,
  clearErrors,
  clearOnInput,
  randomKey,
  announce,
  ApiError,
  safeLink,
  field,
} from './common.js';
import { createMap } from './map.js';
import { addressSearch, reversePlace, placeText } from './geocode.js';
import { uploadPhoto } from './photos.js';
import { icon } from './icons.js';

/** The page's Open311 key, as the server hands it out (see pageKey). */
let apiKey = null;

/** The page's current key; `fresh` reads it again (after a rotation). */
async function pageKey({ fresh = false } = {}) {
  if (apiKey && !fresh) return apiKey;
  const resp = await fetch('/api/v1/public/config', { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!resp.ok) throw new ApiError({ status: resp.status, code: `http_${resp.status}`, message: resp.statusText });
  const config = await resp.json();
  apiKey = config.open311_api_key;
  state.top = config.top_services || [];
  return apiKey;
}
/** The old town around 德化街: where most reports come from, inside the district. */
const CITY_CENTRE = [34.7445, 113.6445];

/**
 * The element with `id` (typed loosely: the page knows what it put there).
 * @param {string} id
 * @returns {any}
 */
const $ = (id) => document.getElementById(id);

const state = {
  services: [],
  definitions: new Map(),
  pick: null,
  idempotencyKey: randomKey(),
  maps: {},
  open: null,
  nearbySpot: null,
};

// ---- tabs ----------------------------------------------------------------------------

const TABS = ['report', 'track', 'mine', 'nearby'];

function showTab(name, { focus = false } = {}) {
  for (const n of TABS) {
    const tab = $(`tab-${n}`);
    const on = n === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${n}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  if (name === 'report') ensureReportMap();
  if (name === 'nearby') ensureNearby();
  for (const m of Object.values(state.maps)) m.refresh();
}

function wireTabs() {
  for (const n of TABS) {
    const tab = $(`tab-${n}`);
    tab.addEventListener('click', () => {
      history.replaceState(null, '', `#${n}`);
      showTab(n);
    });
    tab.addEventListener('keydown', (e) => {
      const i = TABS.indexOf(n);
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % TABS.length;
      if (e.key === 'ArrowLeft') j = (i + TABS.length - 1) % TABS.length;
      if (e.key === 'Home') j = 0;
      if (e.key === 'End') j = TABS.length - 1;
      if (j !== null) {
        e.preventDefault();
        history.replaceState(null, '', `#${TABS[j]}`);
        showTab(TABS[j], { focus: true });
      }
    });
  }
}

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  const [name, arg] = hash.split('/');
  if (name === 'track') {
    showTab('track');
    if (arg) {
      $('track-number').value = arg;
      lookUp(arg);
    }
  } else if (TABS.includes(name)) {
    showTab(name);
  } else {
    showTab('report');
  }
}

// ---- categories ----------------------------------------------------------------------

async function loadServices() {
  try {
    state.services = await open311('services.json');
    if (!state.top) await pageKey();
  } catch (err) {
    showError($('report-form'), err);
    return;
  }
  renderTop();
  renderCategories();
}

/** The most common problems as large buttons: one tap picks the category. */
function renderTop() {
  const box = $('top-services');
  const label = $('top-services-label');
  const chosen = $('category').value;
  const buttons = (state.top || [])
    .map(({ service_code: code, icon: name }) => {
      const svc = state.services.find((s) => s.service_code === code);
      if (!svc) return null;
      const b = h('button', { type: 'button', class: 'top-service', 'aria-pressed': String(code === chosen), dataset: { code } }, icon(name), h('span', {}, svc.service_name));
      b.addEventListener('click', () => {
        $('category-search').value = '';
        renderCategories();
        $('category').value = code;
        onCategory();
        renderTop();
        $('category-picked').scrollIntoView({ block: 'nearest' });
      });
      return b;
    })
    .filter(Boolean);
  fill(box, label, buttons);
  box.hidden = buttons.length === 0;
}

function renderCategories() {
  const select = $('category');
  const chosen = select.value;
  const q = $('category-search').value.trim().toLowerCase();
  const groups = new Map();
  for (const s of state.services) {
    const hay = `${s.service_name} ${s.group} ${s.keywords} ${s.service_code}`.toLowerCase();
    if (q && !hay.includes(q)) continue;
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  fill(
    select,
    [...groups].map(([group, list]) =>
      h(
        'optgroup',
        { label: group },
        list.map((s) => h('option', { value: s.service_code, selected: s.service_code === chosen }, `${s.service_name}`)),
      ),
    ),
  );
  if (!groups.size) select.append(h('option', { disabled: true, value: '' }, t('report.category_none')));
  // A single match is the user's choice.
  const all = [...groups.values()].flat();
  if (q && all.length === 1 && select.value !== all[0].service_code) {
    select.value = all[0].service_code;
    onCategory();
  }
}

async function onCategory() {
  const code = $('category').value;
  const svc = state.services.find((s) => s.service_code === code);
  $('category-picked').textContent = svc ? t('report.category_picked', { name: `${svc.service_name}（${svc.group}）` }) : '';
  const box = $('attributes');
  fill(box);
  if (!svc || !svc.metadata) return;
  let def = state.definitions.get(code);
  if (!def) {
    try {
      def = await open311(`services/${encodeURIComponent(code)}.json`);
      state.definitions.set(code, def);
    } catch (err) {
      showError($('report-form'), err);
      return;
    }
  }
  if ($('category').value !== code) return;
  renderAttributes(box, def.attributes || []);
}

function renderAttributes(box, attrs) {
  const list = [...attrs].sort((a, b) => a.order - b.order);
  if (list.length) box.append(h('h3', {}, t('report.details')));
  for (const a of list) {
    const id = `attr-${a.code}`;
    const name = `attribute[${a.code}]`;
    if (!a.variable) {
      box.append(h('p', { class: 'notice', id }, a.description));
      continue;
    }
    const label = `${a.description}${a.required ? ' *' : ` (${t('report.optional')})`}`;
    const err = h('p', { class: 'field-error', id: `${id}-error`, hidden: true, 'aria-live': 'polite' });
    if (a.datatype === 'multivaluelist') {
      box.append(
        h(
          'fieldset',
          { class: 'field', dataset: { field: name }, 'aria-required': a.required ? 'true' : null },
          h('legend', {}, label),
          a.values.map((v, i) =>
            h(
              'label',
              { class: 'check' },
              h('input', { type: 'checkbox', name: `${name}[]`, value: v.key, id: i === 0 ? id : null }),
              ` ${v.name}`,
            ),
          ),
          err,
        ),
      );
      continue;
    }
    let control;
    if (a.datatype === 'singlevaluelist') {
      control = h(
        'select',
        { name, required: a.required },
        h('option', { value: '' }, a.datatype_description || '—'),
        a.values.map((v) => h('option', { value: v.key }, v.name)),
      );
    } else if (a.datatype === 'number') {
      control = h('input', { type: 'number', name, inputmode: 'decimal', step: 'any', required: a.required });
    } else if (a.datatype === 'datetime') {
      control = h('input', { type: 'datetime-local', name, required: a.required, dataset: { datetime: '1' } });
    } else if (a.datatype === 'text') {
      control = h('textarea', { name, rows: 3, required: a.required });
    } else {
      control = h('input', { type: 'text', name, required: a.required });
    }
    control.id = id;
    box.append(
      h(
        'div',
        { class: 'field', dataset: { field: name } },
        h('label', { for: id }, label),
        a.datatype_description && a.datatype !== 'singlevaluelist'
          ? h('p', { class: 'hint' }, a.datatype_description)
          : null,
        control,
        err,
      ),
    );
  }
}

// ---- location ------------------------------------------------------------------------

function ensureReportMap() {
  if (state.maps.report) return;
  state.maps.report = createMap($('report-map'), {
    center: CITY_CENTRE,
    zoom: 13,
    label: t('report.location_hint'),
    onPick: (lat, lon) => setPick(lat, lon),
  });
  // Search the district's own roads, intersections, streets and communities.
  $('report-map').before(
    addressSearch({
      id: 'report-place',
      onChoose: (place) => {
        state.maps.report.showPlace(place);
        setPick(place.lat, place.lon, { place });
      },
    }),
  );
  renderPicked();
}

/**
 * Sets the report's spot (WGS84) and names it from the territory: the place shows under the
 * map and above the submit button, and fills the address unless the reporter wrote one.
 * @param {number} lat
 * @param {number} lon
 * @param {{ pan?: boolean, accuracy?: number, place?: any }} [opts]
 */
async function setPick(lat, lon, { pan = false, accuracy, place } = {}) {
  state.pick = { lat, lon };
  state.nearbySpot = { lat, lon };
  state.place = null;
  const err = $('location-error');
  err.hidden = true;
  err.textContent = '';
  $('report-map').removeAttribute('aria-invalid');
  if (pan || place || accuracy) state.maps.report?.setPick(lat, lon, { pan, accuracy });
  renderPicked();
  const mine = (state.pickSeq = (state.pickSeq || 0) + 1);
  let answer = null;
  try {
    answer = await reversePlace(lat, lon);
  } catch {
    answer = null;
  }
  if (mine !== state.pickSeq) return;
  state.place = answer;
  $('outside').hidden = !answer || !answer.outside_district;
  const address = $('address');
  const words = place && place.kind === 'intersection' ? place.label : answer ? placeText(answer) : '';
  if (words && (address.value.trim() === '' || address.value === state.autoAddress)) {
    address.value = words;
    state.autoAddress = words;
  }
  renderPicked();
}

function renderPicked() {
  const p = state.pick;
  $('picked').textContent = p
    ? t('report.picked', { lat: p.lat.toFixed(6), lon: p.lon.toFixed(6) })
    : t('report.not_picked');
  const words = state.place ? placeText(state.place) : '';
  $('picked-place').textContent = words;
  $('submit-place').textContent = p ? t('report.submit_place', { place: words || t('report.picked_short', { lat: p.lat.toFixed(5), lon: p.lon.toFixed(5) }) }) : t('report.not_picked');
}

function locate(onFound, statusEl, map) {
  if (!navigator.geolocation) {
    statusEl.textContent = t('report.geo_unsupported');
    return;
  }
  statusEl.textContent = t('report.locating');
  const failed = (e) => {
    statusEl.textContent = t('report.geo_failed', { msg: e.message || e.code });
  };
  if (map) {
    // The map draws the fix with its accuracy circle.
    map.locate({ onFound: (lat, lon, accuracy) => onFound(lat, lon, accuracy), onError: failed });
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (pos) => onFound(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy),
    failed,
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

// ---- submit --------------------------------------------------------------------------

function collect(form) {
  const data = {
    service_code: $('category').value,
    lat: state.pick ? state.pick.lat.toFixed(7) : '',
    long: state.pick ? state.pick.lon.toFixed(7) : '',
    address_string: $('address').value,
    description: $('description').value,
    media_url: $('media-url').value,
  };
  // Anonymous: no name, phone or e-mail leaves the page.
  if (!$('anonymous').checked) {
    data.first_name = $('first-name').value;
    data.phone = $('phone').value;
    data.email = $('email').value;
  }
  for (const el of form.querySelectorAll('#attributes [name^="attribute["]')) {
    if (el.type === 'checkbox') {
      if (!el.checked) continue;
      (data[el.name] ||= []).push(el.value);
    } else if (el.value.trim() !== '') {
      // datetime-local has no zone: the district's is +08:00.
      data[el.name] = el.dataset.datetime ? `${el.value.length === 16 ? `${el.value}:00` : el.value}+08:00` : el.value;
    }
  }
  return data;
}

async function submitReport(e) {
  e.preventDefault();
  const form = $('report-form');
  clearErrors(form);
  const button = $('submit');
  button.disabled = true;
  button.textContent = t('report.submitting');
  try {
    const data = collect(form);
    // What is missing is said in plain words before anything is sent.
    if (!data.service_code) throw new ApiError({ status: 400, code: 'invalid_field', field: 'service_code', message: t('report.need_category') });
    if (!data.lat || !data.long) throw new ApiError({ status: 400, code: 'invalid_field', field: 'location', message: t('report.need_location') });
    const photo = $('photo').files[0];
    if (photo) {
      // The photo goes first (checked by its content on the server); the report then
      // carries its public URL (a copy without EXIF/GPS) as Open311 media_url.
      button.textContent = t('report.uploading');
      const up = await uploadPhoto(photo, { pub: true });
      data.media_url = `${window.location.origin}${up.public_url}`;
      button.textContent = t('report.submitting');
    }
    let answer;
    try {
      answer = await open311('requests.json', { form: { ...data, api_key: await pageKey() }, idempotencyKey: state.idempotencyKey });
    } catch (err) {
      // 403: the key was rotated since the page loaded; read the new one and try once more.
      if (err.status !== 403) throw err;
      answer = await open311('requests.json', { form: { ...data, api_key: await pageKey({ fresh: true }) }, idempotencyKey: state.idempotencyKey });
    }
    const r = Array.isArray(answer) ? answer[0] : answer;
    state.idempotencyKey = randomKey();
    showReceipt(r);
  } catch (err) {
    showError(form, err);
  } finally {
    button.disabled = false;
    button.textContent = t('report.submit');
  }
}

function showReceipt(r) {
  state.receipt = r;
  $('receipt-number').textContent = r.service_request_id;
  $('receipt-code').textContent = r.query_code || '—';
  remember({ number: r.service_request_id, code: r.query_code || null, at: new Date().toISOString(), service: $('category-picked').textContent || '' });
  $('receipt-notice').textContent = r.service_notice || '—';
  fill($('receipt-expected'), r.expected_datetime ? timeEl(r.expected_datetime) : '—');
  $('report-form').hidden = true;
  $('receipt').hidden = false;
  $('receipt-heading').focus();
  announce(`${t('report.done_heading')} ${r.service_request_id}`);
  state.open = null;
}

function resetReport() {
  const form = $('report-form');
  form.reset();
  fill($('photo-preview'));
  clearErrors(form);
  fill($('attributes'));
  $('category-picked').textContent = '';
  $('contact-fields').hidden = false;
  renderCategories();
  renderTop();
  $('receipt').hidden = true;
  form.hidden = false;
  $('category-search').focus();
  state.maps.report?.refresh();
}

// ---- track ---------------------------------------------------------------------------

async function lookUp(reference) {
  const form = $('track-form');
  clearErrors(form);
  const out = $('track-result');
  const ref = reference.trim();
  try {
    if (!ref) throw new ApiError({ status: 400, code: 'invalid_field', field: 'service_request_id', message: t('err.required') });
    const r = await api(`/api/v1/public/cases/${encodeURIComponent(ref)}?lang=${lang()}`, { auth: false });
    state.tracked = r;
    renderTracked(r);
    announce(`${r.number}: ${r.status_text}`);
  } catch (err) {
    out.hidden = true;
    $('track-map').hidden = true;
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) err.field = 'service_request_id';
    showError(form, err);
  }
}

// ---- my reports by phone and code ---------------------------------------------------------

/** Seconds before another code may be asked for (the server limits codes per phone too). */
const RESEND_WAIT_S = 60;

async function sendCode() {
  const form = $('phone-form');
  clearErrors(form);
  const button = $('send-code');
  const phone = $('my-phone').value.trim();
  try {
    if (!phone) throw new ApiError({ status: 422, code: 'invalid_field', field: 'phone', message: t('err.required') });
    button.disabled = true;
    await api('/api/v1/public/my/code', { method: 'POST', body: { phone, lang: lang() }, auth: false });
    $('code-sent').textContent = t('phone.sent');
    announce(t('phone.sent'));
    $('my-code').focus();
    let left = RESEND_WAIT_S;
    button.textContent = t('phone.resend_in', { s: left });
    const tick = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(tick);
        button.disabled = false;
        button.textContent = t('phone.send');
      } else {
        button.textContent = t('phone.resend_in', { s: left });
      }
    }, 1000);
  } catch (err) {
    button.disabled = false;
    showError(form, err);
  }
}

async function listMine(e) {
  e.preventDefault();
  const form = $('phone-form');
  clearErrors(form);
  const phone = $('my-phone').value.trim();
  const code = $('my-code').value.trim();
  const out = $('phone-result');
  try {
    if (!phone) throw new ApiError({ status: 422, code: 'invalid_field', field: 'phone', message: t('err.required') });
    if (!code) throw new ApiError({ status: 422, code: 'invalid_field', field: 'code', message: t('err.required') });
    const cases = await api('/api/v1/public/my/cases', { method: 'POST', body: { phone, code, lang: lang() }, auth: false });
    $('my-code').value = '';
    $('phone-result-heading').textContent = cases.length ? t('phone.result', { n: cases.length }) : t('phone.none');
    fill(
      $('phone-list'),
      cases.map((c) =>
        h(
          'li',
          { class: 'card', dataset: { testid: 'phone-case' } },
          h('p', { class: 'card-title' }, c.service_name),
          h('p', {}, h('span', { class: `status status-${c.status}` }, c.status_text)),
          c.description ? h('p', {}, c.description) : null,
          c.address ? h('p', { class: 'muted' }, c.address) : null,
          h('p', { class: 'muted' }, c.number, ' · ', fmtTime(c.requested_datetime)),
          h('button', { type: 'button', class: 'secondary small', onclick: () => trackFromList(c.query_code || c.number) }, t('phone.view')),
        ),
      ),
    );
    out.hidden = false;
    announce($('phone-result-heading').textContent);
  } catch (err) {
    out.hidden = true;
    showError(form, err);
  }
}

// ---- reports made on this device -------------------------------------------------------

const MINE = 'cityloop.myReports';
/** How many reports this browser remembers (the oldest are forgotten first). */
const MINE_MAX = 50;

function mine() {
  try {
    const list = JSON.parse(localStorage.getItem(MINE) || '[]');
    return Array.isArray(list) ? list.filter((m) => m && typeof m.number === 'string') : [];
  } catch {
    return [];
  }
}

function remember(report) {
  try {
    const list = [report, ...mine().filter((m) => m.number !== report.number)].slice(0, MINE_MAX);
    localStorage.setItem(MINE, JSON.stringify(list));
  } catch {
    // Private mode or a full storage: the receipt on screen still shows the code.
  }
  renderMine();
}

function forget(number) {
  try {
    localStorage.setItem(MINE, JSON.stringify(mine().filter((m) => m.number !== number)));
  } catch {
    // Nothing stored, nothing to forget.
  }
  renderMine();
}

function renderMine() {
  const list = mine();
  const box = $('my-reports');
  box.hidden = list.length === 0;
  fill(
    $('my-reports-list'),
    list.map((m) => {
      const ref = m.code || m.number;
      const open = h('a', { href: `#track/${encodeURIComponent(ref)}`, 'data-testid': 'my-report' }, m.service || m.number);
      const drop = h('button', { type: 'button', class: 'link' }, t('mine.forget'));
      drop.addEventListener('click', () => forget(m.number));
      return h('li', {}, open, ' ', h('span', { class: 'hint' }, m.code || m.number, ' · ', fmtTime(m.at)), ' ', drop);
    }),
  );
}

/** Previews the chosen photo. */
function previewPhoto() {
  const f = $('photo').files[0];
  const box = $('photo-preview');
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = null;
  if (!f) {
    fill(box);
    return;
  }
  state.previewUrl = URL.createObjectURL(f);
  fill(box, h('figure', {}, h('img', { src: state.previewUrl, alt: f.name }), h('figcaption', {}, f.name)));
}

/** The path of one of our own public photos (`/media/{id}`, relative or on this origin), else null. */
function ownMedia(url) {
  try {
    const u = new URL(url, window.location.origin);
    return u.origin === window.location.origin && /^\/media\/[0-9a-f-]{36}$/.test(u.pathname) ? u.pathname : null;
  } catch {
    return null;
  }
}

/** A strip of photos: our own as pictures (opening the full public copy), others as links. */
function photoStrip(urls, testid) {
  if (!urls || !urls.length) return null;
  return h(
    'div',
    { class: 'photo-strip', 'data-testid': testid },
    urls.map((u, i) => {
      const own = ownMedia(u);
      if (own) {
        return h('figure', {}, h('a', { href: own, target: '_blank', rel: 'noopener noreferrer' }, h('img', { src: own, alt: t('track.photo_of', { n: i + 1 }), loading: 'lazy' })));
      }
      return h('p', {}, safeLink(u) || t('track.link'));
    }),
  );
}

function renderTracked(r) {
  const out = $('track-result');
  const closed = r.status === 'closed';
  const row = (k, v) => (v === null || v === undefined || v === '' ? null : [h('dt', {}, t(k)), h('dd', {}, v)]);
  fill(
    out,
    h('h3', {}, r.service_name),
    h('p', { class: 'hint' }, r.query_code ? `${t('report.code')} ${r.query_code} · ${r.number}` : r.number),
    h(
      'p',
      { class: `status ${closed ? 'status-closed' : 'status-open'}`, 'data-testid': 'track-status' },
      r.status_text,
    ),
    h(
      'dl',
      {},
      row('track.agency', r.unit),
      row('track.requested', timeEl(r.requested_datetime)),
      row('track.expected', closed || !r.expected_datetime ? null : timeEl(r.expected_datetime)),
      row('track.address', r.address),
      row('track.description', r.description),
      row('track.follows', r.follows),
    ),
    r.can_rate ? ratingForm(r) : null,
    r.can_follow_up ? followUpForm(r) : null,
    r.after_photos.length ? [h('h4', {}, t('track.after')), photoStrip(r.after_photos, 'track-after')] : null,
    r.before_photos.length ? [h('h4', {}, t('track.before')), photoStrip(r.before_photos, 'track-photo')] : null,
    h('h4', {}, t('track.steps')),
    h(
      'ol',
      { class: 'steps', 'data-testid': 'track-steps' },
      r.steps.map((s) =>
        h(
          'li',
          {},
          h('span', { class: 'step-time' }, timeEl(s.at)),
          h('span', { class: 'step-text' }, s.text),
          s.reply ? h('p', { class: 'step-reply', 'data-testid': 'track-reply' }, `${t('track.reply')}：${s.reply}`) : null,
        ),
      ),
    ),
  );
  out.hidden = false;
  const mapEl = $('track-map');
  if (Number.isFinite(r.lat) && Number.isFinite(r.long)) {
    mapEl.hidden = false;
    if (!state.maps.track) {
      state.maps.track = createMap(mapEl, { center: [r.lat, r.long], zoom: 14 });
    }
    state.maps.track.refresh();
    state.maps.track.setCases([{ lat: r.lat, lon: r.long, colour: closed ? '#5a6470' : '#0b5cad', radius: 9 }], {
      fit: true,
    });
  } else {
    mapEl.hidden = true;
  }
}

/**
 * The call-back (回访) the reporter answers themselves: shown only when the page was
 * opened with the receipt's query code and the case waits for its call-back. 不满意 needs
 * a word on what is still wrong; the case then goes back to the unit (重办).
 */
function ratingForm(r) {
  const form = h('form', { class: 'rating', novalidate: true, 'data-testid': 'rating-form' });
  const choices = ['satisfied', 'basically_satisfied', 'unsatisfied'];
  const comment = h('textarea', { name: 'comment', id: 'rating-comment', rows: 3, maxlength: 500 });
  form.append(
    h('h4', {}, t('rate.heading')),
    h('p', { class: 'hint' }, t('rate.intro')),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    h(
      'fieldset',
      { class: 'field rating-choices', dataset: { field: 'satisfaction' } },
      h('legend', {}, t('rate.question')),
      choices.map((v) =>
        h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'satisfaction', value: v, required: true }), t(`rate.${v}`)),
      ),
      h('p', { class: 'field-error', hidden: true, 'aria-live': 'polite' }),
    ),
    field({ name: 'comment', id: 'rating-comment', label: t('rate.comment'), control: comment, hint: t('rate.comment_hint') }),
    h('button', { type: 'submit', class: 'primary' }, t('rate.submit')),
  );
  clearOnInput(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const picked = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name=satisfaction]:checked'));
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type=submit]'));
    try {
      if (!picked) throw new ApiError({ status: 422, code: 'invalid_field', field: 'satisfaction', message: t('rate.pick') });
      /** @type {{satisfaction: string, comment?: string}} */
      const body = { satisfaction: picked.value };
      if (comment.value.trim()) body.comment = comment.value.trim();
      button.disabled = true;
      const after = await api(`/api/v1/public/cases/${encodeURIComponent(r.query_code)}/rating?lang=${lang()}`, {
        method: 'POST',
        body,
        auth: false,
      });
      state.tracked = after;
      renderTracked(after);
      announce(t('rate.thanks'));
      $('track-result').prepend(h('p', { class: 'notice', role: 'status', 'data-testid': 'rating-done' }, t('rate.thanks')));
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/**
 * "Still not fixed" after closing (within 30 days, by the receipt's code): opens a new
 * case linked to the closed one, handled by the same unit; the closed case stays as it was.
 */
function followUpForm(r) {
  const form = h('form', { class: 'rating follow-up', novalidate: true, 'data-testid': 'follow-up-form' });
  const comment = h('textarea', { name: 'comment', id: 'follow-up-comment', rows: 3, maxlength: 500 });
  form.append(
    h('h4', {}, t('again.heading')),
    h('p', { class: 'hint' }, t('again.intro')),
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ name: 'comment', id: 'follow-up-comment', label: t('again.comment'), control: comment }),
    h('button', { type: 'submit', class: 'secondary' }, t('again.submit')),
  );
  clearOnInput(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type=submit]'));
    try {
      if (!comment.value.trim()) throw new ApiError({ status: 422, code: 'invalid_field', field: 'comment', message: t('again.required') });
      button.disabled = true;
      const opened = await api(`/api/v1/public/cases/${encodeURIComponent(r.query_code)}/still-not-fixed?lang=${lang()}`, {
        method: 'POST',
        body: { comment: comment.value.trim() },
        auth: false,
      });
      remember({ number: opened.number, code: opened.query_code || null, at: new Date().toISOString(), service: opened.service_name });
      state.tracked = opened;
      renderTracked(opened);
      const done = t('again.done', { code: opened.query_code || opened.number });
      announce(done);
      $('track-result').prepend(h('p', { class: 'notice', role: 'status', 'data-testid': 'follow-up-done' }, done));
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// ---- nearby --------------------------------------------------------------------------

async function ensureNearby() {
  if (!state.maps.nearby) {
    state.maps.nearby = createMap($('nearby-map'), {
      label: t('nearby.intro'),
      onPick: (lat, lon) => {
        state.nearbySpot = { lat, lon };
        renderNearest();
      },
    });
  }
  if (!state.open) await loadOpen();
  if (state.nearbySpot) state.maps.nearby.setPick(state.nearbySpot.lat, state.nearbySpot.lon, { pan: true });
  renderNearest();
}

async function loadOpen() {
  const errBox = $('nearby-error');
  errBox.hidden = true;
  try {
    state.open = await open311('requests.json?status=open');
  } catch (err) {
    errBox.textContent = err.message;
    errBox.hidden = false;
    state.open = [];
  }
  $('nearby-count').textContent = state.open.length ? t('nearby.count', { n: state.open.length }) : t('nearby.none');
  state.maps.nearby.setCases(
    state.open.map((r) => ({
      lat: r.lat,
      lon: r.long,
      colour: '#0b5cad',
      title: `${r.service_name} · ${r.service_request_id}`,
      popup: popupFor(r),
    })),
  );
}

function popupFor(r) {
  return h(
    'div',
    { class: 'popup' },
    h('strong', {}, r.service_name),
    h('br'),
    r.service_request_id,
    h('br'),
    r.status_notes || '',
    h('br'),
    fmtTime(r.requested_datetime),
    h('br'),
    h('button', { type: 'button', class: 'link', onclick: () => trackFromList(r.service_request_id) }, t('nearby.view')),
  );
}

function trackFromList(ref) {
  history.replaceState(null, '', `#track/${encodeURIComponent(ref)}`);
  showTab('track');
  $('track-number').value = ref;
  lookUp(ref);
  $('track-number').focus();
}

function renderNearest() {
  const ol = $('nearest');
  const spot = state.nearbySpot;
  if (!spot || !state.open) {
    fill(ol, h('li', { class: 'empty' }, t('nearby.pick')));
    return;
  }
  const list = state.open
    .filter((r) => Number.isFinite(r.lat) && Number.isFinite(r.long))
    .map((r) => ({ r, d: distance(spot.lat, spot.lon, r.lat, r.long) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, 10);
  if (!list.length) {
    fill(ol, h('li', { class: 'empty' }, t('nearby.none')));
    return;
  }
  fill(
    ol,
    list.map(({ r, d }) =>
      h(
        'li',
        { class: 'card' },
        h('p', { class: 'card-title' }, r.service_name, ' ', h('span', { class: 'muted' }, t('nearby.distance', { d: fmtDistance(d) }))),
        h('p', {}, r.status_notes || ''),
        h('p', { class: 'muted' }, r.service_request_id, ' · ', fmtTime(r.requested_datetime)),
        h('button', { type: 'button', class: 'secondary small', onclick: () => trackFromList(r.service_request_id) }, t('nearby.view')),
      ),
    ),
  );
}

// ---- start ---------------------------------------------------------------------------

function start() {
  applyStatic();
  wireToggle($('lang'));
  wireTabs();
  $('category-search').addEventListener('input', renderCategories);
  $('category-search').addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      const sel = $('category');
      sel.focus();
      if (sel.selectedIndex < 0 && sel.options.length) {
        sel.selectedIndex = 0;
        onCategory();
      }
    }
  });
  $('category').addEventListener('change', onCategory);
  $('locate').addEventListener('click', () => {
    ensureReportMap();
    locate((lat, lon, accuracy) => setPick(lat, lon, { pan: true, accuracy }), $('picked'), state.maps.report);
  });
  $('nearby-locate').addEventListener('click', () =>
    locate((lat, lon, accuracy) => {
      state.nearbySpot = { lat, lon };
      state.maps.nearby.setPick(lat, lon, { pan: true, accuracy });
      $('nearby-count').textContent = state.open ? t('nearby.count', { n: state.open.length }) : '';
      renderNearest();
    }, $('nearby-count')),
  );
  $('report-form').addEventListener('submit', submitReport);
  $('anonymous').addEventListener('change', () => {
    $('contact-fields').hidden = $('anonymous').checked;
  });
  $('category').addEventListener('change', renderTop);
  $('photo').addEventListener('change', previewPhoto);
  clearOnInput($('report-form'));
  clearOnInput($('track-form'));
  clearOnInput($('phone-form'));
  $('send-code').addEventListener('click', sendCode);
  $('phone-form').addEventListener('submit', listMine);
  $('receipt-track').addEventListener('click', () => trackFromList(state.receipt.query_code || state.receipt.service_request_id));
  $('receipt-again').addEventListener('click', resetReport);
  $('track-form').addEventListener('submit', (e) => {
    e.preventDefault();
    history.replaceState(null, '', `#track/${encodeURIComponent($('track-number').value.trim())}`);
    lookUp($('track-number').value);
  });
  window.addEventListener('hashchange', route);
  document.addEventListener('langchange', async () => {
    document.title = `${t('app.district')} · ${t('app.public_title')}`;
    renderPicked();
    state.definitions.clear();
    await loadServices();
    await onCategory();
    if (state.tracked) lookUp(state.tracked.query_code || state.tracked.number);
    renderMine();
    if (state.open) {
      state.open = null;
      if (!$('panel-nearby').hidden) ensureNearby();
    }
    if (state.receipt && !$('receipt').hidden) fill($('receipt-expected'), timeEl(state.receipt.expected_datetime));
  });
  document.title = `${t('app.district')} · ${t('app.public_title')}`;
  loadServices();
  renderMine();
  route();
}

start();
