// Helpers both pages share: building DOM nodes, showing times in the district's zone,
// calling the two APIs, and putting every API failure into words next to its field.

import { t, has, lang } from './i18n.js';

export const ZONE = 'Asia/Shanghai';

/**
 * Creates an element: h('p', {class: 'x', onclick: f}, 'text', child).
 * Typed loosely (`any`): callers know which element they made.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {any}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A link to an http(s) URL that opens apart from the page; anything else as plain text. */
export function safeLink(url) {
  if (!/^https?:\/\//i.test(String(url))) return document.createTextNode(String(url));
  return h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url);
}

/** Removes every child of `el` and appends `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const partsFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** `2026-11-27 09:15` in Asia/Shanghai, whatever the browser's own zone. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = Object.fromEntries(partsFmt.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A <time> element showing `iso` in the district's zone. */
export function timeEl(iso) {
  return h('time', { datetime: iso || null, title: t('app.times_note') }, fmtTime(iso));
}

/** Metres or kilometres, short. */
export function fmtDistance(m) {
  if (m < 1000) return `${Math.round(m)} m`;
  return `${(m / 1000).toFixed(1)} km`;
}

/** Geodesic distance in metres (haversine). */
export function distance(lat1, lon1, lat2, lon2) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dlat = (lat2 - lat1) * rad;
  const dlon = (lon2 - lon1) * rad;
  const a = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(a));
}

function inRing(lon, lat, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether a WGS84 point lies in a GeoJSON Polygon/MultiPolygon geometry. */
export function inGeometry(lon, lat, geom) {
  if (!geom) return false;
  const polys = geom.type === 'Polygon' ? [geom.coordinates] : geom.type === 'MultiPolygon' ? geom.coordinates : [];
  return polys.some((rings) => inRing(lon, lat, rings[0]) && !rings.slice(1).some((hole) => inRing(lon, lat, hole)));
}

/** An API failure with what the user needs: words, and the field they belong to. */
export class ApiError extends Error {
  /** @param {{ status: number, code: string, message: string, field?: string | null, retryAfter?: string | null }} opts */
  constructor({ status, code, message, field, retryAfter }) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.retryAfter = retryAfter || null;
  }
}

