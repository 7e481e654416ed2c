// 城管通: the phone-first report screen of inspectors (监督员) and road chiefs (路长).
// The device's position (with its accuracy in metres, refined on the map if needed), a
// photo from the camera, the category and a few words. The source is the reporter's role;
// an inspector's own report needs no verification: once accepted it goes straight to
// 待立案, as the workflow's rule table says (the server decides; the screen says so).

import { t } from '../i18n.js';
import { h, fill, api, showError, clearErrors, clearOnInput, announce, randomKey, ApiError } from '../common.js';
import { createMap } from '../map.js';
import { ACCEPT, uploadPhoto } from '../photos.js';
import { ctx, fieldBox, stateName } from './ctx.js';
import { categoryPicker } from './category.js';
import { setScreenKeys } from './keys.js';
import { patrolRunning, patrolPosition } from './roads.js';

/**
 * The report screen.
 * @param {HTMLElement} root
 */
export function renderFieldReport(root) {
  const role = ctx.user?.role;
  const source = role === 'road_chief' ? 'road_chief' : 'inspector';
  // Reported during a patrol (巡查中上报, issue 21): the trail's latest position first.
  const onPatrol = source === 'road_chief' && patrolRunning();
  const heading = h('h2', { tabindex: '-1', id: 'view-heading' }, t('view.report'));
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', 'data-testid': 'status' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'field-form', id: 'field-form', novalidate: true }));
  const where = h('p', { class: 'locate-status', 'data-testid': 'accuracy', 'aria-live': 'polite' }, t('fr.locate_hint'));
  const locate = h('button', { type: 'button', class: 'secondary', 'data-testid': 'locate' }, t('fr.locate'));
  const mapEl = h('div', { class: 'map map-pick' });
  const camera = /** @type {HTMLInputElement} */ (
    h('input', { type: 'file', id: 'fr-photo', class: 'camera-input', name: 'photos', accept: ACCEPT, capture: 'environment', 'aria-describedby': 'fr-photo-hint' })
  );
  camera.multiple = true;
  const previews = h('div', { class: 'photo-strip', 'data-testid': 'fr-photo-previews' });
  const photoBox = h(
    'div',
    { class: 'field', dataset: { field: 'media', aliases: 'file' } },
    h('p', { class: 'label' }, t('fr.photo_heading')),
    h('p', { class: 'hint', id: 'fr-photo-hint' }, t('fr.photo_hint')),
    // The label is the big button; the file input stays focusable behind it.
    h('label', { for: 'fr-photo', class: 'camera-button button' }, t('fr.photo')),
    camera,
    previews,
    h('p', { class: 'field-error', id: 'fr-photo-error', hidden: true, 'aria-live': 'polite' }),
  );
  /** @type {string[]} */
  const urls = [];
  camera.addEventListener('change', () => {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    fill(
      previews,
      [...(camera.files || [])].map((f) => {
        const u = URL.createObjectURL(f);
        urls.push(u);
        return h('figure', {}, h('img', { src: u, alt: f.name }), h('figcaption', {}, f.name));
      }),
    );
  });
  const picker = categoryPicker({ id: 'fr-category' });
  const description = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'description', rows: 3, maxlength: 4000 }));
  const submit = h('button', { type: 'submit', class: 'primary big', 'data-testid': 'field-submit' }, t('fr.submit'));
  form.append(
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    h('div', { class: 'field', dataset: { field: 'lat', aliases: 'lon' } }, h('p', { class: 'label' }, t('fr.where')), where, locate, mapEl, h('p', { class: 'field-error', id: 'fr-where-error', hidden: true })),
    photoBox,
    picker,
    fieldBox('description', 'fr-description', t('fr.description'), description),
    h('div', { class: 'buttons' }, submit),
  );
  fill(
    root,
    h(
      'section',
      { class: 'card-box field-report', 'aria-labelledby': 'view-heading' },
      heading,
      h('p', { class: 'intro' }, t(source === 'inspector' ? 'view.report_intro_inspector' : 'view.report_intro_road_chief')),
      onPatrol ? h('p', { class: 'notice', 'data-testid': 'report-on-patrol' }, t('patrol.in_report'), ' ', h('a', { href: '#/roads' }, t('patrol.back'))) : null,
      status,
      form,
    ),
  );
  clearOnInput(form);

  /** @type {{ lat: number, lon: number, accuracy: number | null } | null} */
  let spot = null;
  const map = createMap(mapEl, {
    label: t('fr.map'),
    onPick: (lat, lon) => {
      spot = { lat, lon, accuracy: null };
      where.textContent = t('fr.picked', { lat: lat.toFixed(5), lon: lon.toFixed(5) });
    },
  });
  const findMe = () => {
    if (!navigator.geolocation) {
      where.textContent = t('fr.geo_unsupported');
      return;
    }
    where.textContent = t('fr.locating');
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const { latitude, longitude, accuracy } = pos.coords;
        spot = { lat: latitude, lon: longitude, accuracy };
        map.setPick(latitude, longitude, { pan: true });
        where.textContent = t('fr.located', { m: Math.round(accuracy) });
        where.classList.toggle('warning', accuracy > 50);
        if (accuracy > 50) where.textContent += ` ${t('fr.rough')}`;
      },
      (err) => {
        where.textContent = t('fr.geo_failed', { msg: err.message });
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 },
    );
  };
  locate.addEventListener('click', findMe);
  const trail = onPatrol ? patrolPosition() : null;
  if (trail) {
    spot = { lat: trail.lat, lon: trail.lon, accuracy: trail.accuracy };
    map.setPick(trail.lat, trail.lon, { pan: true });
    where.textContent = trail.accuracy != null ? t('fr.located', { m: Math.round(trail.accuracy) }) : t('fr.picked', { lat: trail.lat.toFixed(5), lon: trail.lon.toFixed(5) });
  } else {
    findMe();
  }

  let key = randomKey();
  form.addEventListener('input', () => {
    key = randomKey();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const cat = picker.value();
    if (!spot) {
      showError(form, new ApiError({ status: 422, code: 'invalid_field', field: 'lat', message: t('fr.need_location') }));
      return;
    }
    if (!cat) {
      showError(form, new ApiError({ status: 422, code: 'invalid_field', field: 'category', message: `category: ${t('err.required')}` }));
      return;
    }
    /** @type {Record<string, any>} */
    const body = {
      source,
      category: { standard: cat.standard, kind: cat.kind, code: cat.code },
      description: description.value.trim(),
      lat: spot.lat,
      lon: spot.lon,
    };
    submit.disabled = true;
    try {
      const files = [...(camera.files || [])];
      if (files.length) {
        body.media = [];
        for (const f of files) body.media.push((await uploadPhoto(f)).id);
      }
      const c = await api('/api/v1/cases', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      const msg = t(source === 'inspector' ? 'fr.done_inspector' : 'fr.done', { number: c.number, state: stateName(c.state) });
      fill(
        status,
        h('strong', {}, msg),
        ' ',
        h('a', { href: `#/case/${c.id}`, 'data-testid': 'created-link' }, t('intake.open_created')),
        onPatrol ? [' ', h('a', { href: '#/roads', 'data-testid': 'back-to-patrol' }, t('patrol.back'))] : null,
      );
      announce(msg);
      form.reset();
      camera.dispatchEvent(new Event('change'));
      picker.reset();
      key = randomKey();
      status.scrollIntoView({ block: 'nearest' });
      locate.focus();
    } catch (err) {
      showError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  setScreenKeys([]);
}
