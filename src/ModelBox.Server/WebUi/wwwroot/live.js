// Live updates: one EventSource per watched namespace on the server's change-events endpoint. The browser reconnects by
// itself after a drop and sends Last-Event-ID, so the server resumes after the last change received. Every (re)connect
// starts with a `ready` event. A page waits for the first one before it reads its data (so nothing committed after its
// read can be missed) and re-reads on the later ones (a reconnect).

const watches = new Map(); // namespace → { source, handlers, state, connected: Promise, closeTimer }
const FIRST_READY_WAIT_MS = 500; // a proxy that holds events back must not hold the page back longer than this
const LINGER_MS = 5000;          // pages of one namespace follow each other: keep its stream open in between

function setIndicator() {
  const states = [...watches.values()].filter(w => w.handlers.size).map(w => w.state);
  const state = states.length === 0 ? 'off' : states.every(s => s === 'connected') ? 'connected' : 'connecting';
  document.documentElement.dataset.live = state;
  const el = document.getElementById('live-indicator');
  if (el) {
    el.dataset.state = state;
    el.textContent = state === 'connected' ? '● live' : state === 'connecting' ? '○ connecting…' : '';
    el.title = state === 'connected' ? 'Changes appear as they happen' : state === 'connecting' ? 'The change stream is (re)connecting' : '';
  }
}

function open(namespace) {
  const source = new EventSource(`/api/v1/namespaces/${encodeURIComponent(namespace)}/change-events`);
  const w = { source, handlers: new Set(), state: 'connecting', closeTimer: null };
  w.connected = new Promise(resolve => { w.resolveConnected = resolve; });
  source.addEventListener('ready', () => {
    const reconnect = w.everConnected;
    w.state = 'connected';
    w.everConnected = true;
    w.resolveConnected();
    setIndicator();
    if (reconnect) for (const f of w.handlers) f({ type: 'ready' });
  });
  source.addEventListener('change', e => {
    let change;
    try { change = JSON.parse(e.data); } catch { return; }
    change.type = 'change';
    for (const f of w.handlers) f(change);
  });
  source.addEventListener('error', () => {
    w.state = 'connecting';
    setIndicator();
  });
  return w;
}

// Watches a namespace: handler(change) gets each change ({ type: 'change', sequence, event, objectKind, objectId,
// changedAt, payload }) and { type: 'ready' } after a reconnect (re-read what you show). Returns { stop, ready }:
// await `ready` before the first read.
export function watchNamespace(namespace, handler) {
  let w = watches.get(namespace);
  if (!w) {
    w = open(namespace);
    watches.set(namespace, w);
  }
  clearTimeout(w.closeTimer);
  w.handlers.add(handler);
  setIndicator();
  const entry = w;
  const ready = Promise.race([entry.connected, new Promise(resolve => setTimeout(resolve, FIRST_READY_WAIT_MS))]);
  const stop = () => {
    entry.handlers.delete(handler);
    setIndicator();
    if (entry.handlers.size === 0) {
      entry.closeTimer = setTimeout(() => {
        if (entry.handlers.size === 0 && watches.get(namespace) === entry) {
          entry.source.close();
          watches.delete(namespace);
        }
      }, LINGER_MS);
    }
  };
  return { stop, ready };
}

// Whether a change concerns the object `id`: the object itself, or one whose state names it as parent or experiment.
export function concerns(change, id) {
  if (change.objectId === id) return true;
  const p = change.payload || {};
  return p.parent_id === id || p.experiment_id === id || p.model_id === id;
}
