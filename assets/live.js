// Live figures: the dashboard stream, read with fetch (EventSource cannot send the token in a
// header), resumed with Last-Event-ID; while it is down, a poll every 5 s and reconnection
// with backoff.

import { currentToken, positionHeaders, request } from './api.js';

const POLL_EVERY_MS = 5000;
const LONGEST_BACKOFF_MS = 30000;
const SHORTEST_RETRY_MS = 1000;
// The server comments every 15 s on a quiet stream: this long without a byte, the connection
// is dead (a half-open TCP connection never says so itself).
const SILENCE_MS = 45000;

/**
 * Follows the caller's figures until `stop()` is called.
 * `onFigures(figures)` gets every new state; `onState(state, detail)` hears 'connecting',
 * 'live', 'polling' (the stream is down, figures come by polling) or 'offline' (neither
 * works); `onUnauthorized()` ends following when the token is refused.
 */
export function followFigures({ onFigures, onState, onUnauthorized }) {
  let stopped = false;
  let lastEventId = null;
  let retryMs = 2000;
  let failures = 0;
  let poller = null;
  let aborter = null;
  let wake = null;

  const pause = (ms) => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => { clearTimeout(timer); resolve(); };
  });

  async function poll() {
    try {
      const figures = await request('GET', '/api/dashboard');
      if (poller === null) return; // The stream came back meanwhile: it is newer.
      onFigures(figures);
      onState('polling');
    } catch (error) {
      if (error.status !== 401 && poller !== null) onState('offline', error.message);
    }
  }

  function startPolling() {
    if (poller !== null) return;
    poller = setInterval(poll, POLL_EVERY_MS);
    poll();
  }

  function stopPolling() {
    clearInterval(poller);
    poller = null;
  }

  async function readStream() {
    aborter = new AbortController();
    const headers = {
      ...positionHeaders(),
      Authorization: `Bearer ${currentToken()}`,
      Accept: 'text/event-stream',
    };
    if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
    let silence = null;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => aborter.abort(), SILENCE_MS);
    };
    try {
      heard();
      const response = await fetch('/api/dashboard/stream', {
        headers, signal: aborter.signal, cache: 'no-store',
      });
      if (response.status === 401) return 'unauthorized';
      if (!response.ok || !response.body) throw new Error(`the stream answered ${response.status}`);
      // Open: the figures come from here now (the first event may wait for a change, when
      // the last one seen is still current).
      failures = 0;
      stopPolling();
      onState('live');
      await readEvents(response.body, heard, (event) => {
        if (event.retry !== undefined) retryMs = Math.max(SHORTEST_RETRY_MS, event.retry);
        if (event.data === undefined) return;
        if (event.id !== undefined) lastEventId = event.id;
        onFigures(JSON.parse(event.data));
      });
      return 'ended';
    } finally {
      clearTimeout(silence);
      // Whatever ended the reading (an error, a figure that would not parse), the connection
      // goes with it rather than holding one of the user's streams.
      aborter.abort();
    }
  }

  (async () => {
    onState('connecting');
    while (!stopped) {
      try {
        if (await readStream() === 'unauthorized') {
          stopped = true;
          stopPolling();
          onUnauthorized();
          return;
        }
        // Ended by the server (a restart, the token's expiry): reconnect after the pause
        // it asked for, resuming from the last event.
        if (stopped) return;
        onState('connecting');
        await pause(retryMs);
      } catch {
        if (stopped) return;
        startPolling();
        failures += 1;
        const backoff = Math.min(LONGEST_BACKOFF_MS, retryMs * 2 ** (failures - 1));
        await pause(backoff * (0.5 + Math.random() / 2));
      }
    }
  })();

  return {
    stop() {
      stopped = true;
      stopPolling();
      aborter?.abort();
      wake?.();
    },
  };
}

/** Reads Server-Sent Events from `body`, calling `onBytes()` for every chunk and
 * `onEvent({id, data, retry})` for each event. */
async function readEvents(body, onBytes, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let carriageReturn = false; // A chunk ended in `\r`: the next may begin with its `\n`.
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    let text = (carriageReturn ? '\r' : '') + value;
    carriageReturn = text.endsWith('\r');
    if (carriageReturn) text = text.slice(0, -1);
    buffer += text.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseEvent(block);
      if (event) onEvent(event);
    }
  }
}

function parseEvent(block) {
  const event = {};
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'id') event.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) event.retry = Number(value);
  }
  if (data.length > 0) event.data = data.join('\n');
  return Object.keys(event).length > 0 ? event : null;
}
