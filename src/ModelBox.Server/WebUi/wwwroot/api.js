// The REST API as the UI uses it: the same /api/v1 routes any client calls (transcoded from the gRPC service), plus the
// two HTTP endpoints a browser needs (change events, artifact downloads). Every failure becomes an ApiError with the
// server's message; a server that does not answer becomes an ApiError with status 0. Every request carries the signed-in
// token (auth.js) as `Authorization: Bearer`; a 401 asks the app for one.

import { withAuth, signInNeeded } from './auth.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // HTTP status; 0 when the server could not be reached
    this.code = code;     // gRPC status code from the body, when there is one
  }

  get notFound() { return this.status === 404; }
  get unreachable() { return this.status === 0; }
  get unauthenticated() { return this.status === 401; }
  get forbidden() { return this.status === 403; }

  // The namespace a 403 names ("... role on namespace 'team' ..."), or null.
  get namespace() {
    const m = /namespace '([^']+)'/.exec(this.message);
    return m ? m[1] : null;
  }

  // The 1-based character position a filter error names ("... at position 12"), or null.
  get position() {
    const m = /at position (\d+)\s*$/.exec(this.message);
    return m ? Number(m[1]) : null;
  }
}

async function call(method, path, body, signal) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: withAuth(body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw unreachable();
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!response.ok) throw refused(response, json, `${method} ${path}`);
  return json ?? {};
}

const unreachable = () => new ApiError(0, 14, 'the ModelBox server cannot be reached; is it running?');

// The ApiError of a refused response (its JSON body, when it has one, holds the server's code and message). A 401 also
// asks the app for a token.
export function refused(response, json, what) {
  const message = json && typeof json.message === 'string' ? json.message : `${what}: HTTP ${response.status}`;
  if (response.status === 401) signInNeeded(message);
  return new ApiError(response.status, json?.code ?? null, message);
}

async function refusedResponse(response, what) {
  let json = null;
  try { json = JSON.parse(await response.text()); } catch { json = null; }
  return refused(response, json, what);
}

