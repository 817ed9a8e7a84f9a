// The open team's figures (GET /api/teams/{id}/dashboard), kept live. They move when a task
// shared with the team changes, which need not move the caller's own figures (a task owner
// completing a task shared with the team moves only the owner's): the caller's stream cannot
// be relied on for them, so while a team is open they are read again every 5 s. The read is
// tagged, so a poll while nothing changed is answered 304.

import { readIfChanged } from './api.js';
import { el, showProblem } from './dom.js';
import { showFigures } from './figures.js';

const POLL_EVERY_MS = 5000;

// In rows of four (two on phones) as the caller's own cards, then the team's size.
const FIGURES = [
  ['total', 'Shared with the team'],
  ['pending', 'Pending'],
  ['completed', 'Completed'],
  ['completion_rate', 'Completion rate'],
  ['created_today', 'Created today'],
  ['completed_today', 'Completed today'],
  ['created_this_week', 'Created this week'],
  ['completed_this_week', 'Completed this week'],
  ['members', 'Members'],
];

/**
 * The figures of one team at a time in `cards`; `problem` says why they could not be read.
 * `gone()` is called when the team answers 404 (deleted, or the caller is no longer in it);
 * `membersChanged()` when its number of members moved, so its member list can be read again.
 */
export function teamFigures(cards, problem, { gone, membersChanged }) {
  let teamId = null;
  let tag = null; // The ETag of the figures shown.
  let members = null;
  let poller = null;
  let reads = 0; // Numbers each read: only the latest one started may show its answer.

  /** Shows `id`'s figures from now on, and polls them. */
  function show(id) {
    stop();
    teamId = id;
    cards.replaceChildren(...FIGURES.map(([name, label]) =>
      el('article', { class: 'card', 'aria-labelledby': `team-label-${name}` },
      el('h4', { id: `team-label-${name}` }, label),
      el('p', { class: 'figure skeleton', 'data-team-figure': name, 'aria-busy': 'true' }, '—'))));
    return refresh();
  }

  /** Reads the figures again: after a command of the page's, a change in the caller's own
   * figures, and each poll. The next poll is due 5 s after the latest read ends, never while
   * one is on its way: over a slow connection overlapping polls would each drop the one
   * before's answer, and the cards would never change. */
  async function refresh() {
    if (teamId === null) return;
    clearTimeout(poller);
    const id = teamId;
    const read = ++reads;
    try {
      await readOnce(id, read);
    } finally {
      if (id === teamId && read === reads) poller = setTimeout(refresh, POLL_EVERY_MS);
    }
  }

  async function readOnce(id, read) {
    const path = `/api/teams/${encodeURIComponent(id)}/dashboard`;
    let answer;
    try {
      answer = await readIfChanged(path, tag);
    } catch (error) {
      if (id !== teamId || read !== reads || error.status === 401) return;
      if (error.status === 404) gone();
      else showProblem(problem, `The team's figures could not be loaded: ${error.message}`, refresh);
      return;
    }
    if (id !== teamId || read !== reads) return;
    showProblem(problem, null);
    if (answer === null) return; // 304: what is shown is current.
    tag = answer.tag;
    showFigures(cards, answer.body, 'data-team-figure');
    const moved = members !== null && answer.body.members !== members;
    members = answer.body.members;
    if (moved) membersChanged();
  }

  /** No team shown: the polling ends, and answers still on their way are dropped. */
  function stop() {
    clearTimeout(poller);
    poller = null;
    teamId = null;
    tag = null;
    members = null;
    reads += 1;
    showProblem(problem, null);
  }

  return { show, refresh, stop };
}
