// One model: what it is, its aliases (which version each points at), its versions with unique tags and labels, its
// files, metadata and metrics. An alias move shows as it happens.

import { api, readSummaries } from '../api.js';
import { setCrumbs } from '../app.js';
import { metricCharts } from '../charts.js';
import { seriesColor } from '../chart.js';
import { watchNamespace, concerns } from '../live.js';
import { h, errorState, loadingState, emptyState, labelChips, timeCell, keyValues, section, table, frameworkName, queryParams, debounce } from '../ui.js';
import { artifactsTable, metadataTable } from './experiment.js';

export async function modelPage({ root, params: [id], signal }) {
  setCrumbs([['Namespaces', '/'], ['Model']]);
  root.append(loadingState());
  let model;
  try {
    model = (await api.model(id, signal)).model;
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    root.replaceChildren(errorState(e, `Model ${id}`));
    return null;
  }
  const ns = model.namespace ?? 'default';
  setCrumbs([['Namespaces', '/'], [ns, `/namespaces/${encodeURIComponent(ns)}`], ['Models', `/namespaces/${encodeURIComponent(ns)}/models`], [model.name]]);
  const header = h('div');
  const body = h('div', { class: 'details-grid' });
  const metrics = section('Metrics', loadingState());
  root.replaceChildren(header, body, metrics);

  async function load() {
    model = (await api.model(id, signal)).model;
    const [versions, aliases] = await Promise.all([api.modelVersions(id, signal), api.modelAliases(id, signal)]);
    const list = versions.modelVersions || [];
    const byId = new Map(list.map(v => [v.id, v]));
    header.replaceChildren(h('h1', null, model.name), keyValues([
      ['Id', h('code', null, model.id)], ['Namespace', h('a', { href: `/namespaces/${encodeURIComponent(ns)}/models` }, ns)],
      ['Owner', model.owner], ['Task', model.task], ['Created', timeCell(model.createdAt)], ['Labels', labelChips(model.labels)],
      ['Description', model.description],
    ]));
    const aliasList = aliases.aliases || [];
    body.replaceChildren(
      section('Aliases', aliasList.length ? table([
        { title: 'Alias', cell: a => h('strong', null, `@${a.alias}`) },
        { title: 'Version', cell: a => h('a', { href: `/model-versions/${encodeURIComponent(a.versionId)}`, class: 'alias-target' }, byId.get(a.versionId)?.version ?? a.versionId) },
        { title: 'Moved', cell: a => timeCell(a.updatedAt) },
      ], aliasList, { rowAttrs: a => ({ 'data-alias': a.alias }) }) : emptyState('No aliases.')),
      section('Versions', list.length ? table([
        { title: 'Version', cell: v => h('a', { href: `/model-versions/${encodeURIComponent(v.id)}` }, v.version) },
        { title: 'Framework', cell: v => frameworkName(v.framework) },
        { title: 'Unique tags', cell: v => ((v.uniqueTags || []).length ? h('span', { class: 'chips' }, v.uniqueTags.map(t => h('span', { class: 'chip tag' }, t))) : h('span', { class: 'muted' }, '—')) },
        { title: 'Aliases', cell: v => aliasList.filter(a => a.versionId === v.id).map(a => `@${a.alias}`).join(' ') },
        { title: 'Labels', cell: v => labelChips(v.labels) },
        { title: 'Files', class: 'num', cell: v => String((v.files || []).length) },
        { title: 'Created', cell: v => timeCell(v.createdAt) },
      ], list, { rowAttrs: v => ({ 'data-id': v.id }) }) : emptyState('No versions yet.')),
      section('Files', artifactsTable(model.files || [])),
      section('Metadata', metadataTable(model.metadata?.metadata)));
  }

  let charts = null;
  async function loadMetrics() {
    const keys = [...new Set((await readSummaries([id], [], signal)).map(s => s.key))].sort();
    charts?.destroy();
    charts = metricCharts({ runs: [{ id, name: model.name, color: seriesColor(0) }], keys, query: queryParams(), signal, idPrefix: 'model' });
    metrics.replaceChildren(h('h2', null, 'Metrics'), charts.element);
  }

  const reload = debounce(() => load().catch(e => { if (e.name !== 'AbortError') body.prepend(errorState(e, 'the latest state')); }), 250);
  const live = watchNamespace(ns, c => { if (c.type === 'ready' || concerns(c, id)) reload(); });
  await live.ready;
  try {
    await Promise.all([load(), loadMetrics()]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    body.replaceChildren(errorState(e, 'the model'));
  }
  return () => { live.stop(); charts?.destroy(); };
}
