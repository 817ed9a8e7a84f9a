// The caller's tasks: owned or shared with them, filtered by status, a page at a time, with
// the commands the caller's permission allows.

import { request } from './api.js';
import { confirmingButton, el, showProblem } from './dom.js';
import { editForm } from './edit.js';
import { teamShareForm, teamShareList } from './team-share.js';

const PAGE_SIZE = 10;

/**
 * The list inside `parts` ({list, scope, status, previous, next, loadError, notice, teams,
 * commanded}): `loadError` says why the list could not be loaded (with Retry), `notice` why a
 * command was refused; `teams()` are the caller's teams, to share their tasks with, and
 * `commanded()` hears that a command was answered (it may move a team's figures).
 * `refresh()` reloads the page shown; `working(work)` marks the list busy while `work` (a
 * command whose answer the list will show) is under way.
 */
export function taskList(parts) {
  const { list, scope, status, previous, next, loadError, notice, teams, commanded } = parts;
  let cursors = [null]; // The cursor of each page up to the one shown; `null` is the first.
  let nextCursor = null;
  let loaded = false;
  let loads = 0; // Numbers each load: only the latest one started may show its answer.

  let busy = 0; // Commands and loads under way; the list says `aria-busy` while there are any.
  let resume = null; // While a redraw waits for the caller to leave a form of the list.

  /** Runs `work` with the list marked `aria-busy`: what it shows is about to be drawn anew. */
  async function working(work) {
    busy += 1;
    list.setAttribute('aria-busy', 'true');
    try {
      return await work();
    } finally {
      busy -= 1;
      if (busy === 0) list.removeAttribute('aria-busy');
    }
  }

  /** Reloads the page shown. A new list would throw away what the caller is typing in a share
   * or edit form of the list, so unless `force` (that form's own command, whose answer the
   * list shows) the drawing waits until they leave it: decided when the answer is there, as
   * they may have opened the form while it was on its way. */
  const refresh = ({ force = false } = {}) => working(() => loadAndDraw(force));

  async function loadAndDraw(force) {
    const load = ++loads;
    if (!loaded) list.replaceChildren(...[1, 2, 3].map(() => el('li', { class: 'task skeleton-row' })));
    previous.disabled = true;
    next.disabled = true;
    const query = new URLSearchParams({ scope: scope.value, limit: PAGE_SIZE });
    if (status.value) query.set('status', status.value);
    const cursor = cursors[cursors.length - 1];
    if (cursor) query.set('cursor', cursor);
    let page;
    try {
      page = await request('GET', `/api/tasks?${query}`);
    } catch (error) {
      if (load !== loads) return;
      if (error.status !== 401) showProblem(loadError, `Tasks could not be loaded: ${error.message}`, () => refresh());
      previous.disabled = cursors.length === 1;
      return;
    }
    if (load !== loads) return;
    if (page.items.length === 0 && cursors.length > 1) {
      // The page emptied (its last task deleted, or a full page had no successor).
      cursors.pop();
      await loadAndDraw(force);
      return;
    }
    if (!force && inForm(document.activeElement)) {
      holdBack();
      return;
    }
    stopHolding();
    loaded = true;
    nextCursor = page.next_cursor;
    showProblem(loadError, null);
    const focused = focusedControl();
    list.replaceChildren(...page.items.map(taskItem));
    if (page.items.length === 0) list.append(el('li', { class: 'empty' }, emptyText()));
    restoreFocus(focused);
    previous.disabled = cursors.length === 1;
    next.disabled = !nextCursor;
  }

  function emptyText() {
    return scope.value === 'owned' ? 'No tasks here yet.' : 'Nothing is shared with you here.';
  }

  /** The task and control that has the keyboard focus in the list, to give it back after the
   * list is drawn anew. */
  function focusedControl() {
    const active = document.activeElement;
    if (!list.contains(active)) return null;
    return { task: active.closest('[data-task-id]')?.dataset.taskId, action: active.dataset.action };
  }

  function restoreFocus(focused) {
    if (!focused?.task) return;
    const item = [...list.querySelectorAll('[data-task-id]')]
      .find((candidate) => candidate.dataset.taskId === focused.task);
    const control = item?.querySelector(`[data-action="${focused.action}"]`) ?? item?.querySelector('button');
    (control ?? list.querySelector('button'))?.focus();
  }

  /** Runs a command, then shows the list as it now is (the figures follow by themselves);
   * `fromForm` when a form of the list sent it, which the new list closes. */
  function command(method, path, body, fromForm = false) {
    return working(async () => {
      try {
        await request(method, path, body);
        showProblem(notice, null);
        commanded();
      } catch (error) {
        if (error.status !== 401) showProblem(notice, error.message);
      }
      await refresh({ force: fromForm });
    });
  }

  function taskItem(task) {
    const path = `/api/tasks/${encodeURIComponent(task.id)}`;
    const mayChange = task.permission === 'owner' || task.permission === 'edit';
    const owns = task.permission === 'owner';
    const action = (name, label, onclick, attrs = {}) => el('button', {
      type: 'button', 'data-action': name, 'aria-label': `${label}: ${task.title}`, onclick, ...attrs,
    }, label);
    const item = el('li', { class: 'task', 'data-task-id': task.id, 'data-status': task.status },
      el('div', { class: 'task-main' },
        el('span', { class: 'title' }, task.title),
        el('span', { class: `badge ${task.status}` }, task.status === 'completed' ? 'Completed' : 'Pending'),
        owns ? null : el('span', { class: 'muted' },
          `from ${task.owner_id}, ${task.permission === 'edit' ? 'can edit' : 'view only'}`),
        task.description ? el('p', { class: 'description' }, task.description) : null),
      el('div', { class: 'actions' },
        mayChange && task.status === 'pending'
          ? action('complete', 'Complete', () => command('POST', `${path}/complete`)) : null,
        mayChange && task.status === 'completed'
          ? action('reopen', 'Reopen', () => command('POST', `${path}/reopen`)) : null,
        mayChange ? action('edit', 'Edit…', toggleForm,
          { 'aria-expanded': 'false', 'aria-controls': `edit-${task.id}` }) : null,
        owns ? action('share', 'Share…', toggleForm,
          { 'aria-expanded': 'false', 'aria-controls': `share-${task.id}` }) : null,
        owns && teams().length > 0 ? action('share-team', 'Share with team…', toggleForm,
          { 'aria-expanded': 'false', 'aria-controls': `team-share-${task.id}` }) : null,
        owns ? confirmingButton({
          label: 'Delete', confirm: 'Confirm delete', about: `: ${task.title}`,
          'data-action': 'delete', act: () => command('DELETE', path),
        }) : null));
    if (mayChange) {
      item.append(editForm(task, path, { saved: edited, refused: (message) => showProblem(notice, message), working }));
    }
    if (owns) {
      item.append(...[
        shareList(task, path), shareForm(task, path),
        teamShareList(task, path, teams(), command), teamShareForm(task, path, teams(), command),
      ].filter(Boolean));
    }
    return item;
  }

  function shareList(task, path) {
    const shares = task.shares ?? [];
    if (shares.length === 0) return null;
    const items = shares.map((share) =>
      el('li', {},
        `${share.user_id} (${share.permission === 'edit' ? 'can edit' : 'view only'}) `,
        el('button', {
          type: 'button', class: 'link', 'data-action': 'unshare',
          'aria-label': `Unshare ${task.title} with ${share.user_id}`,
          onclick: () => command('DELETE', `${path}/shares/${encodeURIComponent(share.user_id)}`),
        }, 'Unshare')));
    // The API lists the first 50 shares of a task; say how many more there are.
    const more = (task.shares_total ?? shares.length) - shares.length;
    if (more > 0) items.push(el('li', { class: 'more' }, `and ${more} more`));
    return el('ul', { class: 'shares', 'aria-label': `Shares of ${task.title}` }, items);
  }

  function shareForm(task, path) {
    const id = `share-${task.id}`;
    const user = el('input', { id: `${id}-user`, name: 'user', required: true, autocomplete: 'off' });
    const permission = el('select', { id: `${id}-permission`, name: 'permission' },
      el('option', { value: 'view' }, 'View only'), el('option', { value: 'edit' }, 'Can edit'));
    return el('form', {
      id, class: 'share-form', hidden: true,
      onsubmit: (event) => {
        event.preventDefault();
        command('PUT', `${path}/shares/${encodeURIComponent(user.value.trim())}`, { permission: permission.value }, true);
      },
    },
    el('label', { for: user.id }, 'Share with user'), user,
    el('label', { for: permission.id }, 'Permission'), permission,
    el('button', { type: 'submit' }, 'Share'));
  }

  /** After an edit was saved or refused for a reason that the list drawn anew shows. */
  async function edited(message) {
    showProblem(notice, message);
    await refresh({ force: true });
  }

  /** Opens or closes the share or edit form the button controls. */
  function toggleForm(event) {
    const button = event.currentTarget;
    const form = document.getElementById(button.getAttribute('aria-controls'));
    form.hidden = !form.hidden;
    button.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.querySelector('input, select').focus();
  }

  const inForm = (element) => list.contains(element) && element.closest('form') !== null;

  /** Draws the list anew once the focus leaves the list's forms (moving between the fields of
   * one is not leaving it). */
  function holdBack() {
    if (resume) return;
    resume = (event) => {
      if (inForm(event.relatedTarget)) return;
      stopHolding();
      refresh();
    };
    list.addEventListener('focusout', resume);
  }

  /** The list is drawn as it now is: nothing is waiting (a form taken away with the old list
   * may never have said that the focus left it). */
  function stopHolding() {
    if (resume) list.removeEventListener('focusout', resume);
    resume = null;
  }

  /** Back to the first page, showing nothing until it loads (a new sign-in, a new filter). */
  function reset() {
    loads += 1; // Answers to loads already sent are for what was shown before.
    cursors = [null];
    loaded = false;
    list.replaceChildren();
    showProblem(loadError, null);
    showProblem(notice, null);
  }

  scope.addEventListener('change', () => { reset(); refresh(); });
  status.addEventListener('change', () => { reset(); refresh(); });
  next.addEventListener('click', () => { cursors.push(nextCursor); refresh(); });
  previous.addEventListener('click', () => { cursors.pop(); refresh(); });

  return { refresh, reset, working };
}
