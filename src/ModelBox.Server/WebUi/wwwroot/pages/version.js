// One model version: details, files, metadata, and its lineage graph: datasets → experiment → checkpoint → the
// versions it was derived from → this version → versions derived from it.

import { api } from '../api.js';
import { setCrumbs } from '../app.js';
import { watchNamespace, concerns } from '../live.js';
import { h, errorState, loadingState, emptyState, labelChips, timeCell, keyValues, section, frameworkName, debounce } from '../ui.js';
import { artifactsTable, metadataTable } from './experiment.js';

function node(kind, title, href, detail) {
  return h('li', { class: `node node-${kind}`, 'data-kind': kind },
    h('span', { class: 'node-kind' }, kind), href ? h('a', { href }, title) : h('strong', null, title), detail ? h('span', { class: 'node-detail' }, detail) : null);
}

function column(title, nodes) {
  return h('div', { class: 'lineage-column' }, h('h3', null, title), nodes.length ? h('ul', null, nodes) : h('p', { class: 'muted' }, '—'));
}

export function lineageGraph(l) {
  const v = l.version;
  const datasets = (l.datasets || []).map(d => node('dataset', d.dataset?.name ?? d.version?.datasetId ?? 'dataset', null,
    `${d.role === 'DATASET_ROLE_EVALUATION' ? 'evaluation' : 'training'} · ${(d.version?.digest ?? '').slice(0, 19)}`));
  const experiment = l.experiment ? [node('experiment', l.experiment.name, `/experiments/${encodeURIComponent(l.experiment.id)}`)] : [];
  const checkpoint = l.checkpoint ? [node('checkpoint', `epoch ${l.checkpoint.epoch ?? 0}`, null, l.checkpoint.id)] : [];
  const ancestors = (l.ancestors || []).map(a => node('version', `${a.version?.name ?? ''} ${a.version?.version ?? ''}`, `/model-versions/${encodeURIComponent(a.version?.id ?? '')}`, a.relation || `depth ${a.depth ?? 1}`));
  const self = [node('version', `${v?.name ?? ''} ${v?.version ?? ''}`, null, 'this version')];
  const descendants = (l.descendants || []).map(d => node('version', `${d.name ?? ''} ${d.version ?? ''}`, `/model-versions/${encodeURIComponent(d.id)}`));
  return h('div', { class: 'lineage', role: 'group', 'aria-label': 'Lineage graph' },
    column('Datasets', datasets), column('Experiment', experiment), column('Checkpoint', checkpoint),
    column('Derived from', ancestors), column('Version', self), column('Derived versions', descendants));
}

export async function versionPage({ root, params: [id], signal }) {
  setCrumbs([['Namespaces', '/'], ['Model version']]);
  root.append(loadingState());
  let version, model, lineage;
  async function load() {
    version = (await api.modelVersion(id, signal)).modelVersion;
    [model, lineage] = await Promise.all([
      api.model(version.modelId, signal).then(r => r.model),
      api.lineage(id, signal).catch(e => { if (e.name === 'AbortError') throw e; return null; }),
    ]);
  }
  try {
    await load();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    root.replaceChildren(errorState(e, `Model version ${id}`));
    return null;
  }
  const ns = model.namespace ?? 'default';
  const render = () => {
    setCrumbs([['Namespaces', '/'], [ns, `/namespaces/${encodeURIComponent(ns)}`], ['Models', `/namespaces/${encodeURIComponent(ns)}/models`],
      [model.name, `/models/${encodeURIComponent(model.id)}`], [version.version]]);
    root.replaceChildren(
      h('h1', null, `${model.name} ${version.version}`),
      keyValues([
        ['Id', h('code', null, version.id)], ['Model', h('a', { href: `/models/${encodeURIComponent(model.id)}` }, model.name)],
        ['Framework', frameworkName(version.framework)], ['Unique tags', (version.uniqueTags || []).join(', ')],
        ['Labels', labelChips(version.labels)], ['Created', timeCell(version.createdAt)], ['Description', version.description],
      ]),
      section('Lineage', lineage ? lineageGraph(lineage) : emptyState('No lineage recorded.')),
      h('div', { class: 'details-grid' }, section('Files', artifactsTable(version.files || [])), section('Metadata', metadataTable(version.metadata?.metadata))));
  };
  const reload = debounce(() => load().then(render).catch(() => {}), 250);
  const live = watchNamespace(ns, c => { if (c.type === 'ready' || concerns(c, id) || concerns(c, model.id)) reload(); });
  await live.ready;
  await load();
  render();
  return live.stop;
}
