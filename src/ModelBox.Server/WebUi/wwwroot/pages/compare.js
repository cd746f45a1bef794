// Compare up to 100 runs: one chart per metric key with a series per run (one colour each, legend), the parameters side
// by side with differing values highlighted, and a scatter of a hyperparameter against a metric's last value.

import { api, readSummaries } from '../api.js';
import { setCrumbs } from '../app.js';
import { metricCharts } from '../charts.js';
import { seriesColor, ScatterChart } from '../chart.js';
import { h, errorState, loadingState, emptyState, section, statusBadge, formatValue, queryParams, replaceQuery } from '../ui.js';

const MAX_RUNS = 100;

export async function comparePage({ root, signal }) {
  const q = queryParams();
  const ns = q.ns ?? '';
  const ids = [...new Set((q.ids ?? '').split(',').map(s => s.trim()).filter(Boolean))];
  setCrumbs([['Namespaces', '/'], ...(ns ? [[ns, `/namespaces/${encodeURIComponent(ns)}`]] : []), ['Compare']]);
  root.append(h('h1', null, 'Compare runs'));
  if (!ids.length) {
    root.append(emptyState('No runs selected. Tick runs in an experiments table, then choose "Compare selected".'));
    return null;
  }
  if (ids.length > MAX_RUNS) {
    root.append(errorState(new Error(`${ids.length} runs are selected; compare at most ${MAX_RUNS} at once.`), 'the comparison'));
    return null;
  }
  const status = loadingState(`Loading ${ids.length} runs…`);
  root.append(status);

  let found, summaries;
  try {
    // One search brings every run with its metadata; the summaries bring every run's metric keys and last values.
    const quoted = ids.map(id => `'${id.replaceAll("'", "''")}'`).join(', ');
    [found, summaries] = await Promise.all([
      api.searchExperiments('', { filter: `id in (${quoted})`, pageSize: MAX_RUNS }, signal).then(r => r.experiments || []),
      readSummaries(ids, [], signal),
    ]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    status.replaceWith(errorState(e, 'the runs to compare'));
    return null;
  }
  status.remove();
  const byId = new Map(found.map(r => [r.id, r]));
  const runs = ids.filter(id => byId.has(id)).map(id => byId.get(id));
  const missing = ids.filter(id => !byId.has(id));
  if (missing.length) root.append(h('p', { class: 'state error', role: 'alert' }, `Not found (deleted or unknown): ${missing.join(', ')}`));
  if (!runs.length) return null;
  const colored = runs.map((r, i) => ({ id: r.id, name: r.name, color: seriesColor(i), run: r, metadata: r.metadata?.metadata ?? {} }));

  // Legend: the runs and their colours.
  const swatch = color => { const s = h('span', { class: 'swatch', 'aria-hidden': 'true' }); s.style.background = color; return s; };
  root.append(section(`Runs (${colored.length})`, h('ul', { class: 'legend' }, colored.map(r => h('li', null,
    swatch(r.color), h('a', { href: `/experiments/${encodeURIComponent(r.id)}` }, r.name), ' ', statusBadge(r.run.status))))));

  // Charts: every key any run logged; ?keys=a,b narrows them.
  const allKeys = [...new Set(summaries.map(s => s.key))].sort();
  const wanted = q.keys ? q.keys.split(',').filter(k => allKeys.includes(k)) : allKeys;
  const charts = metricCharts({ runs: colored, keys: wanted, query: q, signal, idPrefix: 'compare' });
  root.append(section('Metrics', charts.element));

  // Parameters: union of metadata keys, one column per run; rows whose values differ are marked.
  const paramKeys = [...new Set(colored.flatMap(r => Object.keys(r.metadata)))].sort();
  const onlyDiff = h('input', { type: 'checkbox', id: 'only-differences', checked: q.diff === '1' });
  const paramBody = h('div');
  const renderParams = () => {
    const rows = paramKeys.map(k => {
      const values = colored.map(r => (k in r.metadata ? JSON.stringify(r.metadata[k]) : undefined));
      return { k, values, differs: new Set(values).size > 1 };
    }).filter(r => !onlyDiff.checked || r.differs);
    paramBody.replaceChildren(rows.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'params' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Parameter'), colored.map(r => h('th', { scope: 'col' }, r.name)))),
        h('tbody', null, rows.map(r => h('tr', { class: r.differs ? 'differs' : null, 'data-key': r.k },
          h('th', { scope: 'row' }, r.k, r.differs ? h('span', { class: 'sr-only' }, ' (differs)') : null),
          colored.map(run => h('td', null, r.k in run.metadata ? formatValue(run.metadata[r.k]) : h('span', { class: 'muted' }, '—'))))))))
      : emptyState(paramKeys.length ? 'Every parameter is the same in these runs.' : 'These runs have no parameters (metadata).'));
  };
  onlyDiff.addEventListener('change', () => { replaceQuery({ diff: onlyDiff.checked ? '1' : null }); renderParams(); });
  renderParams();
  root.append(section('Parameters', h('label', null, onlyDiff, ' Only parameters that differ'), paramBody));

  // Scatter: a numeric hyperparameter against a metric's last value, one point per run.
  const numericParams = paramKeys.filter(k => colored.some(r => typeof r.metadata[k] === 'number'));
  const last = new Map(summaries.map(s => [`${s.parentId}\u0000${s.key}`, s.last]));
  if (numericParams.length && allKeys.length) {
    const hpSelect = h('select', { id: 'scatter-x', name: 'hp' }, numericParams.map(k => h('option', { value: k, selected: k === q.hp }, k)));
    const metricSelect = h('select', { id: 'scatter-y', name: 'metric' }, allKeys.map(k => h('option', { value: k, selected: k === q.metric }, k)));
    const scatter = new ScatterChart({ id: 'compare-scatter', title: '' });
    const update = () => {
      replaceQuery({ hp: hpSelect.value, metric: metricSelect.value });
      scatter.setPoints(colored.map(r => ({
        name: r.name, color: r.color, x: Number(r.metadata[hpSelect.value]), y: last.get(`${r.id}\u0000${metricSelect.value}`) ?? NaN,
      })).filter(p => typeof p.x === 'number'), { x: hpSelect.value, y: `last ${metricSelect.value}` });
    };
    hpSelect.addEventListener('change', update);
    metricSelect.addEventListener('change', update);
    root.append(section('Hyperparameter against metric',
      h('div', { class: 'chart-controls' }, h('label', null, 'Hyperparameter ', hpSelect), h('label', null, 'Metric (last value) ', metricSelect)),
      scatter.element));
    requestAnimationFrame(update);
    return () => { charts.destroy(); scatter.destroy(); };
  }
  return () => charts.destroy();
}
