// A category picker for the console's report screens: a search box that filters a list
// of the district's active categories (by name, major class or code) and the list itself,
// both reachable by keyboard: type, ↓ into the list, ↑/↓ to choose, Enter or Tab on.

import { t, lang } from '../i18n.js';
import { h, fill } from '../common.js';
import { ctx } from './ctx.js';

/** The categories a report can be filed under: the current standard (GB/T 47678.5). */
function reportable() {
  return ctx.categories.filter((c) => c.active && c.standard === 'gb47678');
}

/** @param {import('./ctx.js').Category} c */
const label = (c) => `${lang() === 'en' ? c.name_en : c.name_zh}（${lang() === 'en' ? c.major_name_en : c.major_name_zh} · ${c.code}）`;
/** @param {import('./ctx.js').Category} c */
export const categoryKey = (c) => `${c.standard}:${c.kind}:${c.code}`;

/**
 * The picker. `onChange(category | null)` is called when the choice changes.
 * `box.value()` is the chosen category, `box.reset()` clears it, `box.focus()` focuses
 * the search box.
 * @param {{ id: string, onChange?: (c: import('./ctx.js').Category | null) => void }} opts
 */
export function categoryPicker({ id, onChange = () => {} }) {
  const search = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'search',
      id: `${id}-search`,
      autocomplete: 'off',
      placeholder: t('intake.category_search'),
      'aria-describedby': `${id}-hint`,
      'aria-controls': id,
    })
  );
  const select = /** @type {HTMLSelectElement} */ (h('select', { id, name: 'category', size: 6, 'aria-describedby': `${id}-picked` }));
  const picked = h('p', { class: 'hint', id: `${id}-picked`, 'aria-live': 'polite' });
  const all = reportable();
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const keep = select.value;
    const groups = new Map();
    for (const c of all) {
      const text = `${c.name_zh} ${c.name_en} ${c.major_name_zh} ${c.major_name_en} ${c.code}`.toLowerCase();
      if (q && !q.split(/\s+/).every((w) => text.includes(w))) continue;
      const g = `${c.kind === 'matter' ? t('intake.kind_matter') : t('intake.kind_component')} · ${lang() === 'en' ? c.major_name_en : c.major_name_zh}`;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(c);
    }
    fill(
      select,
      [...groups].map(([g, list]) =>
        h('optgroup', { label: g }, list.map((/** @type {any} */ c) => h('option', { value: categoryKey(c), selected: categoryKey(c) === keep }, label(c)))),
      ),
    );
    if (!groups.size) select.append(h('option', { disabled: true, value: '' }, t('intake.category_none')));
  };
  let current = /** @type {import('./ctx.js').Category | null} */ (null);
  const choose = () => {
    const c = all.find((x) => categoryKey(x) === select.value) || null;
    if (c === current) return;
    current = c;
    picked.textContent = c ? t('intake.category_picked', { name: label(c) }) : '';
    onChange(c);
  };
  search.addEventListener('input', () => {
    render();
    // One match left: it is the choice.
    const opts = [...select.options].filter((o) => !o.disabled);
    if (opts.length === 1) {
      select.value = opts[0].value;
      choose();
    }
  });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      const first = [...select.options].find((o) => !o.disabled);
      if (first && !select.value) select.value = first.value;
      select.focus();
      choose();
    } else if (e.key === 'Enter') {
      // Enter in the search box takes the first match instead of sending the form.
      e.preventDefault();
      const first = [...select.options].find((o) => !o.disabled);
      if (first) {
        select.value = first.value;
        choose();
      }
    }
  });
  select.addEventListener('change', choose);
  select.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      choose();
    }
  });
  render();
  const box = h(
    'div',
    { class: 'field category-picker', dataset: { field: 'category' } },
    h('label', { for: `${id}-search` }, t('intake.category')),
    h('p', { class: 'hint', id: `${id}-hint` }, t('intake.category_hint')),
    search,
    h('label', { for: id, class: 'visually-hidden' }, t('intake.category_list')),
    select,
    picked,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true, 'aria-live': 'polite' }),
  );
  return Object.assign(box, {
    value: () => current,
    reset: () => {
      search.value = '';
      select.value = '';
      render();
      current = null;
      picked.textContent = '';
    },
    focusSearch: () => search.focus(),
  });
}
