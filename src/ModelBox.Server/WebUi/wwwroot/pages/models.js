// A namespace's models: name, task, labels, aliases, created; label selector; keyset paging; live updates.

import { api, ApiError } from '../api.js';
import { setCrumbs } from '../app.js';
import { watchNamespace } from '../live.js';
import { h, emptyState, errorState, loadingState, labelChips, timeCell, table, queryParams, replaceQuery, debounce } from '../ui.js';

export async function modelsPage({ root, params: [ns], signal }) {
  setCrumbs([['Namespaces', '/'], [ns, `/namespaces/${encodeURIComponent(ns)}`], ['Models']]);
  const q = queryParams();
  const state = { labels: q.labels ?? '', token: q.page ?? '' };
  const tokens = [];
  const labelBox = h('input', { id: 'labels', type: 'search', name: 'labels', value: state.labels, placeholder: 'env=production', 'aria-describedby': 'labels-error' });
  const labelError = h('div', { id: 'labels-error', class: 'field-error', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters', role: 'search' },
    h('div', { class: 'field grow' }, h('label', { for: 'labels' }, 'Label selector'), labelBox, labelError),
    h('div', { class: 'field narrow' }, h('span', { class: 'label-spacer' }, ' '), h('button', { type: 'submit' }, 'Apply')));
  const body = h('div', { id: 'models' }, loadingState());
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  root.append(h('h1', null, `Models in ${ns}`), h('p', null, h('a', { href: `/namespaces/${encodeURIComponent(ns)}` }, 'Experiments of this namespace')), form, body, pager);
  form.addEventListener('submit', e => { e.preventDefault(); state.labels = labelBox.value.trim(); state.token = ''; tokens.length = 0; load(); });

  async function load() {
    replaceQuery({ labels: state.labels, page: state.token });
    // A shown error stays until this read's answer replaces it (a live re-read must not make it blink).
    const clearError = () => { labelError.replaceChildren(); labelBox.removeAttribute('aria-invalid'); };
    let page;
    try {
      page = await api.models(ns, { labelSelector: state.labels, pageSize: 50, pageToken: state.token }, signal);
      const models = page.models || [];
      const aliases = await Promise.all(models.map(m => api.modelAliases(m.id, signal).then(r => r.aliases || []).catch(() => [])));
      clearError();
      body.replaceChildren(models.length ? table([
        { title: 'Name', cell: m => h('a', { href: `/models/${encodeURIComponent(m.id)}` }, m.name) },
        { title: 'Task', cell: m => m.task ?? '' },
        { title: 'Owner', cell: m => m.owner ?? '' },
        { title: 'Labels', cell: m => labelChips(m.labels) },
        { title: 'Aliases', cell: (m) => {
          const list = aliases[models.indexOf(m)];
          return list.length ? h('span', { class: 'chips' }, list.map(a => h('a', { class: 'chip alias', href: `/model-versions/${encodeURIComponent(a.versionId)}` }, `@${a.alias}`))) : h('span', { class: 'muted' }, '—');
        } },
        { title: 'Created', cell: m => timeCell(m.createdAt) },
      ], models, { rowAttrs: m => ({ 'data-id': m.id }) }) : emptyState(state.labels ? 'No model matches this selector.' : 'No models in this namespace yet.'));
    } catch (e) {
      if (e.name === 'AbortError') return;
      clearError();
      if (e instanceof ApiError && e.status === 400) {
        labelBox.setAttribute('aria-invalid', 'true');
        labelError.append(h('span', { class: 'error-message' }, e.message));
        body.replaceChildren(emptyState('Fix the label selector to see models.'));
      } else {
        body.replaceChildren(errorState(e, 'the models', ns));
      }
      return;
    }
    pager.replaceChildren(
      h('button', { type: 'button', disabled: !tokens.length, onclick: () => { state.token = tokens.pop() ?? ''; load(); } }, '‹ Previous'),
      h('button', { type: 'button', disabled: !page.nextPageToken, onclick: () => { tokens.push(state.token); state.token = page.nextPageToken; load(); } }, 'Next ›'));
  }

  const reload = debounce(load, 300);
  const live = watchNamespace(ns, c => { if (c.type === 'ready' || ['model', 'labels', 'alias'].includes(c.objectKind)) reload(); });
  await live.ready;
  await load();
  return live.stop;
}
