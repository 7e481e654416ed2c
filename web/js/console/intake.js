// 受理登记: a hotline operator (or any staff channel: petition, leader, media, patrol)
// registers a call. Keyboard-first: every control is in reading order, the category is
// found by typing, the location is typed as coordinates or picked on the map (Enter on
// the focused map picks its centre), Ctrl+Enter sends from anywhere in the form, and
// after sending the form is cleared and focus is back on the first field for the next call.
// While the operator types, open cases of the same category nearby are shown (the route
// API's `possible_duplicates`), each with a link to the case.

import { t } from '../i18n.js';
import { h, fill, api, showError, clearErrors, clearOnInput, announce, randomKey, fmtTime, ApiError } from '../common.js';
import { createMap } from '../map.js';
import { photoPicker, uploadPhoto } from '../photos.js';
import { fieldBox, stateName } from './ctx.js';
import { categoryPicker } from './category.js';
import { setScreenKeys } from './keys.js';

/** The channels an operator registers under (the server checks the role again). */
export const INTAKE_SOURCES = ['hotline_12345', 'petition', 'leader', 'media', 'patrol', 'public'];

/** `2026-12-01T09:15` (Asia/Shanghai wall time) for a datetime-local control. */
function shanghaiLocal(/** @type {Date} */ d) {
  return fmtTime(d.toISOString()).replace(' ', 'T');
}

