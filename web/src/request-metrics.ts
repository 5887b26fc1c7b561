// What the page says when the controller does not count requests (request_metrics off): request and
// latency figures would be flat zeros that read as "no traffic", so they are replaced by this
// notice. Restarts and wakes are recorded either way and stay.
import { h } from './dom.js';
import type { HistoryJson } from './types.js';

/** True only when the controller says it counts requests (unknown until the history is read). */
export function requestsCounted(history: HistoryJson | null): boolean {
  return history?.request_metrics === true;
}

export function requestMetricsNotice(id: string): HTMLElement {
  return h(
    'p',
    { class: 'notice', id, role: 'note' },
    h('strong', null, 'Request counts are off. '),
    'Requests, 5xx answers and latency come from Caddy’s access log, which is opt-in: set ',
    h('code', null, 'request_metrics = true'),
    ' under ',
    h('code', null, '[settings]'),
    ' in tenement.toml and restart the controller (with your own Caddy, pass ',
    h('code', null, '--caddy-access-log'),
    '). It costs Caddy a log line per request, about a quarter of a static route’s throughput; see docs/performance.md. Restarts and wakes are always recorded.',
  );
}
