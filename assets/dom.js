// Building the page's elements. Text goes in as text nodes only, never as HTML, so a task
// title or a user id is shown exactly as written and can never become markup.

const SVG = 'http://www.w3.org/2000/svg';

/** `<tag attrs…>children…</tag>`; strings and numbers become text nodes. */
export function el(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same, for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Shows `message` in the problem box `box` with a Retry button, or hides the box (no message). */
export function showProblem(box, message, retry) {
  box.replaceChildren();
  box.hidden = !message;
  if (!message) return;
  box.append(el('span', {}, message));
  if (retry) box.append(el('button', { type: 'button', onclick: retry }, 'Retry'));
}

/** How long a confirming button stays armed after its first press. */
const ARMED_MS = 4000;

/**
 * A button for what the page cannot undo (delete a task, leave a team): the first press arms
 * it for a few seconds, saying `confirm`; only a second press within them calls `act`. Its
 * accessible name is its text followed by `about` (`: <what it acts on>`), so a screen reader
 * hears which one it is among many.
 */
export function confirmingButton({ label, confirm, about = '', act, ...attrs }) {
  let armed = null;
  const button = el('button', {
    type: 'button',
    class: 'danger',
    ...attrs,
    onclick: () => {
      if (armed) {
        clearTimeout(armed);
        button.disabled = true;
        act();
        return;
      }
      say(confirm);
      armed = setTimeout(() => { armed = null; say(label); }, ARMED_MS);
    },
  });
  const say = (text) => {
    button.textContent = text;
    button.setAttribute('aria-label', text + about);
  };
  say(label);
  return button;
}
