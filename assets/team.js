// The team the caller opened: its name, the caller's role, its members with theirs, its
// figures, and the commands the caller's role allows. Admins add members, set roles and
// remove members; anyone may leave. The controls follow the role the last read of the team
// said, so a command can still be refused (403 when the caller's role changed meanwhile, 409
// `last-admin` when a team would be left without an admin): the page says why and shows the
// team as it now is.

import { claimsOf, currentToken, readIfChanged, request } from './api.js';
import { confirmingButton, el, showProblem } from './dom.js';
import { teamFigures } from './team-figures.js';

const ROLE_TEXT = { admin: 'Admin', member: 'Member' };

/**
 * The open team in `parts` ({section, name, role, actions, members, memberForm, notice,
 * loadError, cards, figuresError}). `changed()` is called after a command that may change the
 * caller's list of teams (their role in one, or leaving it); `closed(message)` when the team
 * is no longer open to them (left, removed, deleted), with what to tell them.
 */
export function teamView(parts, { changed, closed }) {
  const { section, name, role, actions, members, memberForm, notice, loadError } = parts;
  let team = null; // The team as last read, with its members.
  let openId = null;
  let tag = null; // The team's ETag: its version.
  let reads = 0; // Numbers each read: only the latest one started may show its answer.
  let busy = 0; // Reads and commands under way; the team says `aria-busy` while there are any.

  const figures = teamFigures(parts.cards, parts.figuresError, {
    gone: () => gone(),
    membersChanged: () => reload(),
  });

  const me = () => claimsOf(currentToken())?.sub;
  const teamPath = () => `/api/teams/${encodeURIComponent(openId)}`;
  const memberPath = (userId) => `${teamPath()}/members/${encodeURIComponent(userId)}`;

  /** Opens the team `id`: its members and figures, read until it is closed. */
  function open(id) {
    close();
    openId = id;
    section.hidden = false;
    name.textContent = '';
    role.textContent = '';
    members.replaceChildren(el('li', { class: 'skeleton-row' }));
    memberForm.hidden = true;
    actions.replaceChildren();
    figures.show(id);
    return reload();
  }

  /** Runs `work` with the team marked `aria-busy`: what it shows may be drawn anew. */
  async function working(work) {
    busy += 1;
    section.setAttribute('aria-busy', 'true');
    try {
      return await work();
    } finally {
      busy -= 1;
      if (busy === 0) section.removeAttribute('aria-busy');
    }
  }

  /** Reads the team again (answered 304 when its version did not move). */
  const reload = () => working(readTeam);

  async function readTeam() {
    if (openId === null) return;
    const id = openId;
    const read = ++reads;
    let answer;
    try {
      answer = await readIfChanged(teamPath(), tag);
    } catch (error) {
      if (id !== openId || read !== reads || error.status === 401) return;
      if (error.status === 404) gone();
      else showProblem(loadError, `The team could not be loaded: ${error.message}`, reload);
      return;
    }
    if (id !== openId || read !== reads) return;
    showProblem(loadError, null);
    if (answer === null) return;
    tag = answer.tag;
    team = answer.body;
    draw();
  }

  function draw() {
    const admin = team.role === 'admin';
    name.textContent = team.name;
    role.textContent = admin ? 'You are an admin of this team.' : 'You are a member of this team.';
    members.replaceChildren(...team.members.map((member) => memberItem(member, admin)));
    memberForm.hidden = !admin;
    actions.replaceChildren(confirmingButton({
      label: 'Leave team', confirm: 'Confirm leaving', about: `: ${team.name}`,
      'data-action': 'leave', act: () => command('DELETE', memberPath(me()), undefined, true),
    }));
  }

  function memberItem(member, admin) {
    const self = member.user_id === me();
    const other = member.role === 'admin' ? 'member' : 'admin';
    return el('li', { class: 'member', 'data-user-id': member.user_id, 'data-role': member.role },
      el('span', { class: 'member-id' }, member.user_id),
      el('span', { class: 'badge role' }, ROLE_TEXT[member.role] ?? member.role),
      self ? el('span', { class: 'muted' }, '(you)') : null,
      admin ? el('button', {
        type: 'button', 'data-action': `make-${other}`,
        'aria-label': `Make ${member.user_id} ${other === 'admin' ? 'an admin' : 'a member'}`,
        onclick: () => command('PUT', memberPath(member.user_id), { role: other }),
      }, other === 'admin' ? 'Make admin' : 'Make member') : null,
      admin && !self ? confirmingButton({
        label: 'Remove', confirm: 'Confirm remove', about: `: ${member.user_id}`,
        'data-action': 'remove', act: () => command('DELETE', memberPath(member.user_id)),
      }) : null);
  }

  /** Runs a member command, then shows the team as it now is; `leaving` when it is the
   * caller's own leaving, after which the team is no longer theirs to see. Answers whether
   * it was applied. */
  const command = (method, path, body, leaving = false) =>
    working(() => commandNow(method, path, body, leaving));

  async function commandNow(method, path, body, leaving) {
    const id = openId;
    const teamName = team?.name;
    const own = path === memberPath(me()); // The caller's own role or membership.
    try {
      await request(method, path, body);
    } catch (error) {
      if (id !== openId || error.status === 401) return false;
      refused(error);
      // 403: the caller's role changed meanwhile; 404: the member (or the team, which the
      // read says) is gone; 409: the team changed in a way the page did not show. The
      // controls drawn from the last read are out of date, or were pressed: drawn again.
      await reload();
      if (id === openId && team) draw();
      return false;
    }
    if (id !== openId) return true;
    refused(null);
    if (leaving) {
      close();
      closed(`You left ${teamName}.`);
    } else {
      await Promise.all([reload(), figures.refresh()]);
    }
    if (own) changed();
    return true;
  }

  /** Says why a command was refused (`null`: it was not), in the server's words; a 403
   * comes from controls the caller's role no longer allows. The problem's type goes in
   * `data-problem`, for whatever needs to tell one refusal from another. */
  function refused(error) {
    if (!error) {
      showProblem(notice, null);
      delete notice.dataset.problem;
      return;
    }
    const why = error.type === 'forbidden'
      ? `${error.message}; the team is shown as it now is`
      : error.message;
    showProblem(notice, why);
    notice.dataset.problem = error.type;
  }

  /** The team answered 404: deleted, or the caller was removed from it. */
  function gone() {
    const teamName = team?.name ?? 'This team';
    close();
    closed(`${teamName} is no longer open to you: it was deleted, or you were removed from it.`);
    changed();
  }

  /** Nothing open: its reads and polling end. */
  function close() {
    figures.stop();
    openId = null;
    team = null;
    tag = null;
    reads += 1;
    section.hidden = true;
    refused(null);
    showProblem(loadError, null);
  }

  /** Adds the member (or sets their role) the admin's form names; what was typed stays
   * when it is refused, to be corrected. */
  memberForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const user = memberForm.elements.user.value.trim();
    if (!user) { // `required` lets spaces through, and they name no one.
      showProblem(notice, 'Enter the user id of the member to add.');
      return;
    }
    if (await command('PUT', memberPath(user), { role: memberForm.elements.role.value })) {
      memberForm.reset();
    }
  });

  /** Something the caller can see changed (their own figures moved): the team may have too. */
  function refresh() {
    return Promise.all([reload(), figures.refresh()]);
  }

  return { open, close, refresh, openId: () => openId };
}
