// A namespace's experiments: a table with sortable columns, the search language and a label selector (errors shown
// under their box with the position marked), chosen metadata and metric columns, keyset paging, a selection to compare,
// and live updates (a new run appears without a reload).

import { api, readSummaries, ApiError } from '../api.js';
import { setCrumbs, navigate } from '../app.js';
import { watchNamespace } from '../live.js';
import {
  h, emptyState, errorState, loadingState, statusBadge, statusName, frameworkName, labelChips, timeCell,
  formatNumber, formatValue, queryParams, replaceQuery, debounce,
} from '../ui.js';

const PAGE_SIZES = [25, 50, 100, 200];
const MAX_COMPARE = 100;
const SERVER_SORTS = new Set(['name', 'created_at', 'updated_at']);

// Kubernetes-style label selector → the same condition in the search language, so one search carries both. The
// selector itself is checked by the server's list route (which names the position of a mistake in the selector).
export function selectorToFilter(selector) {
  const parts = [];
  let depth = 0, cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; } else cur += ch;
  }
  parts.push(cur);
  const quote = v => `'${v.trim().replaceAll("'", "''")}'`;
  const field = k => (/^[A-Za-z0-9_.\-/]+$/.test(k.trim()) ? `labels.${k.trim()}` : `labels.${quote(k)}`);
  const list = v => `(${v.split(',').map(quote).join(', ')})`;
  const out = [];
  for (const raw of parts.map(p => p.trim()).filter(Boolean)) {
    let m;
    if ((m = /^(.+?)\s+notin\s*\((.*)\)$/.exec(raw))) out.push(`not ${field(m[1])} in ${list(m[2])}`);
    else if ((m = /^(.+?)\s+in\s*\((.*)\)$/.exec(raw))) out.push(`${field(m[1])} in ${list(m[2])}`);
    else if ((m = /^(.+?)!=(.*)$/.exec(raw))) out.push(`${field(m[1])} != ${quote(m[2])}`);
    else if ((m = /^(.+?)==?(.*)$/.exec(raw))) out.push(`${field(m[1])} = ${quote(m[2])}`);
    else if (raw.startsWith('!')) out.push(`not has(${field(raw.slice(1))})`);
    else out.push(`has(${field(raw)})`);
  }
  return out.join(' and ');
}

// Shows a filter error under its box: the message, and the text with the mistake's position marked.
function showError(box, errorEl, text, error, offset = 0) {
  errorEl.replaceChildren();
  delete errorEl.dataset.position;
  box.removeAttribute('aria-invalid');
  if (!error) return;
  box.setAttribute('aria-invalid', 'true');
  const pos = error.position !== null ? error.position - offset : null;
  errorEl.append(h('span', { class: 'error-message' }, error.message));
  if (pos !== null && pos >= 1 && pos <= text.length + 1) {
    errorEl.append(h('code', { class: 'error-caret' }, text.slice(0, pos - 1), h('mark', null, text.slice(pos - 1, pos) || ' '), text.slice(pos)));
    errorEl.dataset.position = String(pos);
    box.setSelectionRange?.(pos - 1, pos);
  }
}

