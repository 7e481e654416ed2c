// The live inbox (issue 15 item 5): a bell with the unread count in the console's top bar
// on every page, a dropdown listing the signed-in person's notices (unread first), and
// the live stream (`GET /api/v1/stream`, Server-Sent Events, opened with a single-use
// ticket from `POST /api/v1/stream/ticket` because EventSource cannot send the Bearer
// header). `event: notice` updates the bell; `event: case` is re-dispatched on `document`
// as `cityloop:case` (queue.js reloads a list a case enters or leaves). While the stream
// is down the bell polls the count every 30 s and tries the stream again.

import { t } from '../i18n.js';
import { h, fill, timeEl, api, describe, announce } from '../common.js';
import './strings.js';

/** Fallback polling period while the stream is down (never faster). */
const POLL_MS = 30_000;
/** Notices shown in the dropdown. */
const PAGE = 20;

/** @type {EventSource | null} */
let source = null;
/** @type {number | undefined} */
let pollTimer;
/** @type {HTMLElement | null} */
let root = null;
let unread = 0;
let live = false;
/** Bumped on every mount/unmount: late callbacks of an older session do nothing. */
let generation = 0;

const KIND_ICONS = {
  deadline_red: '●',
  deadline_yellow: '●',
};

/** The kind of a notice in words. @param {string} kind */
function kindName(kind) {
  const key = `inbox.kind.${kind}`;
  const s = t(key);
  return s === key ? kind : s;
}

function badgeText(n) {
  return n > 99 ? '99+' : String(n);
}

