// The figure cards: one per figure of GET /api/dashboard, each value in an element carrying
// `data-figure="<field>"`. "Shared with me" is one card: `shared` and `total_shared` are the
// same number, shown once, with its split by permission (`view_only`, `can_edit`) beneath.

import { el } from './dom.js';

// In rows of four (two on phones): the caller's tasks, then their activity.
const FIGURES = [
  ['total', 'My tasks'],
  ['pending', 'Pending'],
  ['completed', 'Completed'],
  ['completion_rate', 'Completion rate'],
  ['created_today', 'Created today'],
  ['completed_today', 'Completed today'],
  ['created_this_week', 'Created this week'],
  ['completed_this_week', 'Completed this week'],
];

const value = (name, tag = 'p', attrs = {}) => el(tag, {
  class: `figure skeleton ${attrs.class ?? ''}`.trim(), 'data-figure': name, 'aria-busy': 'true',
}, '—');

/** Fills `container` with the cards, each showing a loading placeholder. */
export function renderCards(container) {
  container.replaceChildren(
    ...FIGURES.map(([name, label]) =>
      el('article', { class: 'card', 'aria-labelledby': `label-${name}` },
        el('h3', { id: `label-${name}` }, label),
        value(name))),
    el('article', { class: 'card shared', 'aria-labelledby': 'label-shared' },
      el('h3', { id: 'label-shared' }, 'Shared with me'),
      value('shared'),
      el('p', { class: 'split' },
        value('view_only', 'span', { class: 'part' }), ' view only · ',
        value('can_edit', 'span', { class: 'part' }), ' can edit')));
}

/** Shows `figures` (a GET /api/dashboard object, or a team's) in the cards: each element with
 * the `attribute` (`data-figure` unless said) gets the figure it names. */
export function showFigures(container, figures, attribute = 'data-figure') {
  for (const element of container.querySelectorAll(`[${attribute}]`)) {
    const name = element.getAttribute(attribute);
    const figure = figures[name];
    if (figure === undefined) continue;
    element.textContent = name === 'completion_rate'
      ? `${figure}%`
      : Number(figure).toLocaleString('en');
    element.classList.remove('skeleton');
    element.removeAttribute('aria-busy');
  }
}

/** An account with nothing to show: no tasks of its own and none shared with it. */
export const isEmpty = (figures) => figures.total === 0 && figures.shared === 0;
