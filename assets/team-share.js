// Sharing one of the caller's own tasks with a team of theirs: the teams it is shared with
// (the owner's `team_shares`), each with Unshare, and a form to share it with a team, view
// only or can edit. Every member of the team then sees the task, and it counts in the team's
// figures.

import { el } from './dom.js';

const PERMISSION_TEXT = { view: 'view only', edit: 'can edit' };

/** The teams `task` is shared with, or null when none; `teams` are the caller's, to name
 * them by; `command(method, path)` runs an unshare. */
export function teamShareList(task, path, teams, command) {
  const shares = task.team_shares ?? [];
  if (shares.length === 0) return null;
  // A share outlives its owner's leaving the team (they can still end it), and the page lists
  // only the pages of teams the caller asked to see: such a team has no name here.
  const nameOf = (id) => teams.find((team) => team.id === id)?.name ?? 'a team not in your list';
  return el('ul', { class: 'shares team-shares', 'aria-label': `Teams ${task.title} is shared with` },
    shares.map((share) => el('li', { 'data-team-id': share.team_id },
      'Team ', el('span', { class: 'team-name' }, nameOf(share.team_id)),
      ` (${PERMISSION_TEXT[share.permission] ?? share.permission}) `,
      el('button', {
        type: 'button', class: 'link', 'data-action': 'unshare-team',
        'aria-label': `Unshare ${task.title} from team ${nameOf(share.team_id)}`,
        onclick: () => command('DELETE', `${path}/team-shares/${encodeURIComponent(share.team_id)}`),
      }, 'Unshare'))));
}

/** The (hidden) form sharing `task` with one of `teams`, or null when the caller is in none;
 * `command(method, path, body, true)` runs the share (`true`: from a form of the list). */
export function teamShareForm(task, path, teams, command) {
  if (teams.length === 0) return null;
  const id = `team-share-${task.id}`;
  const team = el('select', { id: `${id}-team`, name: 'team' },
    teams.map((each) => el('option', { value: each.id }, each.name)));
  const permission = el('select', { id: `${id}-permission`, name: 'permission' },
    el('option', { value: 'view' }, 'View only'), el('option', { value: 'edit' }, 'Can edit'));
  return el('form', {
    id, class: 'share-form', hidden: true, 'aria-label': `Share ${task.title} with a team`,
    onsubmit: (event) => {
      event.preventDefault();
      const target = `${path}/team-shares/${encodeURIComponent(team.value)}`;
      command('PUT', target, { permission: permission.value }, true);
    },
  },
  el('label', { for: team.id }, 'Team'), team,
  el('label', { for: permission.id }, 'Permission'), permission,
  el('button', { type: 'submit' }, 'Share with team'));
}