// Downloads a file through the raw download route with the token in a header (a link cannot carry one): the bytes come
// into a Blob, which is then saved under `name`. Without a token the page uses a plain link instead (see app.js), which
// streams to disk.
export async function downloadWithToken(href, name, signal) {
  let response;
  try {
    response = await fetch(href, { headers: withAuth({}), signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw unreachable();
  }
  if (!response.ok) throw await refusedResponse(response, `GET ${href}`);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name || 'artifact';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken the URL by the next task; the Blob is freed when it is revoked.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// Opens a streaming GET (the change events): the Response when it is 2xx, else an ApiError (a 401 also asks for a token).
export async function openStream(href, headers, signal) {
  let response;
  try {
    response = await fetch(href, { headers: withAuth(headers), signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw unreachable();
  }
  if (!response.ok) throw await refusedResponse(response, `GET ${href}`);
  return response;
}

const get = (path, signal) => call('GET', path, undefined, signal);
const post = (path, body, signal) => call('POST', path, body, signal);
const enc = encodeURIComponent;

function query(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') parts.push(`${enc(k)}=${enc(v)}`);
  }
  return parts.length ? '?' + parts.join('&') : '';
}

export const api = {
  serverInfo: (signal) => get('/api/v1/server-info', signal),
  namespaces: (signal) => get('/api/v1/namespaces?pageSize=0', signal),

  // A page of experiments. Uses the search route (filter + order); a label selector is checked by the list route first
  // so that its own errors (with positions in the selector) come back as such.
  searchExperiments: (ns, { filter, orderBy, pageSize, pageToken }, signal) =>
    get('/api/v1/search/experiments' + query({ namespace: ns, filter, orderBy, pageSize, pageToken }), signal),
  listExperiments: (ns, { labelSelector, pageSize, pageToken }, signal) =>
    get(`/api/v1/namespaces/${enc(ns)}/experiments` + query({ labelSelector, pageSize, pageToken }), signal),
  experiment: (id, signal) => get(`/api/v1/experiments/${enc(id)}`, signal),
  checkpoints: (id, signal) => get(`/api/v1/experiments/${enc(id)}/checkpoints?pageSize=0`, signal),
  versionsTrainedIn: (id, signal) => get(`/api/v1/experiments/${enc(id)}/model-versions`, signal),
  events: (id, signal) => get(`/api/v1/objects/${enc(id)}/events?pageSize=0`, signal),
  artifacts: (id, signal) => get(`/api/v1/objects/${enc(id)}/artifacts`, signal),
  downloadUrl: (fileId) => `/api/v1/artifacts/${enc(fileId)}/download`,

  models: (ns, { labelSelector, pageSize, pageToken } = {}, signal) =>
    get(`/api/v1/namespaces/${enc(ns)}/models` + query({ labelSelector, pageSize, pageToken }), signal),
  model: (id, signal) => get(`/api/v1/models/${enc(id)}`, signal),
  modelVersions: (id, signal) => get(`/api/v1/models/${enc(id)}/versions?pageSize=0`, signal),
  modelAliases: (id, signal) => get(`/api/v1/models/${enc(id)}/aliases`, signal),
  modelVersion: (id, signal) => get(`/api/v1/model-versions/${enc(id)}`, signal),
  lineage: (id, signal) => get(`/api/v1/model-versions/${enc(id)}/lineage`, signal),

  changeEventsUrl: (ns) => `/api/v1/namespaces/${enc(ns)}/change-events`,

  post,
  get,
};

// ---- metric reads: the one place that knows how series and summaries are fetched ----

// Whether the server has the batch routes (GetMetricSeriesBatch, GetMetricSummaries); learned on first use.
let batchRoutes = null;

async function hasBatchRoutes(signal) {
  if (batchRoutes === null) {
    try {
      await post('/api/v1/metrics/summaries/batch-get', { parentIds: [], keys: [] }, signal);
      batchRoutes = true;
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      // 404 (no such route) means an older server; a 400 means the route exists and refused the empty request.
      batchRoutes = e instanceof ApiError && e.status !== 404 && e.status !== 405 && e.status !== 0;
    }
  }
  return batchRoutes;
}

// A point's numeric value: f/d values as numbers (the server sends NaN/Infinity as strings); tensors have none (null).
export function pointValue(p) {
  const v = p.dVal ?? p.fVal;
  if (v === undefined) return p.sTensor !== undefined || p.bTensor !== undefined ? null : 0;
  return typeof v === 'number' ? v : Number(v);
}

function toSeries(parentId, key, r) {
  const values = r.values || [];
  const n = values.length;
  const steps = new Float64Array(n), times = new Float64Array(n), ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = values[i];
    steps[i] = Number(p.step ?? 0);
    times[i] = Number(p.wallclockTime ?? 0);
    const v = pointValue(p);
    ys[i] = v === null ? NaN : v;
  }
  return {
    parentId, key, steps, times, ys,
    totalPoints: Number(r.totalPoints ?? n),
    downsampled: !!r.downsampled,
    startTime: r.startTime !== undefined ? Number(r.startTime) : (n ? times[0] : 0),
  };
}

const AXES = { step: 'METRIC_AXIS_STEP', wall: 'METRIC_AXIS_WALL_TIME', relative: 'METRIC_AXIS_RELATIVE_TIME' };

// Reads many series, each downsampled on the server to at most maxPoints, over one x range: `axis` is 'step', 'wall'
// (Unix seconds) or 'relative' (seconds since the series' first point); start/end bound it (end null: to the end). A
// server without the batch route is read series by series, in parallel, by step: for a time range each ref then
// carries the step range it covers (ref.startStep/ref.endStep, which the caller knows from the points it shows).
// Returns, in request order, { parentId, key, steps, times, ys (Float64Array), totalPoints, downsampled, startTime }.
export async function readSeries(refs, { axis = 'step', start = 0, end = null, maxPoints = 1000 } = {}, signal) {
  maxPoints = Math.max(2, Math.min(100000, Math.round(maxPoints)));
  if (refs.length === 0) return [];
  start = Math.max(0, Math.floor(start));
  end = end === null ? null : Math.max(start, Math.ceil(end));
  if (await hasBatchRoutes(signal)) {
    // The server takes at most 1,000 series and 2,000,000 points per call.
    const per = Math.max(1, Math.min(1000, Math.floor(2000000 / maxPoints)));
    const calls = [];
    for (let i = 0; i < refs.length; i += per) {
      const body = { series: refs.slice(i, i + per).map(r => ({ parentId: r.parentId, key: r.key })), xAxis: AXES[axis], start: String(start), maxPoints };
      if (end !== null) body.end = String(end);
      calls.push(post('/api/v1/metrics/series/batch-get', body, signal));
    }
    return (await Promise.all(calls)).flatMap(r => (r.series || []).map(s => toSeries(s.parentId, s.key, s)));
  }
  return Promise.all(refs.map(async r => {
    const from = axis === 'step' ? start : r.startStep ?? 0;
    const to = axis === 'step' ? end : r.endStep ?? null;
    // A key with '/' goes in one escaped path segment (train%2Floss); the server reads it back from the raw path.
    const s = await get(`/api/v1/objects/${enc(r.parentId)}/metrics/${enc(r.key)}${query({ maxPoints, startStep: from || undefined, endStep: to ?? undefined })}`, signal);
    const series = toSeries(r.parentId, r.key, s);
    if (r.startTime !== undefined) series.startTime = r.startTime;
    return series;
  }));
}

// The series of many objects, without their points: [{ parentId, key, count, last (a point), min, max }]. Only keys
// in `keys` when given. Objects without series have no entry.
export async function readSummaries(parentIds, keys = [], signal) {
  if (parentIds.length === 0) return [];
  if (await hasBatchRoutes(signal)) {
    const out = [];
    for (let i = 0; i < parentIds.length; i += 10000) {
      const r = await post('/api/v1/metrics/summaries/batch-get', { parentIds: parentIds.slice(i, i + 10000), keys }, signal);
      for (const s of r.summaries || []) {
        out.push({ parentId: s.parentId, key: s.key, count: Number(s.count ?? 0), last: s.last ? pointValue(s.last) : null, min: s.min ? pointValue(s.min) : null, max: s.max ? pointValue(s.max) : null });
      }
    }
    return out;
  }
  // Older servers: the last value of every series of an experiment is what MLflow's runs/get returns for its run.
  const wanted = keys.length ? new Set(keys) : null;
  const lists = await Promise.all(parentIds.map(async id => {
    if (!id.startsWith('exp-')) return [];
    try {
      const r = await get(`/api/2.0/mlflow/runs/get?run_id=${enc(id.slice(4))}`, signal);
      return (r.run?.data?.metrics || []).filter(m => !wanted || wanted.has(m.key)).map(m => ({
        parentId: id, key: m.key, count: null, last: typeof m.value === 'number' ? m.value : Number(m.value), min: null, max: null,
      }));
    } catch (e) {
      if (e instanceof ApiError && e.notFound) return [];
      throw e;
    }
  }));
  return lists.flat().sort((a, b) => (a.parentId < b.parentId ? -1 : a.parentId > b.parentId ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
