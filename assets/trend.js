// The 30-day trend: tasks created and completed per UTC day, as paired bars, with a table of
// the same numbers for screen readers.

import { el, svg } from './dom.js';

const HEIGHT = 200;
const AXIS = 28; // Room under the bars for the day labels, and left of them for the scale.
const NARROWEST = 280;

/** The days each chart shows, to draw it again at a new width. */
const shown = new WeakMap();

/** The chart box each container shows now: the one it replaces is no longer watched. */
const boxes = new WeakMap();

/** The chart is drawn at the width it is shown at, one unit a CSS pixel, so that its labels
 * keep their size on a phone instead of shrinking with a scaled-down drawing. */
const resized = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const days = shown.get(target);
    if (days && Math.round(target.clientWidth) !== Number(target.dataset.drawnWidth)) draw(target, days);
  }
});

/** Draws `days` (GET /api/dashboard/trend's `days`) into `container`. */
export function showTrend(container, days) {
  const box = el('div', { class: 'chart-box' });
  shown.set(box, days);

  const legend = el('p', { class: 'legend' },
    el('span', { class: 'key created' }), 'Created ',
    el('span', { class: 'key completed' }), 'Completed');

  const table = el('details', {},
    el('summary', {}, 'The numbers'),
    el('table', {},
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Day'),
        el('th', { scope: 'col' }, 'Created'), el('th', { scope: 'col' }, 'Completed'))),
      el('tbody', {}, days.map((day) => el('tr', {},
        el('th', { scope: 'row' }, day.day), el('td', {}, day.created), el('td', {}, day.completed))))));

  container.classList.remove('skeleton-block');
  container.replaceChildren(box, legend, table);
  draw(box, days);
  const replaced = boxes.get(container);
  if (replaced) resized.unobserve(replaced);
  boxes.set(container, box);
  resized.observe(box);
}

function draw(box, days) {
  // Hidden (an empty account's page): drawn at a desktop's width until it is shown.
  const width = Math.max(NARROWEST, Math.round(box.clientWidth) || 720);
  box.dataset.drawnWidth = Math.round(box.clientWidth);
  const highest = Math.max(1, ...days.flatMap((day) => [day.created, day.completed]));
  const plotHeight = HEIGHT - AXIS;
  const slot = (width - 2 * AXIS) / days.length;
  const bar = Math.max(1, slot / 2 - 1);
  const y = (count) => plotHeight - (count / highest) * (plotHeight - 8);
  const created = days.reduce((sum, day) => sum + day.created, 0);
  const completed = days.reduce((sum, day) => sum + day.completed, 0);

  box.replaceChildren(svg('svg', {
    viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', class: 'chart',
    'aria-label': `Last ${days.length} days: ${created} tasks created, ${completed} completed.`,
  },
  svg('line', { x1: AXIS, x2: width, y1: plotHeight, y2: plotHeight, class: 'axis' }),
  svg('text', { x: AXIS - 4, y: y(highest) + 4, class: 'scale' }, highest),
  svg('text', { x: AXIS - 4, y: plotHeight, class: 'scale' }, 0),
  days.map((day, index) => {
    const x = AXIS + index * slot;
    return svg('g', {},
      svg('title', {}, `${day.day}: ${day.created} created, ${day.completed} completed`),
      svg('rect', { x, y: y(day.created), width: bar, height: plotHeight - y(day.created), class: 'created' }),
      svg('rect', { x: x + bar + 1, y: y(day.completed), width: bar, height: plotHeight - y(day.completed), class: 'completed' }),
      (days.length - 1 - index) % 7 === 0
        ? svg('text', { x: x + bar, y: HEIGHT - 8, class: 'day' }, day.day.slice(5))
        : null);
  })));
}
