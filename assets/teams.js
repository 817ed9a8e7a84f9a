// The Teams panel: the caller's teams (GET /api/teams, oldest first, a page at a time), a
// form to create one, and the one they opened (team.js). The teams it has listed are also
// what the task list offers to share a task with.

import { ApiError, request } from './api.js';
import { el, showProblem } from './dom.js';
import { teamView } from './team.js';

const PAGE_SIZE = 50;

/**
 * The panel in `parts` ({list, more, createForm, notice, loadError, team: the parts of
 * team.js's view}). `listed(teams)` is called when the caller's teams (which, and their
 * names) are not those listed before: the task list offers them, and is drawn anew only then.
 */
export function teamsPanel(parts, { listed }) {
  const { list, more, createForm, notice, loadError } = parts;
  let teams = [];
  let offered = '[]'; // Which teams `listed` was last told of, by id and name.
  let pages = 1; // Pages of teams the caller asked to see ("More teams" adds one).
  let hasMore = false;
  let loads = 0; // Numbers each load: only the latest one started may show its answer.
  let session = 0; // Numbers each reset: a team created before one is not opened after it.

  const team = teamView(parts.team, {
    changed: () => refresh(),
    closed: (message) => {
      showProblem(notice, message);
      drawList();
    },
  });

  /** Lists the caller's teams anew, as many pages as were shown. A team list is short, and
   * reading it from the start keeps one order however teams came and went meanwhile. */
  async function refresh() {
    const load = ++loads;
    const found = [];
    let cursor = null;
    try {
      for (let page = 0; page < pages; page += 1) {
        const query = new URLSearchParams({ limit: PAGE_SIZE });
        if (cursor) query.set('cursor', cursor);
        const answer = await request('GET', `/api/teams?${query}`);
        found.push(...answer.items);
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
    } catch (error) {
      if (load === loads && error.status !== 401) {
        showProblem(loadError, `Teams could not be loaded: ${error.message}`, refresh);
      }
      return;
    }
    if (load !== loads) return;
    showProblem(loadError, null);
    teams = found;
    hasMore = cursor !== null;
    drawList();
    const now = JSON.stringify(teams.map((each) => [each.id, each.name]));
    if (now !== offered) {
      offered = now;
      listed(teams);
    }
  }

  function drawList() {
    const open = team.openId();
    // The team button that has the keyboard focus, to give it back in the new list.
    const focused = list.contains(document.activeElement)
      ? document.activeElement.closest('[data-team-id]')?.dataset.teamId : null;
    list.replaceChildren(...teams.map((each) =>
      el('li', { 'data-team-id': each.id },
        el('button', {
          type: 'button', class: 'team-button', 'data-action': 'open-team',
          'aria-pressed': String(each.id === open), onclick: () => toggle(each.id),
        },
        el('span', { class: 'team-name' }, each.name),
        el('span', { class: 'badge role' }, each.role === 'admin' ? 'Admin' : 'Member')))));
    if (teams.length === 0) list.append(el('li', { class: 'empty' }, 'You are in no team yet.'));
    more.hidden = !hasMore;
    if (focused) {
      [...list.querySelectorAll('[data-team-id]')]
        .find((item) => item.dataset.teamId === focused)?.querySelector('button').focus();
    }
  }

  /** Opens a team, or closes it when it is the one open. */
  function toggle(id) {
    showProblem(notice, null);
    if (team.openId() === id) team.close();
    else team.open(id);
    drawList();
  }

  /** Creates the team; it is listed and opened, so that members can be added at once. */
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = createForm.elements.name.value;
    const current = session;
    const submit = createForm.querySelector('button[type="submit"]');
    let created;
    // One press, one team: the button waits for the answer.
    submit.disabled = true;
    try {
      created = await request('POST', '/api/teams', { name });
    } catch (error) {
      if (error.status !== 401) showProblem(notice, error instanceof ApiError ? error.message : String(error));
      return;
    } finally {
      submit.disabled = false;
    }
    if (current !== session) return; // Signed out meanwhile.
    createForm.reset();
    showProblem(notice, null);
    team.open(created.team_id);
    await refresh();
  });

  more.addEventListener('click', () => {
    pages += 1;
    refresh();
  });

  /** Nothing shown, nothing open (signed out, or about to list another caller's teams). */
  function reset() {
    session += 1;
    loads += 1;
    team.close();
    teams = [];
    offered = '[]';
    pages = 1;
    hasMore = false;
    list.replaceChildren();
    more.hidden = true;
    showProblem(notice, null);
    showProblem(loadError, null);
  }

  /** The caller's own figures moved: so may their teams (joined, left) and the open one. */
  function figuresMoved() {
    refresh();
    team.refresh();
  }

  return {
    refresh, reset, figuresMoved,
    /** A task command of the page's was answered: the open team's figures may have moved (a
     * share with it, or a task shared with it completed), the caller's own need not. */
    tasksChanged: () => team.refresh(),
    known: () => teams,
  };
}
