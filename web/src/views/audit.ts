// The audit log (admin): who changed what, newest first, filterable by target.
import { query } from '../api.js';
import type { App, View } from '../app.js';
import { h, replace, visible } from '../dom.js';
import { dateTime } from '../format.js';
import type { AuditJson } from '../types.js';

export function auditView(app: App): View {
  const target = h('input', { id: 'audit-target', type: 'search', placeholder: 'target, e.g. notes:alice', 'aria-label': 'Target', autocomplete: 'off' });
  const tbody = h('tbody', null);
  const load = async () => {
    try {
      const entries = await app.api.get<AuditJson[]>(`/api/audit${query({ target: target.value.trim(), limit: 200 })}`);
      replace(
        tbody,
        ...entries.map((e) => {
          let ok = '';
          let detail = e.detail ?? '';
          try {
            const d = JSON.parse(e.detail ?? '{}') as Record<string, unknown>;
            ok = d.ok === false ? 'failed' : d.ok === true ? 'ok' : '';
            delete d.ok;
            detail = Object.entries(d)
              .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(', ');
          } catch {
            // not JSON: show as is
          }
          return h(
            'tr',
            { class: ok === 'failed' ? 'failed' : '' },
            h('td', null, dateTime(e.at)),
            h('td', null, h('code', null, e.actor)),
            h('td', null, e.action),
            h('td', null, visible(e.target)),
            h('td', { class: ok === 'failed' ? 'error' : '' }, ok),
            h('td', { class: 'detail' }, visible(detail)),
          );
        }),
      );
    } catch (err) {
      app.notify((err as Error).message, 'error');
    }
  };
  const form = h(
    'form',
    { class: 'toolbar', role: 'search' },
    target,
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'button', onclick: () => void load() }, 'Refresh'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void load();
  });
  void load();
  return {
    el: h(
      'div',
      { class: 'page' },
      h('h1', null, 'Audit log'),
      form,
      h(
        'div',
        { class: 'table-wrap' },
        h('table', { id: 'audit' }, h('thead', null, h('tr', null, ...['When', 'Actor', 'Action', 'Target', 'Result', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))), tbody),
      ),
    ),
  };
}
