// One experiment: what it is (metadata, labels, status), what happened (events), what it produced (checkpoints,
// artifacts with downloads, model versions trained in it) and charts of every metric it logged.

import { api, readSummaries } from '../api.js';
import { setCrumbs } from '../app.js';
import { metricCharts } from '../charts.js';
import { seriesColor } from '../chart.js';
import { watchNamespace, concerns } from '../live.js';
import {
  h, errorState, loadingState, emptyState, statusBadge, statusName, frameworkName, labelChips, timeCell, formatBytes,
  formatValue, formatNumber, keyValues, section, table, queryParams, debounce,
} from '../ui.js';

export function artifactsTable(files) {
  if (!files.length) return emptyState('No artifacts.');
  return table([
    { title: 'Path', cell: f => f.path ?? '' },
    { title: 'Size', class: 'num', cell: f => formatBytes(f.sizeBytes) },
    { title: 'SHA-256', cell: f => h('code', { class: 'hash', title: f.sha256 ?? '' }, (f.sha256 ?? '').slice(0, 16) + (f.sha256 ? '…' : '')) },
    { title: 'MD5', cell: f => h('code', { class: 'hash', title: f.checksum ?? '' }, (f.checksum ?? '').slice(0, 12) + (f.checksum ? '…' : '')) },
    { title: 'Created', cell: f => timeCell(f.createdAt) },
    {
      title: 'Download',
      cell: f => (f.uri && !f.sha256
        ? h('span', { class: 'muted', title: 'Tracked, stored elsewhere' }, f.uri)
        : h('a', { href: api.downloadUrl(f.id), download: (f.path ?? 'artifact').split('/').pop(), class: 'download', 'data-file-id': f.id }, 'Download')),
    },
  ], files);
}

export function metadataTable(metadata) {
  const entries = Object.entries(metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (!entries.length) return emptyState('No metadata.');
  return table([
    { title: 'Key', cell: ([k]) => k },
    { title: 'Value', cell: ([, v]) => h('code', null, formatValue(v)) },
  ], entries);
}

export async function experimentPage({ root, params: [id], signal }) {
  setCrumbs([['Namespaces', '/'], ['Experiment']]);
  root.append(loadingState());
  let experiment;
  try {
    experiment = (await api.experiment(id, signal)).experiment;
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    root.replaceChildren(errorState(e, `Experiment ${id}`));
    return null;
  }
  const ns = experiment.namespace ?? 'default';
  setCrumbs([['Namespaces', '/'], [ns, `/namespaces/${encodeURIComponent(ns)}`], [experiment.name]]);

  const header = h('div');
  const details = h('div');
  const chartsPanel = section('Metrics', loadingState());
  chartsPanel.id = 'metrics';
  // Charts first: they are what people open a run for.
  root.replaceChildren(header, chartsPanel, details);

  function renderHeader(e) {
    header.replaceChildren(
      h('h1', null, e.name, ' ', statusBadge(e.status)),
      keyValues([
        ['Id', h('code', null, e.id)], ['Namespace', h('a', { href: `/namespaces/${encodeURIComponent(ns)}` }, ns)],
        ['Owner', e.owner], ['Framework', frameworkName(e.framework)], ['Task', e.task], ['External id', e.externalId],
        ['Created', timeCell(e.createdAt)], ['Updated', timeCell(e.updatedAt)], ['Ended', e.endedAt ? timeCell(e.endedAt) : null],
        ['Labels', labelChips(e.labels)], ['Description', e.description],
      ]));
  }

  // Re-reads the experiment (its metadata comes with it) and everything logged under it.
  async function loadDetails() {
    const [current, events, checkpoints, files, versions] = await Promise.all([
      api.experiment(id, signal), api.events(id, signal), api.checkpoints(id, signal), api.artifacts(id, signal),
      api.versionsTrainedIn(id, signal).catch(() => ({ modelVersions: [] })),
    ]);
    experiment = current.experiment;
    renderHeader(experiment);
    const eventList = (events.events || []).slice().sort((a, b) => String(a.wallclockTime ?? a.createdAt).localeCompare(String(b.wallclockTime ?? b.createdAt)));
    details.replaceChildren(h('div', { class: 'details-grid' },
      section('Metadata', metadataTable(experiment.metadata?.metadata)),
      section('Events', eventList.length
        ? h('ol', { class: 'timeline' }, eventList.map(ev => h('li', null, timeCell(ev.wallclockTime ?? ev.createdAt), ' ', h('strong', null, ev.name),
          ev.source?.name ? h('span', { class: 'muted' }, ` from ${ev.source.name}`) : null,
          Object.keys(ev.metadata?.metadata ?? {}).length ? h('code', { class: 'event-meta' }, ' ' + JSON.stringify(ev.metadata.metadata)) : null)))
        : emptyState('No events.')),
      section('Checkpoints', (checkpoints.checkpoints || []).length
        ? table([
          { title: 'Epoch', class: 'num', cell: c => String(c.epoch ?? 0) },
          { title: 'Metrics', cell: c => Object.entries(c.metrics ?? {}).map(([k, v]) => `${k}=${formatNumber(Number(v))}`).join(', ') },
          { title: 'Files', class: 'num', cell: c => String((c.files ?? []).length) },
          { title: 'Created', cell: c => timeCell(c.createdAt) },
          { title: 'Id', cell: c => h('code', null, c.id) },
        ], checkpoints.checkpoints)
        : emptyState('No checkpoints.'))),
      section('Artifacts', artifactsTable(files.files || [])),
      section('Model versions trained here', (versions.modelVersions || []).length
        ? h('ul', null, versions.modelVersions.map(v => h('li', null, h('a', { href: `/model-versions/${encodeURIComponent(v.id)}` }, `${v.name ?? ''} ${v.version ?? ''}`))))
        : emptyState('None.')));
  }

  let charts = null;
  let keys = [];
  async function loadCharts() {
    const summaries = await readSummaries([id], [], signal);
    const next = [...new Set(summaries.map(s => s.key))].sort();
    if (charts && next.length === keys.length && next.every((k, i) => k === keys[i])) {
      await charts.refresh();
      return;
    }
    keys = next;
    charts?.destroy();
    charts = metricCharts({ runs: [{ id, name: experiment.name, color: seriesColor(0) }], keys, query: queryParams(), signal, idPrefix: 'metric' });
    chartsPanel.replaceChildren(h('h2', null, `Metrics (${keys.length})`), charts.element);
    await charts.loaded;
  }

  // Live: changes to this experiment (status, labels, metadata, events, files, checkpoints) re-read it; while it runs,
  // its charts grow (metric points are not change records, so they are polled).
  const refresh = debounce(() => loadDetails().catch(e => {
    if (e.name !== 'AbortError') details.prepend(errorState(e, 'the latest state'));
  }), 250);
  const live = watchNamespace(ns, change => {
    if (change.type === 'ready' || concerns(change, id)) refresh();
  });
  renderHeader(experiment);
  await live.ready;
  try {
    await Promise.all([loadDetails(), loadCharts()]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    details.replaceChildren(errorState(e, 'the experiment\'s details'));
  }

  // The next poll is planned when the last one ended, so slow reads never pile up.
  let poll = null;
  const schedule = () => {
    poll = setTimeout(async () => {
      if (document.visibilityState === 'visible' && statusName(experiment.status) === 'running') await loadCharts().catch(() => {});
      if (!signal.aborted) schedule();
    }, 5000);
  };
  schedule();
  return () => { live.stop(); clearTimeout(poll); charts?.destroy(); };
}