/** A datetime-local value read as Asia/Shanghai time, in ISO 8601 UTC (or null). */
export function fromShanghaiLocal(/** @type {string} */ v) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return null;
  const d = new Date(`${v}:00+08:00`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The registration screen.
 * @param {HTMLElement} root
 */
export function renderIntake(root) {
  const heading = h('h2', { tabindex: '-1', id: 'view-heading' }, t('view.register'));
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', 'data-testid': 'status' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'intake-form', id: 'intake-form', novalidate: true }));
  const input = (/** @type {Record<string, any>} */ attrs) => /** @type {HTMLInputElement} */ (h('input', attrs));

  const source = /** @type {HTMLSelectElement} */ (
    h('select', { name: 'source' }, INTAKE_SOURCES.map((s) => h('option', { value: s }, t(`source.${s}`))))
  );
  const ref = input({ type: 'text', name: 'external_ref', maxlength: 64, autocomplete: 'off', spellcheck: 'false' });
  const called = input({ type: 'datetime-local', name: 'contacted_at', value: shanghaiLocal(new Date()) });
  const name = input({ type: 'text', name: 'reporter_name', maxlength: 100, autocomplete: 'off' });
  const phone = input({ type: 'tel', name: 'reporter_phone', maxlength: 20, inputmode: 'tel', autocomplete: 'off' });
  const callback = input({ type: 'checkbox', name: 'callback', id: 'in-callback' });
  const description = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'description', rows: 3, maxlength: 4000 }));
  const address = input({ type: 'text', name: 'address', maxlength: 500, autocomplete: 'off' });
  const lat = input({ type: 'text', name: 'lat', inputmode: 'decimal', autocomplete: 'off', placeholder: '34.7503' });
  const lon = input({ type: 'text', name: 'lon', inputmode: 'decimal', autocomplete: 'off', placeholder: '113.6615' });
  const hints = h('div', { class: 'route-hints', 'data-testid': 'route-hints', 'aria-live': 'polite' });
  const photos = photoPicker({ id: 'in-photos', field: 'media', label: t('intake.photos'), hint: t('act.photos_hint') });
  const mapEl = h('div', { class: 'map map-pick', tabindex: '0', 'aria-describedby': 'in-map-hint' });

  const picker = categoryPicker({ id: 'in-category', onChange: () => scheduleHints() });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'intake-submit' }, t('intake.submit'));

  const who = h(
    'fieldset',
    { class: 'group' },
    h('legend', {}, t('intake.caller')),
    h(
      'div',
      { class: 'grid-3' },
      fieldBox('source', 'in-source', t('intake.source'), source),
      fieldBox('external_ref', 'in-ref', t('intake.external_ref'), ref, t('intake.external_ref_hint')),
      fieldBox('reporter.contacted_at', 'in-called', t('intake.contacted_at'), called),
      fieldBox('reporter.name', 'in-name', t('intake.name'), name),
      fieldBox('reporter.phone', 'in-phone', t('intake.phone'), phone),
      h(
        'div',
        { class: 'field check', dataset: { field: 'reporter.callback' } },
        callback,
        h('label', { for: 'in-callback' }, t('intake.callback')),
        h('p', { class: 'field-error', id: 'in-callback-error', hidden: true }),
      ),
    ),
  );
  const what = h(
    'fieldset',
    { class: 'group' },
    h('legend', {}, t('intake.problem')),
    h('div', { class: 'grid-2' }, picker, fieldBox('description', 'in-description', t('intake.description'), description, t('intake.description_hint'))),
  );
  const where = h(
    'fieldset',
    { class: 'group' },
    h('legend', {}, t('intake.where')),
    h(
      'div',
      { class: 'grid-2' },
      h(
        'div',
        {},
        fieldBox('address', 'in-address', t('intake.address'), address),
        h('div', { class: 'grid-2 tight' }, fieldBox('lat', 'in-lat', t('intake.lat'), lat), fieldBox('lon', 'in-lon', t('intake.lon'), lon)),
        h('p', { class: 'hint', id: 'in-map-hint' }, t('intake.map_hint')),
        hints,
      ),
      mapEl,
    ),
    photos,
  );
  form.append(
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    who,
    what,
    where,
    h('div', { class: 'buttons' }, submit, h('span', { class: 'hint' }, t('intake.submit_hint'))),
  );
  fill(
    root,
    h(
      'section',
      { class: 'card-box', 'aria-labelledby': 'view-heading' },
      h('div', { class: 'view-head' }, heading, h('p', { class: 'intro' }, t('view.register_intro'))),
      status,
      form,
    ),
  );
  clearOnInput(form);

  const map = createMap(mapEl, {
    label: t('intake.map'),
    onPick: (la, lo) => {
      lat.value = la.toFixed(6);
      lon.value = lo.toFixed(6);
      scheduleHints();
    },
  });
  const point = () => {
    const la = Number(lat.value.trim());
    const lo = Number(lon.value.trim());
    if (!lat.value.trim() || !lon.value.trim() || !Number.isFinite(la) || !Number.isFinite(lo)) return null;
    return { lat: la, lon: lo };
  };
  for (const el of [lat, lon]) {
    el.addEventListener('change', () => {
      const p = point();
      if (p) map.setPick(p.lat, p.lon, { pan: true });
      scheduleHints();
    });
  }

  // ---- the route hint: where it goes, who handles it, what may be the same case ----
  let hintTimer = 0;
  let hintSeq = 0;
  const scheduleHints = () => {
    clearTimeout(hintTimer);
    hintTimer = window.setTimeout(showHints, 250);
  };
  const showHints = async () => {
    const p = point();
    const cat = picker.value();
    const seq = ++hintSeq;
    if (!p || !cat) {
      fill(hints);
      return;
    }
    if (cat.kind !== 'matter') {
      fill(hints, h('p', { class: 'hint' }, t('intake.no_hint_component')));
      return;
    }
    let r;
    try {
      r = await api(`/api/v1/route?${new URLSearchParams({ lat: String(p.lat), lon: String(p.lon), service_code: cat.code })}`);
    } catch (err) {
      if (seq === hintSeq) fill(hints);
      if (err instanceof ApiError && err.field) showError(form, err);
      return;
    }
    if (seq !== hintSeq) return;
    const where = r.outside_district
      ? t('case.outside')
      : [r.street?.name, r.segment?.road_name].filter(Boolean).join(' · ') || '—';
    fill(
      hints,
      h('p', {}, h('strong', {}, `${t('intake.routed')}：`), where, r.unit ? ` → ${r.unit.name}` : ''),
      r.road_chiefs?.length ? h('p', { class: 'muted' }, `${t('list.road_chief')}：${r.road_chiefs.map((/** @type {any} */ c) => c.name).join('、')}`) : null,
      r.possible_duplicates?.length
        ? h(
            'div',
            { class: 'dup-hint', 'data-testid': 'dup-hint', role: 'note' },
            h('p', {}, h('strong', {}, t('intake.dups', { n: r.possible_duplicates.length }))),
            h(
              'ul',
              {},
              r.possible_duplicates.map((/** @type {any} */ d) =>
                h(
                  'li',
                  {},
                  h('a', { href: `#/case/${d.id}`, target: '_blank', rel: 'noopener' }, d.number),
                  ` · ${stateName(d.state)} · ${Math.round(d.distance_m)} m `,
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'secondary small',
                      dataset: { testid: 'attach-dup' },
                      onclick: () => {
                        attachTo = d;
                        form.requestSubmit();
                      },
                    },
                    t('intake.attach_dup', { n: d.number }),
                  ),
                ),
              ),
            ),
            h('p', { class: 'hint' }, t('intake.dups_hint')),
          )
        : null,
    );
  };

  // ---- sending ----
  // "Attach as duplicate": the case about to be registered is merged into this one.
  /** @type {any} */
  let attachTo = null;
  let key = randomKey();
  form.addEventListener('input', () => {
    // A changed form is a new registration; an unchanged resend is the same one.
    key = randomKey();
  });
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const cat = picker.value();
    if (!cat) {
      showError(form, new ApiError({ status: 422, code: 'invalid_field', field: 'category', message: `category: ${t('err.required')}` }));
      return;
    }
    const p = point();
    if (!p) {
      const f = lat.value.trim() && Number.isFinite(Number(lat.value.trim())) ? 'lon' : 'lat';
      showError(form, new ApiError({ status: 422, code: 'invalid_field', field: f, message: `${f}: ${t('intake.need_location')}` }));
      return;
    }
    const contactedAt = called.value ? fromShanghaiLocal(called.value) : null;
    if (called.value && !contactedAt) {
      showError(form, new ApiError({ status: 422, code: 'invalid_field', field: 'reporter.contacted_at', message: t('intake.bad_time') }));
      return;
    }
    // The server allows 5 minutes of clock skew; say it here first, in words.
    if (contactedAt && Date.parse(contactedAt) > Date.now() + 5 * 60 * 1000) {
      showError(form, new ApiError({ status: 422, code: 'invalid_field', field: 'reporter.contacted_at', message: t('intake.future_time') }));
      return;
    }
    /** @type {Record<string, any>} */
    const reporter = { callback: callback.checked };
    if (name.value.trim()) reporter.name = name.value.trim();
    if (phone.value.trim()) reporter.phone = phone.value.trim();
    if (contactedAt) reporter.contacted_at = contactedAt;
    /** @type {Record<string, any>} */
    const body = {
      source: source.value,
      category: { standard: cat.standard, kind: cat.kind, code: cat.code },
      description: description.value.trim(),
      lat: p.lat,
      lon: p.lon,
      reporter,
    };
    if (address.value.trim()) body.address = address.value.trim();
    if (ref.value.trim()) body.external_ref = ref.value.trim();
    submit.disabled = true;
    try {
      const files = photos.files();
      if (files.length) {
        body.media = [];
        for (const f of files) body.media.push((await uploadPhoto(f)).id);
      }
      const c = await api('/api/v1/cases', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      let msg = t('intake.done', { number: c.number, state: stateName(c.state) });
      const master = attachTo;
      if (master) {
        // Registered first (the call is never lost), then merged: a refused merge leaves
        // the new case in the queue and says why.
        await api(`/api/v1/cases/${encodeURIComponent(c.id)}/actions`, {
          method: 'POST',
          body: { action: 'merge', merge_into: master.id, reason: t('intake.dup_reason', { n: master.number }), version: c.version },
        });
        msg = t('intake.attached', { number: c.number, master: master.number });
      }
      fill(status, msg, ' ', h('a', { href: `#/case/${c.id}`, 'data-testid': 'created-link' }, t('intake.open_created')));
      announce(msg);
      // Ready for the next call: same channel, fresh time, empty fields.
      const keepSource = source.value;
      form.reset();
      source.value = keepSource;
      called.value = shanghaiLocal(new Date());
      picker.reset();
      photos.reset();
      fill(hints);
      key = randomKey();
      ref.focus();
    } catch (err) {
      // A ticket registered before: say so in the operator's words, next to the ticket.
      if (err instanceof ApiError && err.status === 409 && err.field === 'external_ref') {
        showError(form, new ApiError({ status: 409, code: 'conflict', field: 'external_ref', message: t('intake.ref_taken', { ref: body.external_ref }) }));
      } else {
        showError(form, err);
      }
    } finally {
      submit.disabled = false;
      attachTo = null;
    }
  });

  setScreenKeys([
    { keys: ['Ctrl+Enter'], label: t('keys.send'), run: () => form.requestSubmit() },
    { keys: ['n'], label: t('keys.new_call'), run: () => ref.focus() },
  ]);
  ref.focus();
}
