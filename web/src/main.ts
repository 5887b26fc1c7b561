// The dashboard: sign-in, then one page at a time (hash routes), fed by polling the API.
import './style.css';
import { apiClient, ApiError } from './api.js';
import type { App, AppState, View } from './app.js';
import { h, replace, setText, visible } from './dom.js';
import type { ControllerHealth, HistoryJson, InstanceJson, WhoAmIJson } from './types.js';
import { overviewView } from './views/overview.js';
import { chartsView } from './views/charts.js';
import { logsView } from './views/logs.js';
import { tokensView } from './views/tokens.js';
import { auditView } from './views/audit.js';

const TOKEN_KEY = 'tenement.token';
const POLL_MS = 2000;
const HISTORY_MS = 15_000;

const root = document.getElementById('app')!;

interface Page {
  path: string;
  label: string;
  admin: boolean;
  make: (app: App) => View;
}
const PAGES: Page[] = [
  { path: 'overview', label: 'Overview', admin: false, make: overviewView },
  { path: 'charts', label: 'Charts', admin: false, make: chartsView },
  { path: 'logs', label: 'Logs', admin: false, make: logsView },
  { path: 'tokens', label: 'Tokens', admin: true, make: tokensView },
  { path: 'audit', label: 'Audit', admin: true, make: auditView },
];

let stopSession: (() => void) | undefined;

function signIn(message?: string): void {
  stopSession?.();
  stopSession = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'ten_…' });
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, message ? visible(message) : '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'tenement'),
    h(
      'p',
      { class: 'muted' },
      'Sign in with an API token: an admin token (',
      h('code', null, 'ten token-gen'),
      ') sees everything, a tenant token only its own instances. The token is kept for this browser tab only.',
    ),
    h('label', { class: 'field' }, h('span', null, 'API token'), input),
    error,
    button,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    setText(error, '');
    const api = apiClient(token, () => undefined);
    api.get<WhoAmIJson>('/api/whoami').then(
      (who) => {
        sessionStorage.setItem(TOKEN_KEY, token);
        start(token, who);
      },
      (err: Error) => {
        button.disabled = false;
        setText(error, visible(err instanceof ApiError && err.status === 401 ? `Not signed in: ${err.message}` : err.message));
        input.select();
      },
    );
  });
  replace(root, h('main', { class: 'signin-page' }, form));
  input.focus();
}

function start(token: string, who: WhoAmIJson): void {
  stopSession?.();
  let ended = false;
  const api = apiClient(token, (message) => {
    if (ended) return;
    ended = true;
    signIn(`Your session ended: ${message}`);
  });
  const state: AppState = { instances: [], health: null, history: null, updatedAt: null, error: null };
  const status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const conn = h('span', { class: 'conn muted' });
  const version = h('span', { class: 'muted' });
  const main = h('main', { id: 'main', tabindex: '-1' });
  const navLinks = PAGES.filter((p) => !p.admin || who.admin).map((p) => h('a', { href: `#/${p.path}`, 'data-page': p.path }, p.label));
  const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
  const header = h(
    'header',
    { class: 'top' },
    // Not a #main link: the hash is the page route.
    h(
      'a',
      {
        class: 'skip',
        href: '#',
        onclick: (ev: Event) => {
          ev.preventDefault();
          main.focus();
        },
      },
      'Skip to content',
    ),
    h('span', { class: 'brand' }, 'tenement'),
    h('nav', { 'aria-label': 'Pages' }, ...navLinks),
    h('span', { class: 'spacer' }),
    conn,
    version,
    h('span', { class: 'who', id: 'who' }, who.admin ? 'admin' : `tenant ${who.tenant}`),
    signOut,
  );
  replace(root, header, status, main);

  let notifyTimer: number | undefined;
  const app: App = {
    api,
    who,
    state,
    async refresh() {
      const [instances, health] = await Promise.all([api.get<InstanceJson[]>('/api/instances'), api.get<ControllerHealth>('/health')]);
      state.instances = instances;
      state.health = health;
      state.updatedAt = Date.now();
      state.error = null;
      render();
    },
    async refreshHistory() {
      state.history = await api.get<HistoryJson>('/api/history');
      render();
    },
    notify(text, kind = 'ok') {
      replace(status, h('span', { class: kind }, visible(text)));
      window.clearTimeout(notifyTimer);
      notifyTimer = window.setTimeout(() => replace(status), 8000);
    },
  };

  let view: View | undefined;
  const render = () => {
    if (ended) return;
    setText(version, state.health ? `v${state.health.version}` : '');
    setText(conn, state.error ? `⚠ ${visible(state.error)}` : state.updatedAt ? 'live' : 'connecting…');
    conn.className = state.error ? 'conn error' : 'conn muted';
    view?.update?.(state);
  };
  const route = () => {
    if (ended) return;
    const name = location.hash.replace(/^#\/?/, '') || 'overview';
    const page = PAGES.find((p) => p.path === name.split('?')[0] && (!p.admin || who.admin)) ?? PAGES[0]!;
    view?.destroy?.();
    view = page.make(app);
    replace(main, view.el);
    for (const a of navLinks) {
      if (a.dataset.page === page.path) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${page.label} · tenement`;
    render();
  };
  const poll = async () => {
    try {
      await app.refresh();
    } catch (err) {
      if (ended) return;
      state.error = (err as Error).message;
      render();
    }
  };
  const pollHistory = async () => {
    try {
      await app.refreshHistory();
    } catch {
      // shown by the instance poll's error, which fails the same way
    }
  };
  const timers = [window.setInterval(() => void poll(), POLL_MS), window.setInterval(() => void pollHistory(), HISTORY_MS)];
  window.addEventListener('hashchange', route);
  signOut.addEventListener('click', () => {
    ended = true;
    signIn();
  });
  stopSession = () => {
    ended = true;
    timers.forEach((t) => window.clearInterval(t));
    window.removeEventListener('hashchange', route);
    view?.destroy?.();
    view = undefined;
  };
  route();
  void poll();
  void pollHistory();
}

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  // A reload keeps the session: check the token is still good before showing anything.
  apiClient(saved, () => undefined)
    .get<WhoAmIJson>('/api/whoami')
    .then(
      (who) => start(saved, who),
      (err: Error) => signIn(err instanceof ApiError && err.status === 401 ? `Your session ended: ${err.message}` : err.message),
    );
} else {
  signIn();
}
