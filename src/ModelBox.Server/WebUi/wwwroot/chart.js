// Canvas charts: one <canvas> per chart whatever the number of points (no DOM node per point). A chart keeps its
// series as typed arrays; what it drew is readable by tests and tools from `element.chart.data()` and from the
// registry `window.modelboxCharts` (id → chart), and summarised in data-* attributes of its element.

import { formatNumber } from './ui.js';

const MARGIN = { left: 58, right: 14, top: 12, bottom: 30 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

// One colour per run, distinct for the first ten and spread around the hue circle after that.
export function seriesColor(i) {
  return i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)}, 65%, 45%)`;
}

window.modelboxCharts ??= new Map();

// ---- axes ----

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

function linearTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    const v = 10 ** e;
    if (v >= lo && v <= hi) out.push(v);
  }
  return out.length >= 2 ? out : linearTicks(lo, hi, 4);
}

function formatDuration(s) {
  if (Math.abs(s) < 120) return `${formatNumber(s)}s`;
  if (Math.abs(s) < 7200) return `${formatNumber(s / 60)}m`;
  if (Math.abs(s) < 172800) return `${formatNumber(s / 3600)}h`;
  return `${formatNumber(s / 86400)}d`;
}

function formatWall(s, span) {
  const iso = new Date(s * 1000).toISOString();
  return span > 172800 ? iso.slice(5, 10) : span > 600 ? iso.slice(11, 16) : iso.slice(11, 19);
}

export function formatX(mode, v, span = 0) {
  if (mode === 'wall') return formatWall(v, span);
  if (mode === 'relative') return formatDuration(v);
  return formatNumber(v);
}

// ---- series preparation ----

// Exponential moving average with TensorBoard's debiasing, skipping non-finite values.
function ema(ys, weight) {
  const out = new Float64Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) { out[i] = y; continue; }
    last = last * weight + (1 - weight) * y;
    n++;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

function xsOf(s, mode) {
  if (mode === 'step') return s.steps;
  const xs = new Float64Array(s.times.length);
  const base = mode === 'relative' ? s.startTime : 0;
  for (let i = 0; i < xs.length; i++) xs[i] = s.times[i] - base;
  return xs;
}

// Groups a downsampled series into pixel-wide buckets: the line goes through each bucket's mid value, the band spans its
// lowest and highest point (the server's downsampling keeps both), so spikes stay visible.
function bucketize(xs, ys, toPx) {
  const bx = [], lo = [], hi = [], mid = [];
  let cur = null;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) continue;
    const px = Math.round(toPx(xs[i]));
    if (cur === null || px !== cur) {
      cur = px;
      bx.push(xs[i]); lo.push(y); hi.push(y); mid.push(y);
    } else {
      const k = bx.length - 1;
      if (y < lo[k]) lo[k] = y;
      if (y > hi[k]) hi[k] = y;
      mid[k] = (lo[k] + hi[k]) / 2;
    }
  }
  return { xs: Float64Array.from(bx), lo: Float64Array.from(lo), hi: Float64Array.from(hi), ys: Float64Array.from(mid) };
}

function lowerBound(xs, x) {
  let a = 0, b = xs.length;
  while (a < b) { const m = (a + b) >> 1; if (xs[m] < x) a = m + 1; else b = m; }
  return a;
}

// ---- the line chart ----

export class LineChart {
  // options: { id, title, onZoom(range|null) } — onZoom gets the selected x range ({ x0, x1 } in the axis' units) or
  // null for "show everything"; the owner re-reads that range from the server and calls setSeries again.
  constructor(options) {
    this.id = options.id;
    this.title = options.title;
    this.onZoom = options.onZoom ?? (() => {});
    this.series = [];
    this.settings = { x: 'step', logY: false, smoothing: 0 };
    this.range = null;      // the zoomed x range, or null
    this.reads = 0;         // how many times data arrived (tests wait for a re-read after a zoom)
    this.state = 'loading';
    this.hoverX = null;

    this.element = document.createElement('figure');
    this.element.className = 'chart';
    this.element.chart = this;
    this.element.dataset.chartId = this.id;
    const caption = document.createElement('figcaption');
    caption.textContent = this.title;
    this.canvas = document.createElement('canvas');
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', `${this.title} chart. Drag or press + and - to zoom, arrows to pan, 0 to reset.`);
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'chart-tooltip';
    this.tooltip.hidden = true;
    this.note = document.createElement('div');
    this.note.className = 'chart-note';
    this.element.append(caption, this.canvas, this.tooltip, this.note);
    window.modelboxCharts.set(this.id, this);

    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.element);
    this.attachInput();
    this.updateAttributes();
  }

  // The chart's width in CSS pixels: the number of points worth reading for it.
  get plotWidth() {
    return Math.max(50, Math.round((this.canvas.clientWidth || 600) - MARGIN.left - MARGIN.right));
  }

  destroy() {
    this.resizeObserver.disconnect();
    if (window.modelboxCharts.get(this.id) === this) window.modelboxCharts.delete(this.id);
  }

  setSettings(settings) {
    Object.assign(this.settings, settings);
    this.draw();
  }

  setLoading() {
    this.state = 'loading';
    this.updateAttributes();
  }

  setError(message) {
    this.state = 'error';
    this.note.textContent = message;
    this.updateAttributes();
  }

  // series: [{ name, color, steps, times, ys, downsampled, totalPoints, startTime }]
  setSeries(series, range = this.range) {
    this.series = series;
    this.range = range;
    this.reads++;
    if (this.state === 'error') this.state = 'loading'; // a successful read clears an earlier failure
    this.draw();
    this.drawnAt = performance.now(); // for the benchmark: when data last reached the screen
  }

  // What the chart shows, for tests and tools.
  data() {
    return {
      id: this.id,
      title: this.title,
      state: this.state,
      reads: this.reads,
      range: this.range,
      settings: { ...this.settings },
      series: this.series.map(s => ({ name: s.name, points: s.ys.length, totalPoints: s.totalPoints, downsampled: s.downsampled, firstStep: s.steps[0] ?? null, lastStep: s.steps[s.steps.length - 1] ?? null })),
    };
  }

  updateAttributes() {
    const d = this.element.dataset;
    d.state = this.state;
    d.series = String(this.series.length);
    d.points = String(this.series.reduce((n, s) => n + s.ys.length, 0));
    d.reads = String(this.reads);
    d.zoomed = this.range ? 'true' : 'false';
  }

  // ---- geometry ----

  layout() {
    const { x: mode, logY } = this.settings;
    const prepared = [];
    let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    for (const s of this.series) {
      const xs = xsOf(s, mode);
      prepared.push({ s, xs });
      if (xs.length) {
        xmin = Math.min(xmin, xs[0]);
        xmax = Math.max(xmax, xs[xs.length - 1]);
      }
    }
    if (this.range) { xmin = this.range.x0; xmax = this.range.x1; }
    for (const { s, xs } of prepared) {
      const a = lowerBound(xs, xmin), b = lowerBound(xs, xmax + 1e-9);
      for (let i = a; i < b; i++) {
        const y = s.ys[i];
        if (!Number.isFinite(y) || (logY && y <= 0)) continue;
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
      }
    }
    if (!Number.isFinite(xmin)) { xmin = 0; xmax = 1; }
    if (xmax === xmin) { xmax = xmin + 1; }
    if (!Number.isFinite(ymin)) { ymin = logY ? 1 : 0; ymax = logY ? 10 : 1; }
    if (ymax === ymin) { const d = Math.abs(ymin) || 1; ymin -= d * 0.05; ymax += d * 0.05; }
    if (logY) {
      const l0 = Math.log10(ymin), l1 = Math.log10(ymax), pad = (l1 - l0) * 0.05;
      ymin = 10 ** (l0 - pad); ymax = 10 ** (l1 + pad);
    } else {
      const pad = (ymax - ymin) * 0.05;
      ymin -= pad; ymax += pad;
    }
    const w = this.canvas.clientWidth, hgt = this.canvas.clientHeight;
    const pw = Math.max(10, w - MARGIN.left - MARGIN.right), ph = Math.max(10, hgt - MARGIN.top - MARGIN.bottom);
    const toPx = x => MARGIN.left + ((x - xmin) / (xmax - xmin)) * pw;
    const fromPx = px => xmin + ((px - MARGIN.left) / pw) * (xmax - xmin);
    const toPy = logY
      ? y => MARGIN.top + ph - ((Math.log10(y) - Math.log10(ymin)) / (Math.log10(ymax) - Math.log10(ymin))) * ph
      : y => MARGIN.top + ph - ((y - ymin) / (ymax - ymin)) * ph;
    return { prepared, xmin, xmax, ymin, ymax, w, h: hgt, pw, ph, toPx, fromPx, toPy };
  }

  draw() {
    const canvas = this.canvas;
    const w = canvas.clientWidth, hgt = canvas.clientHeight;
    if (!w || !hgt) return;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const g = this.layout();
    this.geometry = g;
    this.drawAxes(ctx, g);

    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN.left, MARGIN.top, g.pw, g.ph);
    ctx.clip();
    const { logY, smoothing } = this.settings;
    const clampY = y => (logY && y <= 0 ? NaN : y);
    this.lines = [];
    for (const { s, xs } of g.prepared) {
      let lx = xs, ly = s.ys;
      if (s.downsampled) {
        const b = bucketize(xs, s.ys, g.toPx);
        lx = b.xs; ly = b.ys;
        ctx.fillStyle = s.color;
        ctx.globalAlpha = 0.18;
        ctx.beginPath();
        let open = false;
        for (let i = 0; i < b.xs.length; i++) {
          const y = clampY(b.hi[i]);
          if (!Number.isFinite(y)) continue;
          if (!open) { ctx.moveTo(g.toPx(b.xs[i]), g.toPy(y)); open = true; } else ctx.lineTo(g.toPx(b.xs[i]), g.toPy(y));
        }
        for (let i = b.xs.length - 1; i >= 0; i--) {
          const y = clampY(b.lo[i]);
          if (Number.isFinite(y)) ctx.lineTo(g.toPx(b.xs[i]), g.toPy(y));
        }
        ctx.closePath();
        ctx.fill();
        ctx.globalAlpha = 1;
      }
      const smoothed = smoothing > 0 ? ema(ly, smoothing) : null;
      if (smoothed) this.strokeLine(ctx, g, lx, ly, s.color, 0.3, clampY);
      this.strokeLine(ctx, g, lx, smoothed ?? ly, s.color, 1, clampY);
      if (lx.length === 1) {
        const y = clampY(ly[0]);
        if (Number.isFinite(y)) { ctx.fillStyle = s.color; ctx.fillRect(g.toPx(lx[0]) - 2, g.toPy(y) - 2, 4, 4); }
      }
      this.lines.push({ s, xs: lx, ys: smoothed ?? ly });
    }
    if (this.hoverX !== null) this.drawHover(ctx, g);
    if (this.selection) {
      ctx.fillStyle = 'rgba(80,120,200,0.15)';
      const [a, b] = [Math.min(...this.selection), Math.max(...this.selection)];
      ctx.fillRect(a, MARGIN.top, b - a, g.ph);
    }
    ctx.restore();

    const empty = this.series.every(s => s.ys.length === 0);
    if (this.state !== 'error') this.state = this.series.length === 0 || empty ? 'empty' : 'drawn';
    if (this.state === 'empty') {
      ctx.fillStyle = '#777';
      ctx.font = '13px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.fillText(this.range ? 'No points in this range' : 'No points', MARGIN.left + g.pw / 2, MARGIN.top + g.ph / 2);
    }
    const down = this.series.filter(s => s.downsampled);
    this.note.textContent = this.state === 'error' ? this.note.textContent
      : down.length ? `${down.length === 1 && this.series.length === 1 ? '' : `${down.length} of ${this.series.length} series `}downsampled on the server (min–max band); zoom in for full resolution`
      : '';
    this.updateAttributes();
  }

  strokeLine(ctx, g, xs, ys, color, alpha, clampY) {
    ctx.strokeStyle = color;
    ctx.globalAlpha = alpha;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let open = false;
    // Skip to the visible range (plus one point either side) so zoomed views cost what they show.
    const a = Math.max(0, lowerBound(xs, g.xmin) - 1), b = Math.min(xs.length, lowerBound(xs, g.xmax) + 1);
    for (let i = a; i < b; i++) {
      const y = clampY(ys[i]);
      if (!Number.isFinite(y)) { open = false; continue; }
      const px = g.toPx(xs[i]), py = g.toPy(y);
      if (!open) { ctx.moveTo(px, py); open = true; } else ctx.lineTo(px, py);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  drawAxes(ctx, g) {
    ctx.strokeStyle = '#ddd';
    ctx.fillStyle = '#555';
    ctx.lineWidth = 1;
    ctx.font = '11px system-ui, sans-serif';
    const yt = this.settings.logY ? logTicks(g.ymin, g.ymax) : linearTicks(g.ymin, g.ymax, Math.max(2, Math.floor(g.ph / 40)));
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of yt) {
      const py = Math.round(g.toPy(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(MARGIN.left, py); ctx.lineTo(MARGIN.left + g.pw, py); ctx.stroke();
      ctx.fillText(formatNumber(v), MARGIN.left - 6, py);
    }
    const mode = this.settings.x;
    const span = g.xmax - g.xmin;
    let xt = linearTicks(g.xmin, g.xmax, Math.max(2, Math.floor(g.pw / 90)));
    if (mode === 'step') xt = xt.filter(v => Number.isInteger(v) || span < 10);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of xt) {
      const px = Math.round(g.toPx(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(px, MARGIN.top); ctx.lineTo(px, MARGIN.top + g.ph); ctx.stroke();
      ctx.fillText(formatX(mode, v, span), px, MARGIN.top + g.ph + 6);
    }
    ctx.strokeStyle = '#999';
    ctx.strokeRect(MARGIN.left + 0.5, MARGIN.top + 0.5, g.pw, g.ph);
  }

  // The value of every series at the hovered x (nearest point), drawn as a rule and listed in the tooltip.
  valuesAt(x) {
    const out = [];
    for (const { s, xs, ys } of this.lines ?? []) {
      if (!xs.length) continue;
      let i = lowerBound(xs, x);
      if (i >= xs.length || (i > 0 && x - xs[i - 1] < xs[i] - x)) i--;
      out.push({ name: s.name, color: s.color, x: xs[i], y: ys[i] });
    }
    return out;
  }

  drawHover(ctx, g) {
    const px = g.toPx(this.hoverX);
    ctx.strokeStyle = 'rgba(0,0,0,0.4)';
    ctx.beginPath(); ctx.moveTo(px, MARGIN.top); ctx.lineTo(px, MARGIN.top + g.ph); ctx.stroke();
    const values = this.valuesAt(this.hoverX);
    this.tooltip.replaceChildren();
    const head = document.createElement('div');
    head.className = 'tt-x';
    head.textContent = `${this.settings.x === 'step' ? 'step' : this.settings.x === 'wall' ? 'time' : 'elapsed'} ${formatX(this.settings.x, values[0]?.x ?? this.hoverX, g.xmax - g.xmin)}`;
    this.tooltip.append(head);
    for (const v of values.slice(0, 12)) {
      const row = document.createElement('div');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = v.color;
      row.append(sw, `${v.name}: ${formatNumber(v.y)}`);
      this.tooltip.append(row);
      if (Number.isFinite(v.y) && !(this.settings.logY && v.y <= 0)) {
        ctx.fillStyle = v.color;
        ctx.beginPath(); ctx.arc(g.toPx(v.x), g.toPy(v.y), 3, 0, Math.PI * 2); ctx.fill();
      }
    }
    if (values.length > 12) this.tooltip.append(`… ${values.length - 12} more`);
    this.tooltip.hidden = values.length === 0;
    const left = Math.min(px + 12, g.w - 180);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${MARGIN.top + 28}px`;
  }

  // ---- input: hover, drag to zoom, double-click to reset, keyboard ----

  attachInput() {
    const c = this.canvas;
    const localX = e => e.clientX - c.getBoundingClientRect().left;
    c.addEventListener('mousemove', e => {
      const g = this.geometry;
      if (!g) return;
      const x = localX(e);
      if (this.selection) this.selection[1] = Math.max(MARGIN.left, Math.min(MARGIN.left + g.pw, x));
      this.hoverX = x >= MARGIN.left && x <= MARGIN.left + g.pw ? g.fromPx(x) : null;
      this.draw();
    });
    c.addEventListener('mouseleave', () => { this.hoverX = null; this.selection = null; this.tooltip.hidden = true; this.draw(); });
    c.addEventListener('mousedown', e => {
      if (e.button !== 0 || !this.geometry) return;
      const x = localX(e);
      this.selection = [x, x];
    });
    c.addEventListener('mouseup', () => {
      const sel = this.selection;
      this.selection = null;
      if (!sel || !this.geometry || Math.abs(sel[1] - sel[0]) < 5) { this.draw(); return; }
      const g = this.geometry;
      this.zoomTo(g.fromPx(Math.min(...sel)), g.fromPx(Math.max(...sel)));
    });
    c.addEventListener('dblclick', () => this.zoomTo(null));
    c.addEventListener('keydown', e => {
      const g = this.geometry;
      if (!g) return;
      const span = g.xmax - g.xmin, mid = (g.xmin + g.xmax) / 2;
      if (e.key === '+' || e.key === '=') this.zoomTo(mid - span / 4, mid + span / 4);
      else if (e.key === '-') this.range && this.zoomTo(mid - span, mid + span);
      else if (e.key === 'ArrowLeft' && this.range) this.zoomTo(g.xmin - span / 4, g.xmax - span / 4);
      else if (e.key === 'ArrowRight' && this.range) this.zoomTo(g.xmin + span / 4, g.xmax + span / 4);
      else if (e.key === '0' || e.key === 'Escape') this.zoomTo(null);
      else return;
      e.preventDefault();
    });
  }

  // Zooms to [x0, x1] (null: everything); the owner re-reads that range from the server.
  zoomTo(x0, x1) {
    this.zoomedAt = performance.now();
    this.range = x0 === null ? null : { x0, x1 };
    this.draw();
    this.onZoom(this.range);
  }
}

