// tally's API as the page uses it: the token, JSON requests, and problems as errors.

const TOKEN_KEY = 'tally.token';

/** Moves a token from the address (`/#token=<jwt>`) into this tab's storage, and out of the
 * address bar and history, so it is neither bookmarked nor shown. */
export function takeTokenFromAddress() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
  }
}

export const currentToken = () => sessionStorage.getItem(TOKEN_KEY);
export const keepToken = (token) => sessionStorage.setItem(TOKEN_KEY, token.trim());
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

/** The token's claims, read to show who is signed in and until when (the server checks the
 * signature; the page only reads). */
export function claimsOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(payload), (char) => char.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** A failed request: the problem the server answered, or status 0 when it could not be reached. */
export class ApiError extends Error {
  constructor(status, type, detail) {
    super(detail);
    this.status = status;
    this.type = type;
  }
}

/** Called when the server refuses the token, so the page can ask for a new one. */
let onUnauthorized = () => {};
export const whenUnauthorized = (callback) => { onUnauthorized = callback; };

/** The newest position a command of this tab answered. Every read sends it as
 * `Tally-Min-Position`, so that it reflects the tab's own commands on whichever server of
 * several answers it. */
let ownPosition = null;

/** The headers that make a read reflect this tab's commands. */
export const positionHeaders = () =>
  (ownPosition === null ? {} : { 'Tally-Min-Position': String(ownPosition) });

/** Sends a request with the token (and `extra` headers, such as `If-Match`); answers the JSON
 * body, or throws an `ApiError`. */
export async function request(method, path, body, extra = {}) {
  const response = await send(method, path, body, extra);
  const answer = await response.json();
  if (method !== 'GET' && Number.isSafeInteger(answer?.position)) {
    ownPosition = Math.max(ownPosition ?? 0, answer.position);
  }
  return answer;
}

/** Reads `path` unless it still has the tag `held` (its last `ETag`, or null): `null` when the
 * server answers 304, else `{ body, tag }`. A poller pays a few header bytes while nothing
 * changes. */
export async function readIfChanged(path, held) {
  const response = await send('GET', path, undefined, held ? { 'If-None-Match': held } : {});
  if (response.status === 304) return null;
  return { body: await response.json(), tag: response.headers.get('ETag') };
}

/** The response to a request with the token: a 2xx, or a 304 to an `If-None-Match` (with
 * `cache: 'no-store'` the browser hands that to the page rather than answering it from its
 * cache); any other answer is thrown as an `ApiError`. */
async function send(method, path, body, extra) {
  const token = currentToken();
  // Signed out meanwhile (a timer or a Retry button of the last sign-in): nothing to send.
  if (!token) throw new ApiError(401, 'signed-out', 'Signed out.');
  const headers = {
    ...(method === 'GET' ? positionHeaders() : {}),
    ...extra,
    Authorization: `Bearer ${token}`,
    Accept: 'application/json',
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'tally cannot be reached.');
  }
  if (response.ok || response.status === 304) return response;
  const problem = await response.json().catch(() => ({}));
  if (response.status === 401) onUnauthorized(problem.detail);
  // A read is 422 only for a position past the log's head (a database restored from a backup):
  // asking for it again would refuse every read of this tab.
  if (response.status === 422 && method === 'GET') ownPosition = null;
  throw new ApiError(response.status, problem.type ?? 'unknown',
    problem.detail ?? `tally answered ${response.status}.`);
}
