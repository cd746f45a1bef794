// Live updates: one EventSource per watched namespace on the server's change-events endpoint. The browser reconnects by
// itself after a drop and sends Last-Event-ID, so the server resumes after the last change received. Every (re)connect
// starts with a `ready` event: subscribers re-read what they show then, so nothing committed while disconnected is missed.

const watches = new Map(); // namespace → { source, handlers }

function setIndicator() {
  const states = [...watches.values()].map(w => w.state);
  const state = states.length === 0 ? 'off' : states.every(s => s === 'connected') ? 'connected' : 'connecting';
  document.documentElement.dataset.live = state;
  const el = document.getElementById('live-indicator');
  if (el) {
    el.dataset.state = state;
    el.textContent = state === 'connected' ? '● live' : state === 'connecting' ? '○ reconnecting…' : '';
    el.title = state === 'connected' ? 'Changes appear as they happen' : state === 'connecting' ? 'The change stream is reconnecting' : '';
  }
}

// handler(change) is called with { type: 'ready' } after every (re)connect and with each change ({ sequence, event,
// objectKind, objectId, changedAt, payload }). Returns the function that stops watching.
export function watchNamespace(namespace, handler) {
  let w = watches.get(namespace);
  if (!w) {
    const source = new EventSource(`/api/v1/namespaces/${encodeURIComponent(namespace)}/change-events`);
    w = { source, handlers: new Set(), state: 'connecting' };
    watches.set(namespace, w);
    const entry = w;
    source.addEventListener('ready', () => {
      entry.state = 'connected';
      setIndicator();
      for (const f of entry.handlers) f({ type: 'ready' });
    });
    source.addEventListener('change', e => {
      let change;
      try { change = JSON.parse(e.data); } catch { return; }
      change.type = 'change';
      for (const f of entry.handlers) f(change);
    });
    source.addEventListener('error', () => {
      entry.state = 'connecting';
      setIndicator();
    });
  }
  w.handlers.add(handler);
  setIndicator();
  return () => {
    const cur = watches.get(namespace);
    if (!cur) return;
    cur.handlers.delete(handler);
    if (cur.handlers.size === 0) {
      cur.source.close();
      watches.delete(namespace);
      setIndicator();
    }
  };
}

// Whether a change concerns the object `id`: the object itself, or one whose state names it as parent or experiment.
export function concerns(change, id) {
  if (change.objectId === id) return true;
  const p = change.payload || {};
  return p.parent_id === id || p.experiment_id === id || p.model_id === id || p.parentId === id || p.experimentId === id || p.modelId === id;
}
