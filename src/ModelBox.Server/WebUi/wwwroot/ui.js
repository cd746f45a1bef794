// Small DOM and formatting helpers shared by the pages.

// h('a', { href: '/x', class: 'link' }, 'text', child...) → element. `on*` attributes attach listeners; null/false
// children are skipped; arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const link = (href, ...children) => h('a', { href }, ...children);

const STATUS = {
  EXPERIMENT_STATUS_RUNNING: 'running',
  EXPERIMENT_STATUS_FINISHED: 'finished',
  EXPERIMENT_STATUS_FAILED: 'failed',
  EXPERIMENT_STATUS_KILLED: 'killed',
};

export const statusName = (s) => STATUS[s] ?? (s ? String(s).toLowerCase() : 'running');
export const statusBadge = (s) => h('span', { class: `badge status-${statusName(s)}` }, statusName(s));
export const frameworkName = (f) => (f ? String(f).toLowerCase() : 'unknown');

export function labelChips(labels) {
  const entries = Object.entries(labels || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (!entries.length) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'chips' }, entries.map(([k, v]) => h('span', { class: 'chip', title: `${k}=${v}` }, `${k}=${v}`)));
}

export function formatTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export const timeCell = (ts) => (ts ? h('time', { datetime: ts, title: ts }, formatTime(ts)) : h('span', { class: 'muted' }, '—'));

export function formatBytes(n) {
  n = Number(n || 0);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatNumber(v) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(3);
  return Number(v.toPrecision(5)).toString();
}

// A metadata value (any JSON) as short text.
export function formatValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  return JSON.stringify(v);
}

// Empty, loading and error states: one look everywhere.
export const emptyState = (text, ...more) => h('div', { class: 'state empty', role: 'status' }, h('p', null, text), ...more);
export const loadingState = (text = 'Loading…') => h('div', { class: 'state loading', role: 'status', 'aria-busy': 'true' }, text);

// `namespace`: the namespace the page shows, named by a 403 when the server's message does not name one.
export function errorState(error, what, namespace) {
  const unreachable = error?.status === 0;
  const notFound = error?.status === 404;
  const forbidden = error?.status === 403;
  const unauthenticated = error?.status === 401;
  const deniedNs = forbidden ? (/namespace '([^']+)'/.exec(error.message ?? '')?.[1] ?? namespace) : null;
  const title = unreachable ? 'The server cannot be reached'
    : notFound ? `${what ?? 'This'} was not found`
      : forbidden ? (deniedNs ? `No access to namespace ${deniedNs}` : `No access to ${what ?? 'this page'}`)
        : unauthenticated ? 'Sign in to see this' : `Could not load ${what ?? 'this page'}`;
  const kind = unreachable ? 'unreachable' : notFound ? 'not-found' : forbidden ? 'forbidden' : unauthenticated ? 'unauthenticated' : '';
  return h('div', { class: `state error ${kind}`, role: 'alert', 'data-namespace': deniedNs },
    h('p', { class: 'state-title' }, title),
    h('p', { class: 'state-detail' }, error?.message ?? String(error)),
    unreachable ? h('p', null, 'Start it with ', h('code', null, 'modelbox server start'), ', then ', h('a', { href: location.pathname + location.search }, 'reload'), '.') : null,
    forbidden ? h('p', null, 'The token you signed in with has no role that may read it. Ask an owner of the namespace for a grant, or sign out and sign in with another token. ',
      h('a', { href: '/' }, 'The namespaces you can read')) : null,
    notFound ? h('p', null, h('a', { href: '/' }, 'Back to the namespaces')) : null);
}

// The page's query parameters as an object, and a way to change some of them without adding a history entry.
export const queryParams = () => Object.fromEntries(new URLSearchParams(location.search));

export function replaceQuery(changes) {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '' || v === false) params.delete(k);
    else params.set(k, String(v));
  }
  const qs = params.toString();
  history.replaceState(history.state, '', location.pathname + (qs ? '?' + qs : ''));
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

// A table from column definitions [{ title, cell(row) → node|text, class }].
export function table(columns, rows, { caption, rowAttrs } = {}) {
  return h('div', { class: 'table-wrap' }, h('table', null,
    caption ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, columns.map(c => h('th', { scope: 'col', class: c.class }, c.title)))),
    h('tbody', null, rows.map(r => h('tr', rowAttrs ? rowAttrs(r) : null, columns.map(c => h('td', { class: c.class }, c.cell(r))))))));
}

export function keyValues(entries) {
  return h('dl', { class: 'kv' }, entries.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}
