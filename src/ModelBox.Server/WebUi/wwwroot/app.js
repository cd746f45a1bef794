// The web UI's router: the path names what a page shows (a namespace, an experiment, a model), the query holds its
// settings (filters, selected runs, chart settings), so every URL can be shared. Links navigate without reloading.

import { h } from './ui.js';
import { namespacesPage } from './pages/namespaces.js';
import { experimentsPage } from './pages/experiments.js';
import { experimentPage } from './pages/experiment.js';
import { comparePage } from './pages/compare.js';
import { modelsPage } from './pages/models.js';
import { modelPage } from './pages/model.js';
import { versionPage } from './pages/version.js';

const routes = [
  [/^\/$/, () => namespacesPage],
  [/^\/namespaces\/([^/]+)\/?$/, () => experimentsPage],
  [/^\/namespaces\/([^/]+)\/models\/?$/, () => modelsPage],
  [/^\/experiments\/([^/]+)\/?$/, () => experimentPage],
  [/^\/compare\/?$/, () => comparePage],
  [/^\/models\/([^/]+)\/?$/, () => modelPage],
  [/^\/model-versions\/([^/]+)\/?$/, () => versionPage],
];

let current = null; // { controller, cleanup }

// Moments (performance.now()) the benchmark reads: when a table was rendered, a filter submitted ...
window.modelboxTimings = {};

// Sets the breadcrumb trail: [[text, href], ..., [text]].
export function setCrumbs(items) {
  const nav = document.getElementById('crumbs');
  nav.replaceChildren(...items.flatMap((item, i) => {
    const [text, href] = item;
    const node = href && i < items.length - 1 ? h('a', { href }, text) : h('span', { 'aria-current': i === items.length - 1 ? 'page' : null }, text);
    return i ? [h('span', { class: 'sep', 'aria-hidden': 'true' }, '/'), node] : [node];
  }));
  document.title = items.length ? `${items[items.length - 1][0]} · ModelBox` : 'ModelBox';
}

async function render() {
  if (current) {
    current.controller.abort();
    try { current.cleanup?.(); } catch { /* a page's cleanup must not stop navigation */ }
  }
  const controller = new AbortController();
  current = { controller, cleanup: null };
  const main = document.getElementById('main');
  main.replaceChildren();
  document.documentElement.dataset.page = 'loading';
  const path = location.pathname;
  let page = null, params = [];
  for (const [re, pick] of routes) {
    const m = re.exec(path);
    if (m) { page = pick(); params = m.slice(1).map(decodeURIComponent); break; }
  }
  if (!page) {
    setCrumbs([['Not found']]);
    main.append(h('div', { class: 'state error not-found', role: 'alert' }, h('p', { class: 'state-title' }, 'There is no page here'),
      h('p', null, h('a', { href: '/' }, 'Back to the namespaces'))));
    document.documentElement.dataset.page = 'ready';
    return;
  }
  const entry = current;
  try {
    entry.cleanup = await page({ root: main, params, signal: controller.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    main.append(h('div', { class: 'state error', role: 'alert' }, h('p', { class: 'state-title' }, 'Something went wrong'), h('p', null, String(e.message ?? e))));
    console.error(e);
  }
  if (current === entry) document.documentElement.dataset.page = 'ready';
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
  render();
  window.scrollTo(0, 0);
  document.getElementById('main').focus({ preventScroll: true });
}

document.addEventListener('click', e => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/ui/')) return;
  e.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) { location.hash = url.hash; return; }
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);
render();
