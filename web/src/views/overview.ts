// Totals, controller health and the dense, live instances table with per-row actions.
import type { App, AppState, View } from '../app.js';
import { h, replace, setClass, setText, visible } from '../dom.js';
import { bytes, compact, duration, percent } from '../format.js';
import { requestMetricsNotice, requestsCounted } from '../request-metrics.js';
import type { InstanceJson, ServiceJson } from '../types.js';
import { changeWeight, deploy, restartInstance, roll, routeSwap, spawnInstance, stopInstance, wakeInstance } from './actions.js';

const WAKEABLE = new Set(['asleep', 'backoff', 'stopped']);

/** One cell of a resource column: what it reads, its explanation, and a class when near/over the limit. */
interface ResourceCell {
  text: string;
  title: string;
  cls?: string;
}

/** The share of a core an instance used between two readings of its CPU time (null before the second). */
type CpuRate = (i: InstanceJson) => number | null;

interface Resource {
  key: string;
  label: string;
  /** The column appears when some instance has this figure or its limit. */
  known: (i: InstanceJson) => boolean;
  cell: (i: InstanceJson, cpuRate: CpuRate) => ResourceCell;
}

/** "9.4 / 256 MiB" (the unit once when both share it), "— / 256 MiB" before a reading, "12 KiB" without a limit. */
function usedOfLimit(used: number | null, limit: number | null): string {
  if (limit === null) return used === null ? '—' : bytes(used);
  const max = bytes(limit);
  if (used === null) return `— / ${max}`;
  const u = bytes(used);
  const unit = max.split(' ')[1];
  return u.endsWith(` ${unit}`) ? `${u.split(' ')[0]} / ${max}` : `${u} / ${max}`;
}

const RESOURCES: Resource[] = [
  {
    key: 'memory',
    label: 'Memory',
    known: (i) => i.memory_used_bytes !== null || i.memory_limit_bytes !== null,
    cell: (i) => ({
      text: usedOfLimit(i.memory_used_bytes, i.memory_limit_bytes),
      title:
        (i.memory_used_bytes === null ? 'not measured (measured while running, from its cgroup)' : 'used now by its cgroup (page cache included)') +
        (i.memory_limit_bytes === null ? '; no memory_limit_mb' : '; memory_limit_mb, memory and swap together: past it the OOM killer ends the instance'),
      ...(i.memory_used_bytes !== null && i.memory_limit_bytes && i.memory_used_bytes >= 0.9 * i.memory_limit_bytes ? { cls: 'near-limit' } : {}),
    }),
  },
  {
    key: 'cpu',
    label: 'CPU (weight)',
    known: (i) => i.cpu_time_secs !== null || i.cpu_shares !== null,
    cell: (i, cpuRate) => {
      const rate = cpuRate(i);
      const used = rate !== null ? cpuPercent(rate) : i.cpu_time_secs !== null ? '…' : '—';
      return {
        // The weight in parentheses: it is no cap a share could be "out of".
        text: `${used}${i.cpu_shares !== null ? ` (${i.cpu_shares})` : ''}`,
        title:
          (i.cpu_time_secs === null
            ? 'not measured (measured while running, from its cgroup)'
            : `share of one core between the last two updates; ${i.cpu_time_secs} s of CPU time in this run`) +
          (i.cpu_shares === null ? '; default CPU weight (100)' : `; cpu_shares ${i.cpu_shares}: a weight against the others when the CPU is busy (100 = default), not a cap`),
      };
    },
  },
  {
    key: 'storage',
    label: 'Storage',
    known: (i) => i.storage_used_bytes !== null || i.storage_quota_bytes !== null,
    cell: (i) => ({
      text: usedOfLimit(i.storage_used_bytes, i.storage_quota_bytes),
      title: `size of its data folder, measured every 30 s${i.storage_quota_bytes === null ? '; no storage_quota_mb' : '; storage_quota_mb (reported, not enforced)'}`,
      ...(i.storage_used_bytes !== null && i.storage_quota_bytes !== null && i.storage_used_bytes > i.storage_quota_bytes ? { cls: 'over-limit' } : {}),
    }),
  },
];