// ---- scatter: one point per run (a hyperparameter against a metric) ----

export class ScatterChart {
  constructor({ id, title }) {
    this.id = id;
    this.points = [];
    this.element = document.createElement('figure');
    this.element.className = 'chart scatter';
    this.element.chart = this;
    this.element.dataset.chartId = id;
    this.caption = document.createElement('figcaption');
    this.caption.textContent = title;
    this.canvas = document.createElement('canvas');
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'chart-tooltip';
    this.tooltip.hidden = true;
    this.element.append(this.caption, this.canvas, this.tooltip);
    window.modelboxCharts.set(id, this);
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.element);
    this.canvas.addEventListener('mousemove', e => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.tooltip.hidden = true; });
  }

  destroy() {
    this.resizeObserver.disconnect();
    if (window.modelboxCharts.get(this.id) === this) window.modelboxCharts.delete(this.id);
  }

  // points: [{ name, color, x, y }], labels: { x, y }
  setPoints(points, labels) {
    this.points = points.filter(p => Number.isFinite(p.x) && Number.isFinite(p.y));
    this.labels = labels;
    this.caption.textContent = `${labels.y} against ${labels.x}`;
    this.canvas.setAttribute('aria-label', `Scatter of ${labels.y} against ${labels.x}, ${this.points.length} runs`);
    this.draw();
  }

  data() {
    return { id: this.id, state: this.element.dataset.state, labels: this.labels, series: [{ name: 'runs', points: this.points.length }] };
  }

  draw() {
    const c = this.canvas, w = c.clientWidth, hgt = c.clientHeight;
    if (!w || !hgt) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr);
    const ctx = c.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const xs = this.points.map(p => p.x), ys = this.points.map(p => p.y);
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (!this.points.length) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    const pad = (a, b) => { const d = (b - a) || Math.abs(a) || 1; return [a - d * 0.08, b + d * 0.08]; };
    [x0, x1] = pad(x0, x1); [y0, y1] = pad(y0, y1);
    const pw = w - MARGIN.left - MARGIN.right, ph = hgt - MARGIN.top - MARGIN.bottom;
    const toPx = x => MARGIN.left + ((x - x0) / (x1 - x0)) * pw;
    const toPy = y => MARGIN.top + ph - ((y - y0) / (y1 - y0)) * ph;
    this.geometry = { toPx, toPy };
    ctx.strokeStyle = '#ddd'; ctx.fillStyle = '#555'; ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const v of linearTicks(y0, y1, 4)) { const py = toPy(v); ctx.beginPath(); ctx.moveTo(MARGIN.left, py); ctx.lineTo(MARGIN.left + pw, py); ctx.stroke(); ctx.fillText(formatNumber(v), MARGIN.left - 6, py); }
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const v of linearTicks(x0, x1, 5)) { const px = toPx(v); ctx.beginPath(); ctx.moveTo(px, MARGIN.top); ctx.lineTo(px, MARGIN.top + ph); ctx.stroke(); ctx.fillText(formatNumber(v), px, MARGIN.top + ph + 6); }
    ctx.strokeStyle = '#999'; ctx.strokeRect(MARGIN.left + 0.5, MARGIN.top + 0.5, pw, ph);
    for (const p of this.points) {
      ctx.fillStyle = p.color;
      ctx.beginPath(); ctx.arc(toPx(p.x), toPy(p.y), 4, 0, Math.PI * 2); ctx.fill();
    }
    if (!this.points.length) { ctx.fillStyle = '#777'; ctx.textAlign = 'center'; ctx.fillText('No run has both values', MARGIN.left + pw / 2, MARGIN.top + ph / 2); }
    this.element.dataset.state = this.points.length ? 'drawn' : 'empty';
    this.element.dataset.points = String(this.points.length);
  }

  hover(e) {
    if (!this.geometry) return;
    const r = this.canvas.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    let best = null, bd = 100;
    for (const p of this.points) {
      const d = (this.geometry.toPx(p.x) - mx) ** 2 + (this.geometry.toPy(p.y) - my) ** 2;
      if (d < bd) { bd = d; best = p; }
    }
    this.tooltip.hidden = !best;
    if (best) {
      this.tooltip.textContent = `${best.name}: ${this.labels.x}=${formatNumber(best.x)}, ${this.labels.y}=${formatNumber(best.y)}`;
      this.tooltip.style.left = `${Math.min(mx + 10, this.canvas.clientWidth - 200)}px`;
      this.tooltip.style.top = `${my + 10}px`;
    }
  }
}
