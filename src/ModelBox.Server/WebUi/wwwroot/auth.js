// The API token the UI sends when the server enforces auth. It is kept in sessionStorage (this tab only, gone when the
// tab closes), sent as `Authorization: Bearer` on every request the UI makes (API calls, the change stream, downloads),
// and never put in a URL. A call answered 401 asks for one: the app shows a sign-in box (see app.js).

const STORAGE_KEY = 'modelbox.token';

let memoryToken = null; // when sessionStorage is unavailable (a locked-down browser), the token lives as long as the page
const listeners = new Set();

export function currentToken() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

// `headers` with the Authorization header added when a token is set.
export function withAuth(headers = {}) {
  const token = currentToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

function changed(reason, message) {
  for (const f of listeners) f({ reason, message, signedIn: !!currentToken() });
}

export function setToken(token) {
  memoryToken = token;
  try { sessionStorage.setItem(STORAGE_KEY, token); } catch { /* kept in memory only */ }
  changed('signed-in');
}

export function signOut() {
  memoryToken = null;
  try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* nothing stored */ }
  changed('signed-out');
}

// The server refused a call for want of (valid) credentials: the app asks for a token. `message` is the server's.
export function signInNeeded(message) {
  changed('needed', message);
}

// listener({ reason: 'signed-in' | 'signed-out' | 'needed', message, signedIn }) on every change; returns an unsubscribe.
export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
