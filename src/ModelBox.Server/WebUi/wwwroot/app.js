// The web UI's router: the path names what a page shows (a namespace, an experiment, a model), the query holds its
// settings (filters, selected runs, chart settings), so every URL can be shared. Links navigate without reloading.

import { h } from './ui.js';
import { downloadWithToken, ApiError } from './api.js';
import { currentToken, setToken, signOut, onAuthChange } from './auth.js';
import { closeAllWatches } from './live.js';
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

// ---- signing in: a call answered 401 shows this box instead of the page; the token pasted is checked, kept in
// sessionStorage (auth.js) and the page is rendered again with it. Nothing of it goes into a URL. ----

let signInShown = false;

function showSignIn(message) {
  const box = document.getElementById('sign-in');
  const main = document.getElementById('main');
  if (current) current.controller.abort();
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'mbx_…', 'aria-describedby': 'sign-in-error' });
  const error = h('p', { id: 'sign-in-error', class: 'field-error', 'aria-live': 'polite' });
  const form = h('form', { class: 'panel sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', null, 'This server needs an API token to show this page. Paste one (', h('code', null, 'modelbox client tokens create'),
      ' makes one) or a single sign-on JWT. It is kept for this browser tab only and sent with each request.'),
    message ? h('p', { class: 'muted server-message' }, message) : null,
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input, error),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    error.textContent = '';
    // The token is tried on a call any signed-in caller may make, before it is kept.
    try {
      const response = await fetch('/api/v1/namespaces?pageSize=1', { headers: { Accept: 'application/json', Authorization: `Bearer ${token}` } });
      if (response.status === 401) {
        const body = await response.json().catch(() => ({}));
        error.textContent = body.message ?? 'The server did not accept this token.';
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
    } catch {
      error.textContent = 'The ModelBox server cannot be reached; is it running?';
      return;
    }
    setToken(token);
  });
  box.replaceChildren(form);
  box.hidden = false;
  main.hidden = true;
  signInShown = true;
  setCrumbs([['Sign in']]);
  document.documentElement.dataset.page = 'sign-in';
  input.focus();
}

function hideSignIn() {
  const box = document.getElementById('sign-in');
  box.hidden = true;
  box.replaceChildren();
  document.getElementById('main').hidden = false;
  signInShown = false;
}

function showAccount() {
  const el = document.getElementById('account');
  el.replaceChildren(currentToken()
    ? h('button', { type: 'button', id: 'sign-out', class: 'link-button', title: 'Forget the token of this tab', onclick: () => signOut() }, 'Sign out')
    : []);
}

onAuthChange(({ reason, message }) => {
  showAccount();
  if (reason === 'needed') {
    if (!signInShown) showSignIn(message);
    return;
  }
  // Signed in or out: the page shown is read again with the new credentials, its change stream too.
  hideSignIn();
  closeAllWatches();
  render();
});

// A download link of the API cannot carry the token: with one set, the file is fetched with it (downloadWithToken).
async function downloadClicked(a) {
  const name = a.getAttribute('download') || '';
  a.setAttribute('aria-busy', 'true');
  try {
    await downloadWithToken(a.getAttribute('href'), name);
  } catch (e) {
    if (e instanceof ApiError && e.unauthenticated) return; // the sign-in box is shown
    const text = e instanceof ApiError && e.forbidden ? `No access to this file: ${e.message}` : `The download failed: ${e.message ?? e}`;
    a.after(h('span', { class: 'field-error download-error', role: 'alert' }, text));
  } finally {
    a.removeAttribute('aria-busy');
  }
}

async function render() {
  if (signInShown) hideSignIn();
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
  if (current === entry && !signInShown) document.documentElement.dataset.page = 'ready';
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
  if (!a || a.target) return;
  const url = new URL(a.href, location.href);
  if (a.hasAttribute('download')) {
    if (currentToken() && url.origin === location.origin && url.pathname.startsWith('/api/')) {
      e.preventDefault();
      downloadClicked(a);
    }
    return;
  }
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/ui/')) return;
  e.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) { location.hash = url.hash; return; }
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);
showAccount();
render();
