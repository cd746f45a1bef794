// The chart grid of a page: one line chart per metric key, with every run of the page as a series, the shared controls
// (x axis, log y, smoothing) kept in the URL, and zoom that re-reads the zoomed range from the server at the chart's
// resolution (max_points ≈ its width in pixels).

import { readSeries } from './api.js';
import { LineChart } from './chart.js';
import { h, replaceQuery, emptyState } from './ui.js';

const X_MODES = [['step', 'Step'], ['wall', 'Wall time'], ['relative', 'Relative time']];

export function chartSettingsFromQuery(q) {
  const smooth = Number(q.smooth);
  return {
    x: X_MODES.some(([m]) => m === q.x) ? q.x : 'step',
    logY: q.y === 'log',
    smoothing: Number.isFinite(smooth) && smooth > 0 && smooth < 1 ? smooth : 0,
  };
}

// runs: [{ id, name, color }]; keys: metric keys. Returns { element, loaded (the first read drawn), refresh(), destroy() }.
export function metricCharts({ runs, keys, query, signal, idPrefix = 'chart' }) {
  const settings = chartSettingsFromQuery(query);
  const charts = new Map();
  const root = h('div', { class: 'charts-block' });
  const smoothLabel = h('output', { id: `${idPrefix}-smooth-value` }, settings.smoothing ? settings.smoothing.toFixed(2) : 'off');

  const apply = () => {
    replaceQuery({ x: settings.x === 'step' ? null : settings.x, y: settings.logY ? 'log' : null, smooth: settings.smoothing || null });
    for (const c of charts.values()) {
      c.setSettings(settings);
      if (c.range) { c.range = null; load(c); } // a zoom range is in the old axis' units
    }
  };

  const controls = h('div', { class: 'chart-controls', role: 'group', 'aria-label': 'Chart settings' },
    h('label', null, 'X axis ', h('select', {
      name: 'x', onchange: e => { settings.x = e.target.value; apply(); },
    }, X_MODES.map(([m, t]) => h('option', { value: m, selected: settings.x === m }, t)))),
    h('label', null, h('input', { type: 'checkbox', name: 'logy', checked: settings.logY, onchange: e => { settings.logY = e.target.checked; apply(); } }), ' Log y'),
    h('label', null, 'Smoothing ', h('input', {
      type: 'range', name: 'smoothing', min: '0', max: '0.99', step: '0.01', value: String(settings.smoothing),
      oninput: e => { settings.smoothing = Number(e.target.value); smoothLabel.textContent = settings.smoothing ? settings.smoothing.toFixed(2) : 'off'; apply(); },
    }), ' ', smoothLabel),
    h('span', { class: 'hint' }, 'Drag on a chart to zoom (re-read at full resolution), double-click or 0 to reset.'));

  if (!keys.length) {
    root.append(emptyState('No metrics logged yet.'));
    return { element: root, loaded: Promise.resolve(), refresh() {}, destroy() {} };
  }

  const grid = h('div', { class: 'chart-grid' });
  root.append(controls, grid);
  const runById = new Map(runs.map(r => [r.id, r]));

  const toChartSeries = list => list.map(s => {
    const run = runById.get(s.parentId);
    return { ...s, name: run?.name ?? s.parentId, color: run?.color ?? '#1f77b4' };
  });

  // Reads one chart's series: everything, or its zoomed range.
  async function load(chart) {
    const refs = runs.map(r => ({ parentId: r.id, key: chart.key }));
    const range = chart.range;
    const opts = { axis: settings.x, maxPoints: chart.plotWidth };
    if (range) {
      opts.start = Math.max(0, Math.floor(range.x0));
      opts.end = Math.ceil(range.x1);
      if (settings.x !== 'step') {
        // For a server without time-range reads: the steps the shown points have at the range's edges.
        for (const ref of refs) {
          const shown = chart.series.find(s => s.parentId === ref.parentId);
          if (!shown) continue;
          const xs = settings.x === 'wall' ? shown.times : shown.times.map(t => t - shown.startTime);
          let a = 0, b = xs.length - 1;
          while (a < xs.length && xs[a] < range.x0) a++;
          while (b >= 0 && xs[b] > range.x1) b--;
          ref.startStep = shown.steps[Math.max(0, a - 1)] ?? 0;
          ref.endStep = shown.steps[Math.min(xs.length - 1, b + 1)] ?? null;
          ref.startTime = shown.startTime;
        }
      }
    } else {
      opts.start = 0;
      opts.end = null;
    }
    chart.setLoading();
    try {
      const series = await readSeries(refs, opts, signal);
      if (chart.range === range) chart.setSeries(toChartSeries(series), range);
    } catch (e) {
      if (e.name !== 'AbortError') chart.setError(e.message);
    }
  }

  for (const key of keys) {
    const chart = new LineChart({ id: `${idPrefix}:${key}`, title: key, onZoom: () => load(chart) });
    chart.key = key;
    chart.settings = { ...settings };
    charts.set(key, chart);
    grid.append(chart.element);
  }

  // The first read: every chart at once (one batch call, or one call per series in parallel).
  async function loadAll() {
    const unzoomed = [...charts.values()].filter(c => !c.range);
    if (!unzoomed.length) return;
    const width = Math.max(...unzoomed.map(c => c.plotWidth));
    const refs = unzoomed.flatMap(c => runs.map(r => ({ parentId: r.id, key: c.key })));
    try {
      const series = await readSeries(refs, { axis: 'step', start: 0, end: null, maxPoints: width }, signal);
      const byKey = new Map();
      for (const s of series) {
        if (!byKey.has(s.key)) byKey.set(s.key, []);
        byKey.get(s.key).push(s);
      }
      for (const c of unzoomed) if (!c.range) c.setSeries(toChartSeries(byKey.get(c.key) ?? []), null);
    } catch (e) {
      if (e.name !== 'AbortError') for (const c of unzoomed) c.setError(e.message);
    }
  }

  // Charts are laid out before the first read so that each knows its width.
  const loaded = new Promise(resolve => requestAnimationFrame(() => loadAll().then(resolve)));

  return {
    element: root,
    loaded,
    refresh: loadAll,
    destroy() { for (const c of charts.values()) c.destroy(); },
  };
}
