// Logs: the newest lines matching the filters, then a live tail (the SSE stream, resumed with
// Last-Event-ID so nothing between the two is lost or repeated). Pause stops the stream; resume
// replays what was written meanwhile. Every message is shown as text with control characters made
// visible.
import { ApiError, query } from '../api.js';
import type { App, AppState, View } from '../app.js';
import { h, replace, setText, visible } from '../dom.js';
import { time } from '../format.js';
import { readEvents } from '../sse.js';
import type { LogJson, MissedJson } from '../types.js';

const MAX_LINES = 2000;
const INITIAL = 500;

export function logsView(app: App): View {
  const preset = new URLSearchParams(location.hash.split('?')[1] ?? '').get('instance') ?? '';
  const source = h('select', { id: 'log-source', 'aria-label': 'Instance or service' }, h('option', { value: '' }, 'all instances'));
  const level = h('select', { id: 'log-level', 'aria-label': 'Level' }, ...['', 'debug', 'info', 'warn', 'error'].map((l) => h('option', { value: l }, l || 'any level')));
  const stream = h('select', { id: 'log-stream', 'aria-label': 'Stream' }, ...['', 'stdout', 'stderr'].map((l) => h('option', { value: l }, l || 'both streams')));
  const search = h('input', {
    id: 'log-search',
    type: 'search',
    placeholder: 'search: words, "exact phrase", prefix*, OR, NOT',
    'aria-label': 'Search (full-text)',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const pause = h('button', { type: 'button', id: 'log-pause', 'aria-pressed': 'false' }, 'Pause');
  const clear = h('button', { type: 'button', id: 'log-clear' }, 'Clear');
  const status = h('span', { class: 'muted', id: 'log-status', role: 'status' });
  const lines = h('ol', { class: 'log-lines', id: 'log-lines', 'aria-label': 'Log lines', tabindex: '0' });
  const form = h(
    'form',
    { class: 'log-controls', role: 'search' },
    source,
    level,
    stream,
    search,
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    pause,
    clear,
    status,
  );

  let paused = false;
  let lastId: number | undefined;
  let current: AbortController | undefined;
  let destroyed = false;
  let retry: number | undefined;
  let sources = '';

  const params = () => {
    const [svc, id] = source.value.split(':');
    return { process: svc || undefined, id: id && id !== '*' ? id : undefined, level: level.value, stream: stream.value, search: search.value.trim() };
  };

  const atBottom = () => lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
  const add = (items: LogJson[]) => {
    if (items.length === 0) return;
    const stick = atBottom();
    const frag = document.createDocumentFragment();
    for (const l of items) {
      frag.appendChild(
        h(
          'li',
          { class: `log level-${l.severity} stream-${l.stream}`, 'data-id': l.id },
          h('time', { datetime: l.time }, time(l.time)),
          h('span', { class: 'src' }, `${l.process}:${l.instance_id}`),
          h('span', { class: 'lvl' }, l.severity),
          h('span', { class: 'msg' }, visible(l.message)),
        ),
      );
      lastId = Math.max(lastId ?? 0, l.id);
    }
    lines.appendChild(frag);
    while (lines.childElementCount > MAX_LINES) lines.firstElementChild!.remove();
    if (stick) lines.scrollTop = lines.scrollHeight;
  };
  const marker = (text: string) => lines.appendChild(h('li', { class: 'log marker' }, visible(text)));

  const stop = () => {
    current?.abort();
    current = undefined;
    window.clearTimeout(retry);
  };

  const follow = async () => {
    stop();
    const ac = new AbortController();
    current = ac;
    setText(status, 'connecting…');
    try {
      const res = await app.api.stream(`/api/logs/stream${query(params())}`, { 'Last-Event-ID': String(lastId ?? 0) }, ac.signal);
      setText(status, 'live');
      await readEvents(res, (e) => {
        if (e.event === 'message' || e.event === 'log') add([JSON.parse(e.data) as LogJson]);
        else if (e.event === 'error') {
          setText(status, visible((JSON.parse(e.data) as { error?: string }).error ?? 'the stream ended'));
          return;
        } else if (e.event === 'missed') {
          const m = JSON.parse(e.data) as MissedJson;
          marker(`… ${m.missed ?? 'some'} line(s) not shown (ids ${m.from_id}-${m.to_id}): ${m.reason}`);
        }
      });
      if (ac.signal.aborted || destroyed) return;
      throw new Error('the stream ended');
    } catch (err) {
      if (ac.signal.aborted || destroyed) return;
      if (err instanceof ApiError && err.status !== 503 && err.status !== 502) {
        setText(status, visible(err.message));
        return;
      }
      // Controller restarting or the network blinked: resume after the last line shown.
      setText(status, 'reconnecting…');
      retry = window.setTimeout(() => void follow(), 2000);
    }
  };

  let generation = 0;
  const load = async () => {
    stop();
    const mine = ++generation;
    replace(lines);
    lastId = undefined;
    setText(status, 'loading…');
    try {
      // An array (the original's shape); a paged object's `lines` is accepted too.
      const body = await app.api.get<LogJson[] | { lines?: LogJson[] }>(`/api/logs${query({ ...params(), limit: INITIAL })}`);
      // Filters changed while this read was under way: the newer read shows its own lines.
      if (mine !== generation || destroyed) return;
      add(Array.isArray(body) ? body : (body.lines ?? []));
      lines.scrollTop = lines.scrollHeight;
      if (lines.childElementCount === 0) marker('no matching lines yet');
      if (paused) setText(status, 'paused');
      else void follow();
    } catch (err) {
      if (mine === generation) setText(status, visible((err as Error).message));
    }
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void load();
  });
  for (const s of [source, level, stream]) s.addEventListener('change', () => void load());
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (paused) {
      stop();
      setText(status, 'paused');
    } else {
      void follow();
    }
  });
  clear.addEventListener('click', () => replace(lines));

  const update = (s: AppState) => {
    const ids = s.instances.map((i) => i.id);
    const services = [...new Set(s.instances.map((i) => i.process))];
    const sig = [...services, ...ids].join(',');
    if (sig === sources) return;
    sources = sig;
    const value = source.value || preset;
    replace(
      source,
      h('option', { value: '' }, 'all instances'),
      ...services.map((svc) => h('option', { value: `${svc}:*` }, `${svc} (service)`)),
      ...ids.map((id) => h('option', { value: id }, id)),
    );
    // Keep the chosen source even when it has no instance right now (its lines still show).
    if (value && ![...source.options].some((o) => o.value === value)) source.appendChild(h('option', { value }, value));
    source.value = value;
  };

  if (preset) {
    source.appendChild(h('option', { value: preset }, preset));
    source.value = preset;
  }
  void load();
  return {
    el: h('div', { class: 'page logs' }, h('h1', null, 'Logs'), form, lines),
    update,
    destroy() {
      destroyed = true;
      stop();
    },
  };
}