/** The label of a field name the APIs use. */
export function fieldLabel(field) {
  const base = String(field).replace(/\[.*$/, '');
  return has(`field.${base}`) ? t(`field.${base}`) : field;
}

/** What to tell the user about `err` (an ApiError or a network failure). */
export function describe(err) {
  if (!(err instanceof ApiError)) return t('err.network');
  const msg = stripField(err.message, err.field);
  switch (err.code) {
    case 'unauthorized':
      return `${t('err.unauthorized')} (${err.message})`;
    case 'forbidden':
      return `${t('err.forbidden')} (${err.message})`;
    case 'conflict':
      return `${t('err.conflict')} (${err.message})`;
    case 'not_found':
      return `${t('err.not_found')} (${err.message})`;
    case 'rate_limited':
      return t('err.rate_limited', { s: err.retryAfter ?? '?' });
    default:
      if (err.field) return t('err.field', { field: fieldLabel(err.field), msg });
      return t('err.generic', { msg: err.message });
  }
}

/** The message without its leading `field: ` (the UI shows it next to the field). */
export function stripField(message, field) {
  const m = String(message || '');
  if (field && m.startsWith(`${field}: `)) return m.slice(field.length + 2);
  return m;
}

/** The message to show next to a field: short, translated where we know the pattern. */
function fieldMessage(err) {
  const msg = stripField(err.message, err.field);
  // The server's "is required for <action>" names the action in English: on the Chinese
  // page the field's own label already says what is missing.
  if (lang() === 'zh' && /^is required\b/.test(msg)) return t('err.required');
  // 合并 refused: the master is this case, or closed or voided.
  if (lang() === 'zh' && err.field === 'merge_into' && err.status === 409) {
    return /itself/.test(msg) ? t('err.merge_self') : t('err.merge_closed');
  }
  // 改派 to the unit that already holds the case.
  if (lang() === 'zh' && err.field === 'unit_id' && /already with this unit/.test(msg)) return t('err.redispatch_same');
  return msg;
}

/** Clears a field's error mark as soon as the user edits it. */
export function clearOnInput(form) {
  const clear = (e) => {
    const wrap = e.target.closest('[data-field]');
    if (!wrap) return;
    for (const el of wrap.querySelectorAll('.field-error')) {
      el.textContent = '';
      el.hidden = true;
    }
    for (const el of wrap.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  };
  form.addEventListener('input', clear);
  form.addEventListener('change', clear);
}

/** Clears the error marks of a form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) {
    el.textContent = '';
    el.hidden = true;
  }
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  const box = form.querySelector(':scope .form-error');
  if (box) {
    box.textContent = '';
    box.hidden = true;
  }
}

/**
 * Shows `err` in `form`: next to the field it names (an element with
 * data-field="NAME" holding the control and a .field-error), else in the form's
 * .form-error box. Focuses the control in error. Returns the element written to.
 */
export function showError(form, err) {
  const field = err instanceof ApiError ? err.field : null;
  const wrap = field ? findField(form, field) : null;
  if (wrap) {
    const slot = wrap.querySelector('.field-error');
    slot.textContent = fieldMessage(err);
    slot.hidden = false;
    const control = wrap.querySelector('input, select, textarea, [tabindex]');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      if (!control.getAttribute('aria-describedby')?.includes(slot.id)) {
        control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') || ''} ${slot.id}`.trim());
      }
      control.focus({ preventScroll: false });
    }
    return slot;
  }
  let box = form.querySelector(':scope .form-error');
  if (!box) {
    box = h('p', { class: 'form-error', role: 'alert' });
    form.prepend(box);
  }
  box.textContent = describe(err);
  box.hidden = false;
  return box;
}

function findField(form, field) {
  const names = [field, String(field).replace(/\[\]$/, ''), String(field).split('.')[0]];
  for (const n of names) {
    const q = CSS.escape(n);
    const el = form.querySelector(`[data-field="${q}"], [data-aliases~="${q}"]`);
    if (el) return el;
  }
  return null;
}

/**
 * A labelled control with an error slot: the unit `showError` writes into.
 * @param {{ name: string, id: string, label: string, control: HTMLElement, hint?: string }} opts
 */
export function field({ name, id, label, control, hint }) {
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-error`;
  control.id = id;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    control,
    h('p', { class: 'field-error', id: errId, hidden: true, 'aria-live': 'polite' }),
  );
}

// ---- the staff API -------------------------------------------------------------------

const TOKEN = 'cityloop.token';
const USER = 'cityloop.user';
const EXPIRES = 'cityloop.expires';

/** localStorage, or nothing when the browser refuses it (private mode). */
function store() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/**
 * The signed-in staff session. Kept in localStorage, so every tab of the console shares
 * it until it expires (`expires_at` of the login answer) or the person signs out; a tab
 * that finds it expired forgets it and says so.
 */
export const session = {
  KEY_TOKEN: TOKEN,
  /** The session ran out (set when an expired one was forgotten). */
  expired: false,
  /** @returns {string | null} */
  get token() {
    const s = store();
    if (!s) return null;
    const until = Date.parse(s.getItem(EXPIRES) || '');
    if (Number.isFinite(until) && until <= Date.now()) {
      session.clear();
      session.expired = true;
      return null;
    }
    return s.getItem(TOKEN);
  },
  /** @returns {string | null} */
  get expiresAt() {
    return store()?.getItem(EXPIRES) || null;
  },
  /** @returns {any} */
  get user() {
    try {
      return JSON.parse(store()?.getItem(USER) || 'null');
    } catch {
      return null;
    }
  },
  /**
   * @param {string} token
   * @param {any} user
   * @param {string | null} [expiresAt]
   */
  set(token, user, expiresAt) {
    const s = store();
    if (!s) return;
    s.setItem(USER, JSON.stringify(user));
    if (expiresAt) s.setItem(EXPIRES, expiresAt);
    else s.removeItem(EXPIRES);
    s.setItem(TOKEN, token);
    session.expired = false;
  },
  clear() {
    const s = store();
    if (!s) return;
    s.removeItem(TOKEN);
    s.removeItem(USER);
    s.removeItem(EXPIRES);
  },
};

/** Called when the staff API says the session is gone. */
/** @type {(err: ApiError) => void} */
let onUnauthorized = () => {};
/** @param {(err: ApiError) => void} f */
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

/**
 * Calls the staff API; resolves to the JSON body, rejects with an ApiError.
 * @param {string} path
 * @param {{ method?: string, body?: any, auth?: boolean, headers?: Record<string, string> }} [opts]
 * @returns {Promise<any>}
 */
export async function api(path, { method = 'GET', body, auth = true, headers: extra = {} } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError({ status: 0, code: 'network', message: String(e) });
  }
  if (resp.status === 204) return null;
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (resp.ok) return data;
  const e = data && data.error ? data.error : { code: `http_${resp.status}`, message: resp.statusText };
  const err = new ApiError({
    status: resp.status,
    code: e.code,
    message: e.message,
    field: e.field,
    retryAfter: resp.headers.get('Retry-After'),
  });
  if (resp.status === 401 && auth && session.token) onUnauthorized(err);
  throw err;
}

// ---- the Open311 API ------------------------------------------------------------------

/** Splits an Open311 error description `field: words` into its parts. */
export function open311Error(status, list) {
  const first = Array.isArray(list) && list.length ? list[0] : { code: status, description: `HTTP ${status}` };
  const desc = String(first.description || '');
  const m = /^([A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])*):\s/.exec(desc);
  return new ApiError({
    status,
    code: status === 404 ? 'not_found' : `open311_${first.code}`,
    message: desc,
    field: m ? m[1] : null,
  });
}

/**
 * Calls the Open311 API; `form` (an object) is sent form-encoded as POST.
 * @param {string} path
 * @param {{ form?: Record<string, any>, idempotencyKey?: string }} [opts]
 * @returns {Promise<any>}
 */
export async function open311(path, { form, idempotencyKey } = {}) {
  const url = new URL(`/open311/v2/${path}`, location.origin);
  // Always the page's language: a Chinese page under an English browser reads Chinese.
  url.searchParams.set('locale', lang());
  const init = { headers: { Accept: 'application/json' } };
  if (form) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) {
      if (Array.isArray(v)) v.forEach((x) => body.append(k, x));
      else if (v !== undefined && v !== null && String(v).trim() !== '') body.append(k, v);
    }
    init.method = 'POST';
    init.body = body;
    if (idempotencyKey) init.headers['Idempotency-Key'] = idempotencyKey;
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError({ status: 0, code: 'network', message: String(e) });
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) throw open311Error(resp.status, data);
  return data;
}

/** A random key, for Idempotency-Key. */
export function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Announces `text` in the page's polite live region. */
export function announce(text) {
  const region = document.getElementById('live');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}
