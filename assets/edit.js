// Editing a task's title and description in the list. The edit names the version it was made
// on (`If-Match`), so an edit made meanwhile by someone else is never silently overwritten:
// the server answers 412, and the page says so and shows the task as it now is.

import { request } from './api.js';
import { el } from './dom.js';

/** What the page says when the task changed between opening the form and saving it. */
export const CHANGED_MEANWHILE = 'This task was changed elsewhere while you edited it, so your edit was not saved. '
  + 'It is shown as it is now: edit it again if you still want to.';

/**
 * The (hidden) edit form of `task`, at `path`. `saved(message)` is called when the list must be
 * drawn anew: after a save (`message` null), or a refusal that the task changed or went
 * (`message` says which); `refused(message)` when the edit can be corrected in the form.
 * `working(work)` marks the list busy while a save and the redrawing after it are under way.
 */
export function editForm(task, path, { saved, refused, working }) {
  const id = `edit-${task.id}`;
  const title = el('input', {
    id: `${id}-title`, name: 'title', maxlength: 200, required: true, autocomplete: 'off', value: task.title,
  });
  const description = el('textarea', {
    id: `${id}-description`, name: 'description', maxlength: 10000, rows: 3,
  }, task.description ?? '');
  const form = el('form', {
    id, class: 'edit-form', hidden: true, 'aria-label': `Edit ${task.title}`,
    onsubmit: async (event) => {
      event.preventDefault();
      const changes = {};
      if (title.value !== task.title) changes.title = title.value;
      if (description.value !== (task.description ?? '')) changes.description = description.value;
      if (Object.keys(changes).length === 0) {
        close(form);
        return;
      }
      save.disabled = true;
      await working(async () => {
        try {
          await request('PATCH', path, changes, { 'If-Match': `"${task.version}"` });
        } catch (error) {
          save.disabled = false;
          if (error.status === 412) await saved(CHANGED_MEANWHILE);
          else if (error.status === 403 || error.status === 404) await saved(error.message);
          else if (error.status !== 401) refused(error.message);
          return;
        }
        await saved(null);
      });
    },
  },
  el('label', { for: title.id }, 'Title'), title,
  el('label', { for: description.id }, 'Description'), description);
  const save = el('button', { type: 'submit' }, 'Save');
  form.append(el('div', { class: 'form-actions' }, save,
    el('button', { type: 'button', onclick: () => { form.reset(); close(form); } }, 'Cancel')));
  return form;
}

/** Hides `form` and gives the focus back to the button that opened it. */
function close(form) {
  form.hidden = true;
  const opener = form.closest('[data-task-id]')?.querySelector(`[aria-controls="${form.id}"]`);
  opener?.setAttribute('aria-expanded', 'false');
  opener?.focus();
}