/** Mounts the bell into `host` (the top bar's actions) and opens the stream. @param {HTMLElement} host */
export function mountInbox(host) {
  unmountInbox();
  const gen = ++generation;
  const badge = h('span', { class: 'bell-badge', 'data-testid': 'bell-count', hidden: true });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'bell',
      id: 'bell',
      'aria-haspopup': 'true',
      'aria-expanded': 'false',
      'aria-controls': 'inbox-panel',
      'data-testid': 'bell',
    },
    bellIcon(),
    h('span', { class: 'visually-hidden', id: 'bell-label' }, t('inbox.title')),
    badge,
  );
  const list = h('ol', { class: 'inbox-list', 'data-testid': 'inbox-list' });
  const state = h('p', { class: 'inbox-state muted', 'data-testid': 'inbox-state' });
  const readAll = h('button', { type: 'button', class: 'secondary small' }, t('inbox.read_all'));
  const panel = h(
    'div',
    { class: 'inbox-panel', id: 'inbox-panel', role: 'dialog', 'aria-label': t('inbox.title'), hidden: true },
    h('div', { class: 'inbox-head' }, h('h2', {}, t('inbox.title')), readAll),
    state,
    list,
  );
  root = h('div', { class: 'inbox' }, button, panel);
  host.prepend(root);

  const setCount = (/** @type {number} */ n) => {
    unread = n;
    badge.textContent = badgeText(n);
    badge.hidden = n === 0;
    button.setAttribute('aria-label', n ? t('inbox.bell_unread', { n }) : t('inbox.title'));
    button.classList.toggle('has-unread', n > 0);
  };
  const showState = () => {
    button.dataset.live = String(live);
    state.textContent = live ? t('inbox.live') : t('inbox.polling');
    state.classList.toggle('warn', !live);
  };

  const loadList = async () => {
    try {
      const page = await api(`/api/v1/me/inbox?limit=${PAGE}`);
      if (gen !== generation) return;
      setCount(page.unread);
      if (!page.items.length) {
        fill(list, h('li', { class: 'empty' }, t('inbox.empty')));
        return;
      }
      fill(list, page.items.map((n) => item(n)));
    } catch (err) {
      fill(list, h('li', { class: 'form-error' }, describe(err)));
    }
  };
  const item = (/** @type {any} */ n) => {
    const link = h(
      'a',
      {
        href: n.case_id ? `#/case/${n.case_id}` : '#',
        class: `inbox-item kind-${n.kind}${n.read_at ? '' : ' unread'}`,
        'data-testid': 'inbox-item',
      },
      h(
        'span',
        { class: 'inbox-kind' },
        KIND_ICONS[n.kind] ? h('span', { class: `dot ${n.kind}`, 'aria-hidden': 'true' }, KIND_ICONS[n.kind]) : null,
        kindName(n.kind),
        n.read_at ? null : h('span', { class: 'visually-hidden' }, t('inbox.unread_mark')),
      ),
      h('span', { class: 'inbox-message' }, n.message),
      h('span', { class: 'inbox-time muted' }, timeEl(n.created_at)),
    );
    link.addEventListener('click', async () => {
      if (n.read_at) return close();
      try {
        const r = await api(`/api/v1/me/inbox/${n.id}/read`, { method: 'POST' });
        setCount(r.unread);
      } catch {
        // The case opens anyway; the notice stays unread.
      }
      close();
    });
    return h('li', {}, link);
  };
  // On a phone the panel is fixed to the screen (console.css): put it under the bell
  // rather than over it, and let it use the height left below.
  const place = () => {
    if (getComputedStyle(panel).position !== 'fixed') {
      panel.style.top = '';
      panel.style.maxHeight = '';
      return;
    }
    const top = Math.max(8, Math.round(button.getBoundingClientRect().bottom + 8));
    panel.style.top = `${top}px`;
    panel.style.maxHeight = `calc(100vh - ${top + 10}px)`;
  };
  const open = async () => {
    panel.hidden = false;
    place();
    button.setAttribute('aria-expanded', 'true');
    showState();
    await loadList();
    /** @type {HTMLElement | null} */ (list.querySelector('a'))?.focus();
  };
  const close = () => {
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  };
  button.addEventListener('click', () => (panel.hidden ? open() : close()));
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
      button.focus();
    }
  });
  document.addEventListener('click', (e) => {
    if (gen !== generation || panel.hidden) return;
    if (!root?.contains(/** @type {Node} */ (e.target))) close();
  });
  readAll.addEventListener('click', async () => {
    try {
      const r = await api('/api/v1/me/inbox/read-all', { method: 'POST' });
      setCount(r.unread);
      await loadList();
    } catch (err) {
      state.textContent = describe(err);
    }
  });

  const refreshCount = async () => {
    try {
      const r = await api('/api/v1/me/inbox/unread');
      if (gen === generation) setCount(r.unread);
    } catch {
      // Next poll tries again.
    }
  };

  const connect = async () => {
    if (gen !== generation || typeof EventSource === 'undefined') return;
    let ticket;
    try {
      ticket = (await api('/api/v1/stream/ticket', { method: 'POST' })).ticket;
    } catch {
      return; // still polling
    }
    if (gen !== generation) return;
    const es = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    source = es;
    es.addEventListener('open', () => {
      live = true;
      showState();
      refreshCount();
    });
    es.addEventListener('notice', (e) => {
      const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
      setCount(d.unread);
      button.classList.remove('ring');
      void button.offsetWidth;
      button.classList.add('ring');
      announce(t('inbox.new', { kind: kindName(d.notice.kind), message: d.notice.message }));
      if (!panel.hidden) loadList();
    });
    es.addEventListener('case', (e) => {
      const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
      document.dispatchEvent(new CustomEvent('cityloop:case', { detail: d }));
    });
    es.addEventListener('lagged', () => {
      refreshCount();
      document.dispatchEvent(new CustomEvent('cityloop:case', { detail: { lagged: true } }));
    });
    es.addEventListener('error', () => {
      // A ticket is single use: the browser's own reconnect would be refused. Close and
      // let the 30 s poll open a new stream with a new ticket.
      es.close();
      if (source === es) source = null;
      live = false;
      showState();
    });
  };

  setCount(0);
  refreshCount();
  connect();
  pollTimer = window.setInterval(() => {
    if (gen !== generation || live) return;
    refreshCount();
    connect();
  }, POLL_MS);
  document.addEventListener('langchange', () => {
    if (gen !== generation) return;
    /** @type {HTMLElement} */ (panel.querySelector('h2')).textContent = t('inbox.title');
    readAll.textContent = t('inbox.read_all');
    setCount(unread);
    showState();
    if (!panel.hidden) loadList();
  });
}

/** Closes the stream and removes the bell (sign-out). */
export function unmountInbox() {
  generation += 1;
  if (source) source.close();
  source = null;
  live = false;
  if (pollTimer !== undefined) window.clearInterval(pollTimer);
  pollTimer = undefined;
  root?.remove();
  root = null;
}

function bellIcon() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '22');
  svg.setAttribute('height', '22');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0');
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.8');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}
