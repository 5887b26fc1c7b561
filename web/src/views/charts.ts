// Requests, latency and restarts of the last hour, per service (large) and per instance
// (sparklines), from GET /api/history. When the controller does not count requests, the request
// and latency charts give way to a notice saying so (flat zeros would read as "no traffic").
import type { App, AppState, View } from '../app.js';
import { chart, type ChartOptions } from '../chart.js';
import { h, replace } from '../dom.js';
import { compact } from '../format.js';
import { requestMetricsNotice } from '../request-metrics.js';
import type { HistoryJson, HistoryValues } from '../types.js';

export function chartsView(app: App): View {
  const body = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'loading…'));
  const note = h('p', { class: 'muted', id: 'history-note' });
  const notice = requestMetricsNotice('requests-off-charts');
  notice.hidden = true;
  let drawn: HistoryJson | null = null;

  const update = (s: AppState) => {
    const hist = s.history;
    if (!hist || hist === drawn) return;
    drawn = hist;
    const minutes = Math.round(hist.window_secs / 60);
    const counted = hist.request_metrics;
    notice.hidden = counted;
    note.textContent = `Last ${minutes} minutes in ${hist.step_secs} s steps, kept in the controller's memory${counted ? " (requests from Caddy's access log)" : ''}. Refreshed every 15 s.`;
    if (hist.services.length === 0) {
      replace(body, h('p', { class: 'empty muted' }, counted ? 'No requests, restarts or wakes in the last hour yet.' : 'No restarts or wakes in the last hour yet.'));
      return;
    }
    // The last slot is still filling: its rate is over the seconds it has had so far, so the line
    // does not dip at "now".
    const lastStart = new Date(hist.start).getTime() / 1000 + (hist.points - 1) * hist.step_secs;
    const filling = Math.min(hist.step_secs, Math.max(5, Date.now() / 1000 - lastStart));
    const perMinute = (v: number[]) => v.map((x, i) => (x * 60) / (i === v.length - 1 ? filling : hist.step_secs));
    const cards = hist.services.map((svc) => {
      const instances = hist.instances.filter((i) => i.process === svc.process);
      return h(
        'section',
        { class: 'card service-charts', 'data-service': svc.process, 'aria-label': `Service ${svc.process}` },
        h('h2', null, svc.process, h('span', { class: 'muted' }, ` ${totalsText(svc, counted)}`)),
        h(
          'div',
          { class: 'chart-grid' },
          counted &&
            figure('Requests / min', {
              title: `${svc.process} requests per minute`,
              unit: 'req/min',
              kind: 'line',
              minutes,
              series: [
                { label: 'all', values: perMinute(svc.requests), cls: 'series-a' },
                { label: '5xx', values: perMinute(svc.errors), cls: 'series-bad' },
              ],
            }),
          counted &&
            figure('Latency (ms)', {
              title: `${svc.process} latency`,
              unit: 'ms',
              kind: 'line',
              minutes,
              series: [
                { label: 'average', values: svc.latency_avg_ms, cls: 'series-a' },
                { label: 'max', values: svc.latency_max_ms, cls: 'series-b' },
              ],
            }),
          figure('Restarts and wakes', {
            title: `${svc.process} restarts and wakes`,
            unit: '',
            kind: 'bar',
            minutes,
            series: [
              { label: 'restarts', values: svc.restarts, cls: 'series-bad' },
              { label: 'wakes', values: svc.wakes, cls: 'series-b' },
            ],
          }),
        ),
        h(
          'table',
          { class: 'sparks' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ...(counted ? ['Instance', 'Requests', 'Latency avg', 'Restarts', 'Totals'] : ['Instance', 'Restarts', 'Totals']).map((t) => h('th', { scope: 'col' }, t)),
            ),
          ),
          h(
            'tbody',
            null,
            ...instances.map((i) =>
              h(
                'tr',
                { 'data-instance': i.instance },
                h('th', { scope: 'row' }, i.instance),
                counted &&
                  h(
                    'td',
                    null,
                    chart({
                      title: `${i.instance} requests`,
                      unit: 'req',
                      kind: 'line',
                      minutes,
                      spark: true,
                      width: 160,
                      height: 28,
                      series: [{ label: 'requests', values: i.requests, cls: 'series-a' }],
                    }),
                  ),
                counted &&
                  h(
                    'td',
                    null,
                    chart({
                      title: `${i.instance} latency`,
                      unit: 'ms',
                      kind: 'line',
                      minutes,
                      spark: true,
                      width: 160,
                      height: 28,
                      series: [{ label: 'average', values: i.latency_avg_ms, cls: 'series-a' }],
                    }),
                  ),
                h(
                  'td',
                  null,
                  chart({
                    title: `${i.instance} restarts`,
                    unit: '',
                    kind: 'bar',
                    minutes,
                    spark: true,
                    width: 160,
                    height: 28,
                    series: [{ label: 'restarts', values: i.restarts, cls: 'series-bad' }],
                  }),
                ),
                h('td', { class: 'muted' }, totalsText(i, counted)),
              ),
            ),
          ),
        ),
      );
    });
    replace(body, ...cards);
  };
  // Fresh data when the page opens, rather than up to 15 s old.
  void app.refreshHistory().catch(() => undefined);
  return { el: h('div', { class: 'page' }, h('h1', null, 'Charts'), note, notice, body), update };
}

function figure(caption: string, o: ChartOptions): HTMLElement {
  const legend = o.series.length > 1 ? o.series.map((s) => h('span', { class: `key ${s.cls}` }, s.label)) : [];
  return h('figure', null, h('figcaption', null, caption, ...legend), chart(o));
}

function totalsText(v: HistoryValues, requestsCounted: boolean): string {
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const events = `${sum(v.restarts)} restarts, ${sum(v.wakes)} wakes`;
  if (!requestsCounted) return events;
  const lat = v.latency_avg_ms.filter((x): x is number => x !== null);
  const avg = lat.length ? `${compact(lat.reduce((a, b) => a + b, 0) / lat.length)} ms avg` : 'no latency data';
  return `${compact(sum(v.requests))} requests, ${sum(v.errors)} 5xx, ${avg}, ${events}`;
}