export async function experimentsPage({ root, params: [ns], signal }) {
  setCrumbs([['Namespaces', '/'], [ns, `/namespaces/${encodeURIComponent(ns)}`], ['Experiments']]);
  const q = queryParams();
  const state = {
    filter: q.q ?? '',
    labels: q.labels ?? '',
    sort: q.sort ?? '-created_at',
    cols: q.cols ?? null, // null: pick from the page
    pageSize: PAGE_SIZES.includes(Number(q.ps)) ? Number(q.ps) : 50,
    token: q.page ?? '',
    selected: new Set((q.sel ?? '').split(',').filter(Boolean)),
  };
  const tokens = []; // the tokens of earlier pages, for "Previous"

  const filterBox = h('input', { id: 'filter', name: 'q', type: 'search', value: state.filter, placeholder: "metrics.accuracy > 0.9 and status = 'finished'", 'aria-describedby': 'filter-error', autocomplete: 'off', spellcheck: 'false' });
  const filterError = h('div', { id: 'filter-error', class: 'field-error', 'aria-live': 'polite' });
  const labelBox = h('input', { id: 'labels', name: 'labels', type: 'search', value: state.labels, placeholder: 'env=production,privacy!=pii', 'aria-describedby': 'labels-error', autocomplete: 'off', spellcheck: 'false' });
  const labelError = h('div', { id: 'labels-error', class: 'field-error', 'aria-live': 'polite' });
  const colsBox = h('input', { id: 'cols', name: 'cols', type: 'text', value: state.cols ?? '', placeholder: 'automatic (e.g. metadata.lr, metrics.loss)', autocomplete: 'off' });
  const sizeSelect = h('select', { id: 'page-size', name: 'ps' }, PAGE_SIZES.map(n => h('option', { value: String(n), selected: n === state.pageSize }, String(n))));
  const form = h('form', { class: 'filters', role: 'search' },
    h('div', { class: 'field grow' }, h('label', { for: 'filter' }, 'Filter (search language)'), filterBox, filterError),
    h('div', { class: 'field' }, h('label', { for: 'labels' }, 'Label selector'), labelBox, labelError),
    h('div', { class: 'field' }, h('label', { for: 'cols' }, 'Columns'), colsBox),
    h('div', { class: 'field narrow' }, h('label', { for: 'page-size' }, 'Per page'), sizeSelect),
    h('div', { class: 'field narrow' }, h('span', { class: 'label-spacer' }, ' '), h('button', { type: 'submit' }, 'Apply')));
  const compareButton = h('button', { type: 'button', id: 'compare', disabled: true }, 'Compare selected');
  const toolbar = h('div', { class: 'toolbar' },
    h('a', { href: `/namespaces/${encodeURIComponent(ns)}/models` }, 'Models of this namespace'), compareButton,
    h('span', { id: 'result-count', class: 'muted', 'aria-live': 'polite' }));
  const body = h('div', { id: 'experiments' }, loadingState());
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  root.append(h('h1', null, `Experiments in ${ns}`), form, toolbar, body, pager);

  const updateCompare = () => {
    compareButton.disabled = state.selected.size < 1;
    compareButton.textContent = state.selected.size ? `Compare selected (${state.selected.size})` : 'Compare selected';
    replaceQuery({ sel: [...state.selected].join(',') });
  };
  compareButton.addEventListener('click', () => navigate(`/compare?ns=${encodeURIComponent(ns)}&ids=${[...state.selected].map(encodeURIComponent).join(',')}`));
  updateCompare();

  const syncQuery = () => replaceQuery({
    q: state.filter, labels: state.labels, sort: state.sort === '-created_at' ? null : state.sort, cols: state.cols,
    ps: state.pageSize === 50 ? null : state.pageSize, page: state.token,
  });

  form.addEventListener('submit', e => {
    e.preventDefault();
    window.modelboxTimings.filterSubmitted = performance.now();
    state.filter = filterBox.value.trim();
    state.labels = labelBox.value.trim();
    state.cols = colsBox.value.trim() || null;
    state.pageSize = Number(sizeSelect.value);
    state.token = '';
    tokens.length = 0;
    load();
  });

  let rows = [];
  let summaries = new Map(); // id → Map(key → last value)
  let generation = 0;

  // `timed`: a load the user (or the page's opening) asked for sets the moment the benchmark reads; a live re-read not.
  // A timed read replaced by a later one (a live re-read) hands its mark on to the read that renders.
  let timedPending = false;
  async function load({ timed = true } = {}) {
    const mine = ++generation;
    if (timed) timedPending = true;
    syncQuery();
    body.setAttribute('aria-busy', 'true');
    // A shown error stays until this read's answer replaces it: a live re-read of the same bad filter must not make
    // the message (and the box's invalid mark) blink off and on.
    const clearErrors = () => { showError(filterBox, filterError, '', null); showError(labelBox, labelError, '', null); };
    const [field, desc] = state.sort.startsWith('-') ? [state.sort.slice(1), true] : [state.sort, false];
    const orderBy = SERVER_SORTS.has(field) ? `${field} ${desc ? 'desc' : 'asc'}` : 'created_at desc';
    const selectorFilter = state.labels ? selectorToFilter(state.labels) : '';
    const filter = state.filter && selectorFilter ? `(${state.filter}) and ${selectorFilter}` : state.filter || selectorFilter;
    try {
      const [page] = await Promise.all([
        api.searchExperiments(ns, { filter, orderBy, pageSize: state.pageSize, pageToken: state.token }, signal),
        state.labels ? api.listExperiments(ns, { labelSelector: state.labels, pageSize: 1 }, signal) : null,
      ]);
      if (mine !== generation) return;
      clearErrors();
      rows = page.experiments || [];
      state.next = page.nextPageToken || '';
      // The search shows only what the caller may read, so an empty page may mean "no access": the namespace's own list
      // route says so (403) under enforced auth.
      if (!rows.length && !state.token) await api.listExperiments(ns, { pageSize: 1 }, signal);
      const ids = rows.map(r => r.id);
      const list = await readSummaries(ids, [], signal);
      if (mine !== generation) return;
      summaries = new Map();
      for (const s of list) {
        if (!summaries.has(s.parentId)) summaries.set(s.parentId, new Map());
        summaries.get(s.parentId).set(s.key, s.last);
      }
      renderTable(timedPending);
      timedPending = false;
    } catch (e) {
      if (e.name === 'AbortError' || mine !== generation) return;
      body.removeAttribute('aria-busy');
      clearErrors();
      if (e instanceof ApiError && e.status === 400 && /label_selector|label selector/i.test(e.message)) {
        showError(labelBox, labelError, state.labels, e);
        body.replaceChildren(emptyState('Fix the label selector to see experiments.'));
      } else if (e instanceof ApiError && e.status === 400 && /filter/i.test(e.message)) {
        // The filter went to the server as "(filter) and selector": positions inside the filter are one to the right.
        const offset = state.filter && selectorFilter ? 1 : 0;
        showError(filterBox, filterError, state.filter, e, offset);
        body.replaceChildren(emptyState('Fix the filter to see experiments.'));
      } else {
        body.replaceChildren(errorState(e, 'the experiments', ns));
      }
      pager.replaceChildren();
    }
  }

  function chosenColumns() {
    if (state.cols) return state.cols.split(',').map(c => c.trim()).filter(c => /^(metadata|metrics)\.\S/.test(c));
    const meta = new Set(), metrics = new Set();
    for (const r of rows) for (const k of Object.keys(r.metadata?.metadata ?? {})) meta.add(k);
    for (const m of summaries.values()) for (const k of m.keys()) metrics.add(k);
    return [...[...meta].sort().slice(0, 5).map(k => `metadata.${k}`), ...[...metrics].sort().slice(0, 5).map(k => `metrics.${k}`)];
  }

  function cellValue(r, col) {
    if (col === 'name') return r.name ?? '';
    if (col === 'owner') return r.owner ?? '';
    if (col === 'status') return statusName(r.status);
    if (col === 'framework') return frameworkName(r.framework);
    if (col === 'created_at') return r.createdAt ?? '';
    if (col === 'updated_at') return r.updatedAt ?? '';
    if (col === 'ended_at') return r.endedAt ?? '';
    if (col.startsWith('metadata.')) return r.metadata?.metadata?.[col.slice(9)];
    if (col.startsWith('metrics.')) return summaries.get(r.id)?.get(col.slice(8));
    return '';
  }

  function compareValues(a, b) {
    if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
    if (b === undefined || b === null) return -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }

  function renderTable(timed = true) {
    if (timed) window.modelboxTimings.tableRendered = performance.now();
    body.removeAttribute('aria-busy');
    const [sortField, desc] = state.sort.startsWith('-') ? [state.sort.slice(1), true] : [state.sort, false];
    let shown = rows;
    if (!SERVER_SORTS.has(sortField)) {
      shown = [...rows].sort((a, b) => compareValues(cellValue(a, sortField), cellValue(b, sortField)) * (desc ? -1 : 1));
    }
    const extra = chosenColumns();
    const sortable = (title, field) => {
      const active = sortField === field;
      const serverSide = SERVER_SORTS.has(field);
      return h('th', { scope: 'col', 'aria-sort': active ? (desc ? 'descending' : 'ascending') : 'none', class: extra.includes(field) ? 'num' : null },
        h('button', {
          type: 'button', class: 'sort', 'data-sort': field,
          title: serverSide ? `Sort all experiments by ${title}` : `Sort this page by ${title}`,
          onclick: () => {
            state.sort = active && !desc ? `-${field}` : field;
            if (serverSide || SERVER_SORTS.has(sortField)) { state.token = ''; tokens.length = 0; }
            if (serverSide) load(); else { syncQuery(); renderTable(); }
          },
        }, title, active ? (desc ? ' ▼' : ' ▲') : ''));
    };
    document.getElementById('result-count').textContent = rows.length
      ? `${tokens.length * state.pageSize + 1}–${tokens.length * state.pageSize + rows.length}${state.next ? ' (more on the next pages)' : ''}`
      : '';
    if (!rows.length) {
      body.replaceChildren(emptyState(state.filter || state.labels ? 'No experiment matches this filter.' : 'No experiments in this namespace yet.'));
    } else {
      const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select every experiment of this page', checked: shown.every(r => state.selected.has(r.id)) });
      allBox.addEventListener('change', () => {
        for (const r of shown) {
          if (allBox.checked && state.selected.size < MAX_COMPARE) state.selected.add(r.id); else if (!allBox.checked) state.selected.delete(r.id);
        }
        updateCompare();
        renderTable();
      });
      body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'experiments' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col', class: 'select' }, allBox),
          sortable('Name', 'name'), sortable('Owner', 'owner'), sortable('Status', 'status'), sortable('Framework', 'framework'),
          h('th', { scope: 'col' }, 'Labels'), sortable('Created', 'created_at'), sortable('Ended', 'ended_at'),
          extra.map(c => sortable(c.replace(/^metrics\./, '').replace(/^metadata\./, ''), c)))),
        h('tbody', null, shown.map(r => {
          const box = h('input', { type: 'checkbox', 'aria-label': `Select ${r.name}`, checked: state.selected.has(r.id), 'data-id': r.id });
          box.addEventListener('change', () => {
            if (box.checked && state.selected.size >= MAX_COMPARE) { box.checked = false; return; }
            if (box.checked) state.selected.add(r.id); else state.selected.delete(r.id);
            updateCompare();
          });
          return h('tr', { 'data-id': r.id },
            h('td', { class: 'select' }, box),
            h('td', null, h('a', { href: `/experiments/${encodeURIComponent(r.id)}` }, r.name)),
            h('td', null, r.owner ?? ''), h('td', null, statusBadge(r.status)), h('td', null, frameworkName(r.framework)),
            h('td', null, labelChips(r.labels)), h('td', null, timeCell(r.createdAt)), h('td', null, timeCell(r.endedAt)),
            extra.map(c => {
              const v = cellValue(r, c);
              return h('td', { class: 'num', title: c }, v === undefined ? h('span', { class: 'muted' }, '—') : c.startsWith('metrics.') ? formatNumber(v) : formatValue(v));
            }));
        })))));
    }
    pager.replaceChildren(
      h('button', { type: 'button', id: 'first-page', disabled: !state.token, onclick: () => { tokens.length = 0; state.token = ''; load(); } }, '« First'),
      h('button', { type: 'button', id: 'prev-page', disabled: !tokens.length, onclick: () => { state.token = tokens.pop() ?? ''; load(); } }, '‹ Previous'),
      h('button', { type: 'button', id: 'next-page', disabled: !state.next, onclick: () => { tokens.push(state.token); state.token = state.next; load(); } }, 'Next ›'));
  }

  // Live: a change to an experiment of this namespace (new run, status, labels, metadata) re-reads the page shown.
  // A re-read asked for while a read is on its way waits for it (it must not throw away the page's first read).
  let reading = null, again = false;
  const reload = debounce(function reread() {
    if (reading) { again = true; return; }
    reading = load({ timed: false }).finally(() => {
      reading = null;
      if (again) { again = false; reread(); }
    });
  }, 300);
  const live = watchNamespace(ns, change => {
    if (change.type === 'ready' || ['experiment', 'labels', 'metadata'].includes(change.objectKind)) reload();
  });
  await live.ready;
  reading = load().finally(() => {
    reading = null;
    if (again) { again = false; reload(); }
  });
  await reading;
  return live.stop;
}
