// Photos: a picker that previews the chosen images, the upload call (staff or public
// route; the server checks the content and answers errors naming the field `file`), and
// the thumbnails the case page and its timeline show. Thumbnails use the public copy
// (/media/{id}), which has no EXIF/GPS; staff see the recorded GPS position as text.

import { t } from './i18n.js';
import { h, fill, ApiError, session } from './common.js';

export const ACCEPT = 'image/jpeg,image/png,image/webp';
/** The server's limits (docs/API-DESIGN.md), checked here first to say it sooner. */
export const MAX_STAFF_BYTES = 10 * 1024 * 1024;
export const MAX_PUBLIC_BYTES = 5 * 1024 * 1024;

/**
 * Uploads one file; resolves to the server's answer (id, public_url, …).
 * `pub` uses the public route (no login, smaller limit).
 */
export async function uploadPhoto(file, { pub = false } = {}) {
  const limit = pub ? MAX_PUBLIC_BYTES : MAX_STAFF_BYTES;
  if (file.size > limit) {
    throw new ApiError({
      status: 413,
      code: 'body_too_large',
      field: 'file',
      message: t('photo.too_large', { name: file.name, mb: Math.round(limit / 1024 / 1024) }),
    });
  }
  const headers = { Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' };
  if (!pub && session.token) headers.Authorization = `Bearer ${session.token}`;
  let resp;
  try {
    resp = await fetch(pub ? '/api/v1/public/media' : '/api/v1/attachments', { method: 'POST', headers, body: file });
  } catch (e) {
    throw new ApiError({ status: 0, code: 'network', message: String(e) });
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (resp.ok) return data;
  const e = data && data.error ? data.error : { code: `http_${resp.status}`, message: resp.statusText };
  throw new ApiError({
    status: resp.status,
    code: e.code,
    field: e.field || 'file',
    message: `${file.name}: ${e.message}`,
    retryAfter: resp.headers.get('Retry-After'),
  });
}

/**
 * A labelled file input with previews; errors naming `file` (or `field`) land in its
 * error slot. `box.files()` lists the chosen files.
 */
export function photoPicker({ id, field, label, hint, multiple = true }) {
  const input = h('input', { type: 'file', id, name: 'photos', accept: ACCEPT, 'aria-describedby': `${id}-hint` });
  input.multiple = multiple;
  const previews = h('div', { class: 'photo-strip', 'data-testid': `${id}-previews` });
  const urls = [];
  input.addEventListener('change', () => {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    fill(
      previews,
      [...input.files].map((f) => {
        const u = URL.createObjectURL(f);
        urls.push(u);
        return h('figure', {}, h('img', { src: u, alt: f.name }), h('figcaption', {}, f.name));
      }),
    );
  });
  const box = h(
    'div',
    { class: 'field', dataset: { field, aliases: 'file' } },
    h('label', { for: id }, label),
    h('p', { class: 'hint', id: `${id}-hint` }, hint),
    input,
    previews,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true, 'aria-live': 'polite' }),
  );
  box.files = () => [...input.files];
  box.reset = () => {
    input.value = '';
    input.dispatchEvent(new Event('change'));
  };
  return box;
}

/** Thumbnails of photos from the API (`photos` of a case or an event). */
export function photoStrip(photos, { showGps = false } = {}) {
  if (!photos?.length) return null;
  return h(
    'div',
    { class: 'photo-strip', 'data-testid': 'photos' },
    photos.map((p, i) => {
      const alt = t('photo.alt', { n: i + 1 });
      const caption = [
        p.width && p.height ? `${p.width}×${p.height}` : null,
        showGps && p.gps ? t('photo.gps', { lat: p.gps.lat.toFixed(5), lon: p.gps.lon.toFixed(5) }) : null,
      ].filter(Boolean);
      return h(
        'figure',
        { dataset: { id: p.id || '' } },
        h(
          'a',
          { href: p.public_url, target: '_blank', rel: 'noopener noreferrer' },
          h('img', { src: p.public_url, alt, loading: 'lazy' }),
        ),
        caption.length ? h('figcaption', {}, caption.join(' · ')) : null,
      );
    }),
  );
}

/** Photos before handling (report, verification, registration) and after (report-back). */
export function beforeAfter(events) {
  const before = [];
  const after = [];
  for (const e of events || []) {
    if (!e.photos?.length) continue;
    if (e.kind === 'report_back') after.push(...e.photos);
    else if (['reported', 'accept', 'confirm', 'register'].includes(e.kind)) before.push(...e.photos);
  }
  if (!before.length && !after.length) return null;
  const group = (key, list) =>
    h(
      'div',
      { class: 'photo-group', 'data-testid': `photos-${key}` },
      h('h4', {}, t(`photo.${key}`)),
      list.length ? photoStrip(list, { showGps: true }) : h('p', { class: 'muted' }, t('photo.none')),
    );
  return h('div', { class: 'before-after' }, group('before', before), group('after', after));
}
