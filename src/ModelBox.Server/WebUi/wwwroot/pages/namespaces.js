import { api } from '../api.js';
import { setCrumbs } from '../app.js';
import { h, emptyState, errorState, loadingState, table, timeCell } from '../ui.js';

export async function namespacesPage({ root, signal }) {
  setCrumbs([['Namespaces']]);
  const body = h('div', null, loadingState());
  root.append(h('h1', null, 'Namespaces'), body);
  let list, info;
  try {
    [list, info] = await Promise.all([api.namespaces(signal), api.serverInfo(signal).catch(() => null)]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    body.replaceChildren(errorState(e, 'the namespaces'));
    return null;
  }
  const namespaces = list.namespaces || [];
  if (!namespaces.length) {
    body.replaceChildren(emptyState('No namespaces yet. A namespace appears when the first object names it, e.g.',
      h('pre', null, 'modelbox client experiments create --namespace langtech --name my-run --owner you@example.com')));
  } else {
    body.replaceChildren(table([
      { title: 'Namespace', cell: n => h('a', { href: `/namespaces/${encodeURIComponent(n.name)}`, class: 'ns-link' }, n.name) },
      { title: 'Models', cell: n => h('a', { href: `/namespaces/${encodeURIComponent(n.name)}/models` }, 'models') },
      { title: 'Created', cell: n => timeCell(n.createdAt) },
    ], namespaces, { caption: `${namespaces.length} namespace${namespaces.length === 1 ? '' : 's'}` }));
  }
  if (info) {
    root.append(h('footer', { class: 'server-info muted' },
      `ModelBox ${info.version ?? ''} · metadata: ${info.metadataStorage ?? '?'} · artifacts: ${info.artifactStorage ?? '?'}`));
  }
  return null;
}
