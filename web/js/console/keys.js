// Keyboard shortcuts: one registry for the whole console. The shell registers the global
// keys, each screen its own (`setScreenKeys`, replaced when the screen changes); `?` opens
// an overlay listing both. Single-letter keys act only when no text field has focus.

import { t } from '../i18n.js';
import { h, fill } from '../common.js';

/**
 * @typedef {{ keys: string[], label: string, run: (e: KeyboardEvent) => void }} Shortcut
 */

/** @type {Shortcut[]} */
let globalKeys = [];
/** @type {Shortcut[]} */
let screenKeys = [];

/** @param {Shortcut[]} list */
export function setGlobalKeys(list) {
  globalKeys = list;
}

/** The current screen's shortcuts (an empty list clears them). @param {Shortcut[]} list */
export function setScreenKeys(list) {
  screenKeys = list;
}

/** Whether a key press is meant for a text control rather than the console. @param {EventTarget | null} target */
function typing(target) {
  const el = /** @type {HTMLElement | null} */ (target);
  if (!el || !el.tagName) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  if (el.tagName !== 'INPUT') return false;
  const type = /** @type {HTMLInputElement} */ (el).type;
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'file'].includes(type);
}

/** The key a shortcut list names for an event (`Enter`, `↓`, `j`, `?`). @param {KeyboardEvent} e */
function name(e) {
  const arrows = { ArrowDown: '↓', ArrowUp: '↑', ArrowLeft: '←', ArrowRight: '→' };
  return /** @type {Record<string, string>} */ (arrows)[e.key] || e.key;
}

let overlay = /** @type {HTMLDialogElement | null} */ (null);

/** Opens the `?` overlay: every shortcut that works here, in words. */
export function showShortcuts() {
  if (!overlay) {
    overlay = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'shortcuts', 'aria-labelledby': 'shortcuts-heading', 'data-testid': 'shortcuts' }));
    document.body.append(overlay);
  }
  const dialog = overlay;
  const list = (/** @type {Shortcut[]} */ items) =>
    h(
      'dl',
      { class: 'keys' },
      items.map((s) => [h('dt', {}, s.keys.map((k, i) => [i ? ' / ' : '', h('kbd', {}, k)])), h('dd', {}, s.label)]),
    );
  const close = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('keys.close'));
  fill(
    dialog,
    h('h2', { id: 'shortcuts-heading' }, t('keys.heading')),
    screenKeys.length ? [h('h3', {}, t('keys.screen')), list(screenKeys)] : null,
    h('h3', {}, t('keys.global')),
    // A key the screen uses for itself is listed there only.
    list(globalKeys.filter((g) => !g.keys.some((k) => screenKeys.some((s) => s.keys.includes(k))))),
    h('p', { class: 'hint' }, t('keys.hint')),
    h('div', { class: 'row' }, close),
  );
  if (!dialog.open) dialog.showModal();
  close.focus();
}

/** Listens for the shortcuts (once, on start). */
export function listen() {
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (overlay?.open) return;
    if (typing(e.target)) return;
    const k = name(e);
    if (k === '?') {
      e.preventDefault();
      showShortcuts();
      return;
    }
    // Arrow keys and Enter belong to whatever has focus (a button, a map, a row), except
    // where the screen lists them itself and nothing else took them.
    const focusedControl = /** @type {HTMLElement | null} */ (e.target)?.closest?.('button, a, [role="application"], summary');
    for (const s of [...screenKeys, ...globalKeys]) {
      if (!s.keys.includes(k)) continue;
      if ((k === 'Enter' || k.length > 1) && focusedControl) return;
      e.preventDefault();
      s.run(e);
      return;
    }
  });
}
