// The caller's tasks: owned or shared with them, filtered by status, a page at a time, with
// the commands the caller's permission allows.

import { request } from './api.js';
import { el, showProblem } from './dom.js';

const PAGE_SIZE = 10;

/** The list inside `parts` ({list, scope, status, previous, next, notice}); `refresh()` reloads
 * the page shown. */
export function taskList(parts) {
  const { list, scope, status, previous, next, notice } = parts;
  let cursors = [null]; // The cursor of each page up to the one shown; `null` is the first.
  let nextCursor = null;
  let loaded = false;

  async function refresh() {
    if (!loaded) list.replaceChildren(...[1, 2, 3].map(() => el('li', { class: 'task skeleton-row' })));
    const query = new URLSearchParams({ scope: scope.value, limit: PAGE_SIZE });
    if (status.value) query.set('status', status.value);
    const cursor = cursors[cursors.length - 1];
    if (cursor) query.set('cursor', cursor);
    try {
      const page = await request('GET', `/api/tasks?${query}`);
      loaded = true;
      nextCursor = page.next_cursor;
      showProblem(notice, null);
      list.replaceChildren(...page.items.map(taskItem));
      if (page.items.length === 0) list.append(el('li', { class: 'empty' }, emptyText()));
    } catch (error) {
      showProblem(notice, `Tasks could not be loaded: ${error.message}`, refresh);
    }
    previous.disabled = cursors.length === 1;
    next.disabled = !nextCursor;
  }

  function emptyText() {
    if (cursors.length > 1) return 'No more tasks.';
    return scope.value === 'owned' ? 'No tasks here yet.' : 'Nothing is shared with you here.';
  }

  /** Runs a command, then shows the list as it now is (the figures follow by themselves). */
  async function command(method, path, body) {
    try {
      await request(method, path, body);
      showProblem(notice, null);
    } catch (error) {
      showProblem(notice, error.message);
    }
    await refresh();
  }

  function taskItem(task) {
    const path = `/api/tasks/${encodeURIComponent(task.id)}`;
    const mayChange = task.permission === 'owner' || task.permission === 'edit';
    const owns = task.permission === 'owner';
    const item = el('li', { class: 'task', 'data-task-id': task.id, 'data-status': task.status },
      el('div', { class: 'task-main' },
        el('span', { class: 'title' }, task.title),
        el('span', { class: `badge ${task.status}` }, task.status === 'completed' ? 'Completed' : 'Pending'),
        owns ? null : el('span', { class: 'muted' },
          `from ${task.owner_id}, ${task.permission === 'edit' ? 'can edit' : 'view only'}`),
        task.description ? el('p', { class: 'description' }, task.description) : null),
      el('div', { class: 'actions' },
        mayChange && task.status === 'pending'
          ? el('button', { type: 'button', 'data-action': 'complete', onclick: () => command('POST', `${path}/complete`) }, 'Complete')
          : null,
        mayChange && task.status === 'completed'
          ? el('button', { type: 'button', 'data-action': 'reopen', onclick: () => command('POST', `${path}/reopen`) }, 'Reopen')
          : null,
        owns ? el('button', { type: 'button', 'data-action': 'share', 'aria-expanded': 'false', onclick: toggleShareForm }, 'Share…') : null,
        owns ? deleteButton(() => command('DELETE', path)) : null));
    if (owns) item.append(...[shareList(task, path), shareForm(task, path)].filter(Boolean));
    return item;
  }

  function shareList(task, path) {
    const shares = task.shares ?? [];
    if (shares.length === 0) return null;
    return el('ul', { class: 'shares', 'aria-label': `Shares of ${task.title}` }, shares.map((share) =>
      el('li', {},
        `${share.user_id} (${share.permission === 'edit' ? 'can edit' : 'view only'}) `,
        el('button', {
          type: 'button', class: 'link', 'data-action': 'unshare',
          onclick: () => command('DELETE', `${path}/shares/${encodeURIComponent(share.user_id)}`),
        }, 'Unshare'))));
  }

  function shareForm(task, path) {
    const id = `share-${task.id}`;
    const user = el('input', { id: `${id}-user`, name: 'user', required: true, autocomplete: 'off' });
    const permission = el('select', { id: `${id}-permission`, name: 'permission' },
      el('option', { value: 'view' }, 'View only'), el('option', { value: 'edit' }, 'Can edit'));
    return el('form', {
      class: 'share-form', hidden: true,
      onsubmit: (event) => {
        event.preventDefault();
        command('PUT', `${path}/shares/${encodeURIComponent(user.value.trim())}`, { permission: permission.value });
      },
    },
    el('label', { for: user.id }, 'Share with user'), user,
    el('label', { for: permission.id }, 'Permission'), permission,
    el('button', { type: 'submit' }, 'Share'));
  }

  function toggleShareForm(event) {
    const button = event.currentTarget;
    const form = button.closest('.task').querySelector('.share-form');
    form.hidden = !form.hidden;
    button.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.querySelector('input').focus();
  }

  scope.addEventListener('change', () => { cursors = [null]; loaded = false; refresh(); });
  status.addEventListener('change', () => { cursors = [null]; loaded = false; refresh(); });
  next.addEventListener('click', () => { cursors.push(nextCursor); refresh(); });
  previous.addEventListener('click', () => { cursors.pop(); refresh(); });

  /** A refresh because the figures changed, held back while the caller types in a share
   * form of the list (a new list would throw the typing away). */
  function refreshQuietly() {
    if (list.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') {
      list.addEventListener('focusout', () => refreshQuietly(), { once: true });
      return;
    }
    refresh();
  }

  /** Back to the first page, showing nothing until it loads (a new sign-in). */
  function reset() {
    cursors = [null];
    loaded = false;
    list.replaceChildren();
  }

  return { refresh, refreshQuietly, reset };
}

/** Delete asks once more before it acts: the first press arms it for a few seconds. */
function deleteButton(remove) {
  let armed = null;
  const button = el('button', {
    type: 'button', class: 'danger', 'data-action': 'delete',
    onclick: () => {
      if (armed) {
        clearTimeout(armed);
        remove();
        return;
      }
      button.textContent = 'Confirm delete';
      armed = setTimeout(() => { armed = null; button.textContent = 'Delete'; }, 4000);
    },
  }, 'Delete');
  return button;
}
