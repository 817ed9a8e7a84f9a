// The figure cards: one per field of GET /api/dashboard, each value in an element carrying
// `data-figure="<field>"`.

import { el } from './dom.js';

// In rows of four: the caller's tasks, their activity, what others share with them.
const FIGURES = [
  ['total', 'My tasks'],
  ['pending', 'Pending'],
  ['completed', 'Completed'],
  ['completion_rate', 'Completion rate'],
  ['created_today', 'Created today'],
  ['completed_today', 'Completed today'],
  ['created_this_week', 'Created this week'],
  ['completed_this_week', 'Completed this week'],
  ['shared', 'Shared with me'],
  ['view_only', 'Shared: view only'],
  ['can_edit', 'Shared: can edit'],
  ['total_shared', 'Shared: all'],
];

/** Fills `container` with the cards, each showing a loading placeholder. */
export function renderCards(container) {
  container.replaceChildren(...FIGURES.map(([name, label]) =>
    el('article', { class: 'card', 'aria-labelledby': `label-${name}` },
      el('h3', { id: `label-${name}` }, label),
      el('p', { class: 'figure skeleton', 'data-figure': name, 'aria-busy': 'true' }, '—'))));
}

/** Shows `figures` (a GET /api/dashboard object) in the cards. */
export function showFigures(container, figures) {
  for (const element of container.querySelectorAll('[data-figure]')) {
    const value = figures[element.dataset.figure];
    if (value === undefined) continue;
    element.textContent = element.dataset.figure === 'completion_rate'
      ? `${value}%`
      : Number(value).toLocaleString('en');
    element.classList.remove('skeleton');
    element.removeAttribute('aria-busy');
  }
}
