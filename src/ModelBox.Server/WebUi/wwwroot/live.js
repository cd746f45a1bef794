// Live updates: one stream per watched namespace on the server's change-events endpoint (text/event-stream). It is read
// with fetch() and a streaming body reader, not EventSource, because EventSource cannot send the Authorization header an
// enforced-auth server needs. The stream is parsed here as the SSE format says (fields `event`, `data`, `id`, `retry`,
// comment lines, events ended by a blank line); after a drop it reconnects by itself, sending the last event id it saw
// as `Last-Event-ID`, so the server resumes after the last change received. Every (re)connect starts with a `ready`
// event, which every handler gets: a page reads its data at once, without waiting for the stream, and reads it again
// on `ready` (the watch is then in place, so nothing committed after that read can be missed; after a reconnect it
// catches what happened while the stream was down). A page that joins a stream already connected gets no `ready`: the
// watch was in place before its read. A 401 asks for a token (and the stream waits for a sign-in); a 403 (no access to
// the namespace) ends it and tells the page.

import { api, openStream, ApiError } from './api.js';
import { signInNeeded } from './auth.js';

const watches = new Map(); // namespace → { controller, handlers, state, error, closeTimer, lastId, retry }
const LINGER_MS = 5000;          // pages of one namespace follow each other: keep its stream open in between
const MAX_RETRY_MS = 30000;

function setIndicator() {
  const states = [...watches.values()].filter(w => w.handlers.size).map(w => w.state);
  const state = states.length === 0 ? 'off'
    : states.includes('denied') ? 'denied'
      : states.every(s => s === 'connected') ? 'connected' : 'connecting';
  document.documentElement.dataset.live = state;
  const el = document.getElementById('live-indicator');
  if (el) {
    el.dataset.state = state;
    el.textContent = state === 'connected' ? '● live' : state === 'connecting' ? '○ connecting…' : state === 'denied' ? '○ not live' : '';
    el.title = state === 'connected' ? 'Changes appear as they happen'
      : state === 'connecting' ? 'The change stream is (re)connecting'
        : state === 'denied' ? 'The change stream was refused (sign in, or no access to this namespace)' : '';
  }
}

const sleep = (ms, signal) => new Promise(resolve => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

// Reads one response body as server-sent events: onEvent({ event, data, id }) per dispatched event; `stream.lastId` and
// `stream.retry` follow the `id` and `retry` fields. Lines end with LF or CRLF (what ModelBox sends; a lone CR is not
// taken as a line end).
async function readEvents(body, stream, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = '', data = [], sawData = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (sawData) onEvent({ event: event || 'message', data: data.join('\n'), id: stream.lastId });
          event = ''; data = []; sawData = false;
          continue;
        }
        if (line.startsWith(':')) continue; // a comment (keep-alive)
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? '' : line.slice(colon + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'event') event = v;
        else if (field === 'data') { data.push(v); sawData = true; }
        else if (field === 'id') { if (!v.includes('\0')) stream.lastId = v; }
        else if (field === 'retry') { if (/^\d+$/.test(v)) stream.retry = Number(v); }
      }
    }
  } finally {
    reader.releaseLock?.();
  }
}

function open(namespace) {
  const w = { controller: new AbortController(), handlers: new Set(), state: 'connecting', error: null, closeTimer: null, lastId: null, retry: 1000 };
  run(namespace, w);
  return w;
}

function deliver(w, message) {
  for (const f of w.handlers) f(message);
}

// Connects, reads, and reconnects until the watch is closed or refused.
async function run(namespace, w) {
  const signal = w.controller.signal;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (w.lastId !== null) headers['Last-Event-ID'] = w.lastId;
      const response = await openStream(api.changeEventsUrl(namespace), headers, signal);
      await readEvents(response.body, w, ({ event, data }) => {
        if (event === 'ready') {
          w.state = 'connected';
          failures = 0;
          setIndicator();
          deliver(w, { type: 'ready' });
        } else if (event === 'change') {
          let change;
          try { change = JSON.parse(data); } catch { return; }
          change.type = 'change';
          deliver(w, change);
        } else if (event === 'error') {
          // The server ends the stream: the token was revoked (16) or the grants withdrawn (7).
          let body = {};
          try { body = JSON.parse(data); } catch { body = {}; }
          if (body.code === 16) signInNeeded(body.message ?? 'the token is no longer valid');
          throw new ApiError(body.code === 16 ? 401 : body.code === 7 ? 403 : 500, body.code ?? null, body.message ?? 'the change stream ended');
        }
      });
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        // Refused: no retry with the same credentials. A 401 asks for a token (a sign-in reopens every watch).
        w.state = 'denied';
        w.error = e;
        setIndicator();
        deliver(w, { type: 'error', error: e });
        return;
      }
      failures++;
    }
    if (signal.aborted) return;
    w.state = 'connecting';
    setIndicator();
    await sleep(Math.min(MAX_RETRY_MS, w.retry * Math.max(1, 2 ** Math.min(failures, 5) / 2)), signal);
  }
}

function close(namespace, w) {
  w.controller.abort();
  if (watches.get(namespace) === w) watches.delete(namespace);
}

// A sign-in or sign-out changes what the streams may show: the app closes every open stream before it renders the page
// again, which opens its watches anew with the new credentials.
export function closeAllWatches() {
  for (const [namespace, w] of [...watches]) close(namespace, w);
  setIndicator();
}

// Watches a namespace: handler(change) gets each change ({ type: 'change', sequence, event, objectKind, objectId,
// changedAt, payload }), { type: 'ready' } when the stream (re)connects (re-read what you show), and { type: 'error',
// error } when the stream is refused (error.status 401 or 403). Returns { stop, ready, error() }; `ready` is resolved
// (pages read at once; the `ready` event makes them read again).
export function watchNamespace(namespace, handler) {
  let w = watches.get(namespace);
  if (!w || w.state === 'denied') {
    if (w) close(namespace, w);
    w = open(namespace);
    watches.set(namespace, w);
  }
  clearTimeout(w.closeTimer);
  w.handlers.add(handler);
  setIndicator();
  const entry = w;
  const ready = Promise.resolve();
  const stop = () => {
    entry.handlers.delete(handler);
    setIndicator();
    if (entry.handlers.size === 0) {
      entry.closeTimer = setTimeout(() => {
        if (entry.handlers.size === 0) close(namespace, entry);
      }, LINGER_MS);
    }
  };
  return { stop, ready, error: () => entry.error };
}

// Whether a change concerns the object `id`: the object itself, or one whose state names it as parent or experiment.
export function concerns(change, id) {
  if (change.objectId === id) return true;
  const p = change.payload || {};
  return p.parent_id === id || p.experiment_id === id || p.model_id === id;
}