function cpuPercent(rate: number): string {
  const pct = rate * 100;
  return `${pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<string, HTMLTableCellElement>;
  wake: HTMLButtonElement;
  instance: InstanceJson;
}

const COLUMNS = ['instance', 'state', 'health', 'port', 'pid', 'uptime', 'idle', 'weight', 'share', 'restarts', 'requests', 'exit'] as const;
type Column = (typeof COLUMNS)[number];
const HEADINGS: Record<Column, string> = {
  instance: 'Instance',
  state: 'State',
  health: 'Health',
  port: 'Port',
  pid: 'PID',
  uptime: 'Uptime',
  idle: 'Idle',
  weight: 'Weight',
  share: 'Share',
  restarts: 'Restarts',
  requests: 'Req (1 h)',
  exit: 'Last exit',
};

export function overviewView(app: App): View {
  const totals = h('section', { class: 'totals', 'aria-label': 'Totals' });
  const parts = h('section', { class: 'parts', 'aria-label': 'Controller health' });
  let services: string[] = [];
  const serviceNames = () => [...new Set([...services, ...app.state.instances.map((i) => i.process)])].sort();
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    h('button', { type: 'button', id: 'action-spawn', onclick: () => spawnInstance(app, serviceNames()) }, 'Spawn…'),
    app.who.admin && h('button', { type: 'button', id: 'action-deploy', onclick: () => deploy(app, serviceNames()) }, 'Deploy…'),
    app.who.admin && h('button', { type: 'button', id: 'action-route', onclick: () => routeSwap(app, serviceNames()) }, 'Route swap…'),
    app.who.admin && h('button', { type: 'button', id: 'action-roll', onclick: () => roll(app, services) }, 'Roll…'),
  );
  if (app.who.admin) {
    app.api.get<ServiceJson[]>('/api/services').then(
      (s) => {
        services = s.map((x) => x.service);
      },
      (err: Error) => app.notify(`cannot list services: ${err.message}`, 'error'),
    );
  }

  const headRow = h('tr', null);
  const tbody = h('tbody', null);
  const empty = h(
    'p',
    { class: 'empty muted', hidden: true },
    app.who.admin ? 'No instances yet: spawn one, or list some under [instances] in tenement.toml.' : 'This token has no instances yet.',
  );
  const table = h('table', { class: 'instances', id: 'instances' }, h('caption', { class: 'sr-only' }, 'Instances'), h('thead', null, headRow), tbody);
  const rows = new Map<string, Row>();
  // The columns shown: requests only while the controller counts them, resources only when known.
  let columns: Column[] = [];
  let resourceKeys: string[] = [];
  const notice = requestMetricsNotice('requests-off-overview');
  notice.hidden = true;

  // CPU time is cumulative: the share of a core is the difference between two polls over their
  // interval. A render without a new poll (the history refresh) keeps the last share.
  const cpuReadings = new Map<string, { secs: number; at: number; rate: number | null }>();
  const readCpu = (i: InstanceJson, at: number) => {
    if (i.cpu_time_secs === null) {
      cpuReadings.delete(i.id);
      return;
    }
    const prev = cpuReadings.get(i.id);
    if (prev && prev.at === at) return;
    // A smaller reading is a new run (restart): no share until the next poll.
    const rate = prev && at > prev.at && i.cpu_time_secs >= prev.secs ? (i.cpu_time_secs - prev.secs) / ((at - prev.at) / 1000) : null;
    cpuReadings.set(i.id, { secs: i.cpu_time_secs, at, rate });
  };
  const cpuRate: CpuRate = (i) => cpuReadings.get(i.id)?.rate ?? null;

  const setHeadings = () => {
    replace(
      headRow,
      ...columns.map((c) => h('th', { scope: 'col', class: `col-${c}` }, HEADINGS[c])),
      ...RESOURCES.filter((r) => resourceKeys.includes(r.key)).map((r) => h('th', { scope: 'col', class: `col-${r.key}` }, r.label)),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')),
    );
  };

  const makeRow = (i: InstanceJson): Row => {
    const cells: Record<string, HTMLTableCellElement> = {};
    const tr = h('tr', { 'data-instance': i.id });
    for (const c of columns) {
      cells[c] = c === 'instance' ? h('th', { scope: 'row', class: 'col-instance' }) : h('td', { class: `col-${c}` });
      tr.appendChild(cells[c]!);
    }
    for (const r of RESOURCES.filter((x) => resourceKeys.includes(x.key))) {
      cells[r.key] = h('td', { class: `col-${r.key}` });
      tr.appendChild(cells[r.key]!);
    }
    const row: Row = {
      tr,
      cells,
      instance: i,
      wake: h('button', { type: 'button', class: 'small', 'data-action': 'wake', onclick: () => wakeInstance(app, row.instance) }, 'Wake'),
    };
    const actions = h(
      'td',
      { class: 'actions' },
      row.wake,
      h('button', { type: 'button', class: 'small', 'data-action': 'restart', onclick: () => restartInstance(app, row.instance) }, 'Restart'),
      h('button', { type: 'button', class: 'small', 'data-action': 'weight', onclick: () => changeWeight(app, row.instance) }, 'Weight'),
      h('button', { type: 'button', class: 'small danger', 'data-action': 'stop', onclick: () => stopInstance(app, row.instance) }, 'Stop'),
      h('a', { class: 'small', href: `#/logs?instance=${encodeURIComponent(i.id)}`, 'aria-label': `Logs of ${i.id}` }, 'Logs'),
    );
    tr.appendChild(actions);
    return row;
  };

  const requestsByInstance = (s: AppState) => {
    const m = new Map<string, number>();
    for (const x of s.history?.instances ?? [])
      m.set(
        x.instance,
        x.requests.reduce((a, b) => a + b, 0),
      );
    return m;
  };

  const update = (s: AppState) => {
    const list = s.instances;
    const counted = requestsCounted(s.history);
    const cols = COLUMNS.filter((c) => c !== 'requests' || counted);
    const keys = RESOURCES.filter((r) => list.some(r.known)).map((r) => r.key);
    if (keys.join() !== resourceKeys.join() || cols.join() !== columns.join() || headRow.childElementCount === 0) {
      resourceKeys = keys;
      columns = cols;
      setHeadings();
      for (const r of rows.values()) r.tr.remove();
      rows.clear();
    }
    const weightSum = new Map<string, number>();
    for (const i of list) if (i.state !== 'failed' && i.state !== 'stopped') weightSum.set(i.process, (weightSum.get(i.process) ?? 0) + i.weight);
    const reqs = requestsByInstance(s);
    const seen = new Set<string>();
    let prev: HTMLTableRowElement | null = null;
    const at = s.updatedAt ?? 0;
    for (const i of list) {
      seen.add(i.id);
      readCpu(i, at);
      let row = rows.get(i.id);
      if (!row) {
        row = makeRow(i);
        rows.set(i.id, row);
      }
      row.instance = i;
      const c = row.cells;
      setText(c.instance!, i.id);
      setText(c.state!, i.state);
      setClass(c.state!, `col-state state-${i.state}`);
      setText(c.health!, i.health);
      setClass(c.health!, `col-health health-${i.health}`);
      setText(c.port!, String(i.port));
      setText(c.pid!, i.pid === null ? '—' : String(i.pid));
      setText(c.uptime!, duration(i.uptime_secs));
      setText(c.idle!, duration(i.idle_secs));
      setText(c.weight!, String(i.weight));
      const takesTraffic = i.state !== 'failed' && i.state !== 'stopped';
      // A tenant does not see the other instances sharing the service route: no share to show.
      setText(c.share!, takesTraffic && app.who.admin ? percent(i.weight, weightSum.get(i.process) ?? 0) : '—');
      setText(c.restarts!, String(i.restarts));
      if (c.requests) setText(c.requests, compact(reqs.get(i.id) ?? 0));
      const exit = visible([i.last_exit, i.last_error].filter(Boolean).join(' · ') || '—');
      setText(c.exit!, exit);
      c.exit!.title = exit;
      for (const r of RESOURCES) {
        const td = c[r.key];
        if (!td) continue;
        const cell = r.cell(i, cpuRate);
        setText(td, cell.text);
        if (td.title !== cell.title) td.title = cell.title;
        setClass(td, `col-${r.key}${cell.cls ? ` ${cell.cls}` : ''}`);
      }
      row.wake.disabled = !WAKEABLE.has(i.state);
      // Keep the list's order without re-inserting rows that are already in place.
      const expected: Element | null = prev ? prev.nextElementSibling : tbody.firstElementChild;
      if (expected !== row.tr) tbody.insertBefore(row.tr, expected);
      prev = row.tr;
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    for (const id of cpuReadings.keys()) if (!seen.has(id)) cpuReadings.delete(id);
    // Known to be off (not merely not read yet): say so rather than show zeros.
    notice.hidden = s.history === null || counted;
    empty.hidden = list.length > 0 || s.updatedAt === null;
    renderTotals(s);
  };

  const renderTotals = (s: AppState) => {
    const count = (pred: (i: InstanceJson) => boolean) => s.instances.filter(pred).length;
    const requests = (s.history?.services ?? []).reduce((a, x) => a + x.requests.reduce((p, q) => p + q, 0), 0);
    const requestsText = s.history === null ? '—' : requestsCounted(s.history) ? compact(requests) : 'off';
    const items: Array<[string, string, string]> = [
      ['instances', 'Instances', String(s.instances.length)],
      ['running', 'Running', String(count((i) => i.state === 'running'))],
      ['asleep', 'Asleep', String(count((i) => i.state === 'asleep'))],
      ['starting', 'Starting', String(count((i) => i.state === 'starting' || i.state === 'backoff' || i.state === 'stopping'))],
      ['failed', 'Failed', String(count((i) => i.state === 'failed'))],
      ['requests', 'Requests (1 h)', requestsText],
      ['restarts', 'Restarts', String(s.instances.reduce((a, i) => a + i.restarts, 0))],
    ];
    if (totals.childElementCount !== items.length) {
      replace(totals, ...items.map(([k, label]) => h('div', { class: `total total-${k}`, 'data-total': k }, h('span', { class: 'label' }, label), h('span', { class: 'value' }))));
    }
    items.forEach(([, , value], n) => setText(totals.children[n]!.querySelector('.value')!, value));
    const health = s.health;
    if (health) {
      const chips = [h('span', { class: `chip status-${health.status}` }, `controller ${health.status}`)];
      for (const [name, p] of Object.entries(health.parts ?? {})) {
        chips.push(h('span', { class: `chip ${p.ok ? 'ok' : 'bad'}`, title: visible(p.detail ?? '') }, `${name} ${p.ok ? 'ok' : 'not ok'}`));
      }
      chips.push(h('span', { class: 'chip' }, `up ${duration(health.uptime_seconds)}`));
      const sig = chips.map((c) => c.textContent + c.title).join('|');
      if (parts.dataset.sig !== sig) {
        parts.dataset.sig = sig;
        replace(parts, ...chips);
      }
    }
  };

  const el = h(
    'div',
    { class: 'page overview' },
    h('h1', { class: 'sr-only' }, 'Overview'),
    h('div', { class: 'summary' }, totals, parts),
    notice,
    toolbar,
    h('div', { class: 'table-wrap' }, table),
    empty,
  );
  return { el, update };
}
