// The actions the CLI offers, as confirm-then-run dialogs on the same API endpoints.
import type { App } from '../app.js';
import { field, openDialog } from '../dialog.js';
import { h, replace, visible } from '../dom.js';
import { LABEL_PATTERN, percent } from '../format.js';
import type { DeployResponse, InstanceJson, RollResponse, RouteResponse, ServiceJson, SpawnResponse, WeightResponse } from '../types.js';

const path = (i: InstanceJson) => `/api/instances/${encodeURIComponent(i.id)}`;

function summary(i: SpawnResponse | InstanceJson): string {
  return `${i.id}: ${i.state}, health ${i.health}, port ${i.port}${i.pid ? `, pid ${i.pid}` : ''}`;
}

export function restartInstance(app: App, i: InstanceJson): void {
  openDialog({
    title: `Restart ${i.id}?`,
    body: [h('p', null, 'The process is stopped (SIGTERM, then SIGKILL after the stop timeout) and started again; the call returns once it is healthy.')],
    confirm: 'Restart',
    run: async () => summary(await app.api.send<SpawnResponse>('POST', `${path(i)}/restart`)),
    done: () => void app.refresh(),
  });
}

export function stopInstance(app: App, i: InstanceJson): void {
  openDialog({
    title: `Stop ${i.id}?`,
    body: [h('p', null, 'The instance is stopped and removed (like ', h('code', null, `ten stop ${i.id}`), '). Its data directory is kept.')],
    confirm: 'Stop and remove',
    danger: true,
    run: async () => {
      await app.api.send('DELETE', path(i));
      return `${i.id} stopped and removed`;
    },
    done: () => void app.refresh(),
  });
}

export function wakeInstance(app: App, i: InstanceJson): void {
  openDialog({
    title: `Wake ${i.id}?`,
    body: [h('p', null, `It is ${i.state}. It is started now, as its next request would start it.`)],
    confirm: 'Wake',
    run: async () => summary(await app.api.send<SpawnResponse>('POST', `${path(i)}/wake`)),
    done: () => void app.refresh(),
  });
}

/** The traffic split of a service if `target` had weight `w`. */
export function split(instances: InstanceJson[], target: InstanceJson, w: number): Array<{ id: string; weight: number; share: string }> {
  const members = instances.filter((x) => x.process === target.process && x.state !== 'failed' && x.state !== 'stopped');
  if (!members.some((x) => x.id === target.id)) members.push(target);
  const weights = members.map((x) => ({ id: x.id, weight: x.id === target.id ? w : x.weight }));
  const total = weights.reduce((a, b) => a + b.weight, 0);
  return weights.map((x) => ({ ...x, share: percent(x.weight, total) }));
}

export function changeWeight(app: App, i: InstanceJson): void {
  const slider = h('input', { type: 'range', min: 0, max: 100, step: 1, value: String(i.weight), id: 'weight-slider', 'aria-describedby': 'split' });
  const number = h('output', { for: 'weight-slider', id: 'weight-value' }, String(i.weight));
  const splitList = h('ul', { id: 'split', class: 'split', 'aria-live': 'polite' });
  const show = () => {
    const w = Number(slider.value);
    number.textContent = String(w);
    replace(
      splitList,
      ...split(app.state.instances, i, w).map((x) =>
        h('li', { 'data-instance': x.id }, h('span', null, x.id), h('strong', null, x.share), h('span', { class: 'muted' }, ` weight ${x.weight}`)),
      ),
    );
  };
  slider.addEventListener('input', show);
  show();
  openDialog({
    title: `Traffic weight of ${i.id}`,
    body: [
      h('p', { class: 'muted' }, `Its share of ${i.process}'s traffic: requests to the service are spread by weight over its instances (0 = no traffic). One route change.`),
      field('Weight (0-100)', h('span', { class: 'row' }, slider, number)),
      h('p', null, app.who.admin ? 'Resulting split:' : "Resulting split among this token's instances (other tenants' instances of the service also take a share):"),
      splitList,
    ],
    confirm: 'Set weight',
    run: async () => {
      const res = await app.api.send<WeightResponse>('PUT', `${path(i)}/weight`, { weight: Number(slider.value) });
      return `${res.instance} now has weight ${res.weight}`;
    },
    done: () => void app.refresh(),
  });
}

function serviceSelect(services: string[], id: string): HTMLSelectElement {
  return h('select', { id, required: true }, ...services.map((s) => h('option', { value: s }, s)));
}

export function spawnInstance(app: App, services: string[]): void {
  const svc = serviceSelect(services, 'spawn-service');
  const id = h('input', { id: 'spawn-id', required: true, pattern: LABEL_PATTERN, maxlength: 63, autocomplete: 'off', placeholder: 'alice' });
  if (app.who.tenant) {
    id.value = app.who.tenant;
    id.readOnly = true;
  }
  openDialog({
    title: 'Spawn an instance',
    body: [field('Service', svc), field('Instance id', id), h('p', { class: 'muted' }, 'Starts service:id and waits until it is healthy.')],
    confirm: 'Spawn',
    run: async () => summary(await app.api.send<SpawnResponse>('POST', '/api/instances/spawn', { process: svc.value, id: id.value.trim() })),
    done: () => void app.refresh(),
  });
}

export function deploy(app: App, services: string[]): void {
  const svc = serviceSelect(services, 'deploy-service');
  const version = h('input', { id: 'deploy-version', required: true, autocomplete: 'off', placeholder: 'v2' });
  const weight = h('input', { id: 'deploy-weight', type: 'number', min: 0, max: 100, value: '100' });
  const timeout = h('input', { id: 'deploy-timeout', type: 'number', min: 1, max: 3600, value: '30' });
  openDialog({
    title: 'Deploy a version',
    body: [
      field('Service', svc),
      field('Version (instance id)', version),
      field('Weight once healthy', weight),
      field('Health timeout (s)', timeout),
      h('p', { class: 'muted' }, 'Starts service:version, waits for its health check, then gives it the weight in one route change (ten deploy).'),
    ],
    confirm: 'Deploy',
    run: async () => {
      const r = await app.api.send<DeployResponse>('POST', '/api/deploy', {
        process: svc.value,
        version: version.value.trim(),
        weight: Number(weight.value),
        timeout: Number(timeout.value),
      });
      return `${r.instance} is ${r.status} on port ${r.port} with weight ${r.weight} (${r.route_changes} route change${r.route_changes === 1 ? '' : 's'})`;
    },
    done: () => void app.refresh(),
  });
}

export function routeSwap(app: App, services: string[]): void {
  const svc = serviceSelect(services, 'route-service');
  const from = h('select', { id: 'route-from' });
  const to = h('select', { id: 'route-to' });
  const fill = () => {
    const ids = app.state.instances.filter((i) => i.process === svc.value).map((i) => i.instance_id);
    replace(from, ...ids.map((x) => h('option', { value: x }, x)));
    replace(to, ...ids.map((x) => h('option', { value: x }, x)));
    if (ids.length > 1) to.value = ids[1]!;
  };
  svc.addEventListener('change', fill);
  fill();
  openDialog({
    title: 'Route swap',
    body: [
      field('Service', svc),
      field('From (gets weight 0)', from),
      field('To (gets weight 100)', to),
      h('p', { class: 'muted' }, 'Moves all traffic in one atomic route change (ten route).'),
    ],
    confirm: 'Swap',
    danger: true,
    run: async () => {
      const r = await app.api.send<RouteResponse>('POST', '/api/route', { process: svc.value, from: from.value, to: to.value });
      return `${r.from_instance} weight ${r.from_weight}, ${r.to_instance} weight ${r.to_weight}`;
    },
    done: () => void app.refresh(),
  });
}

export function roll(app: App, services: string[]): void {
  const svc = serviceSelect(services, 'roll-service');
  const plan = h('div', { class: 'plan', 'aria-live': 'polite' });
  const describe = () => {
    replace(plan, h('span', { class: 'muted' }, 'reading…'));
    app.api.get<ServiceJson>(`/api/services/${encodeURIComponent(svc.value)}`).then(
      (s) =>
        replace(
          plan,
          h('p', null, `${s.stale} of ${s.instances.length} instance(s) not on the current definition (${s.config_hash}).`),
          h('ul', null, ...s.instances.map((x) => h('li', null, `${x.instance}: ${x.roll}${x.reason ? ` (${visible(x.reason)})` : ''}`))),
        ),
      (err: Error) => replace(plan, h('p', { class: 'error' }, visible(err.message))),
    );
  };
  svc.addEventListener('change', describe);
  describe();
  openDialog({
    title: 'Roll a service',
    body: [field('Service', svc), plan, h('p', { class: 'muted' }, 'Re-reads the config, then restarts the stale instances one at a time, each until healthy (ten roll).')],
    confirm: 'Roll',
    run: async () => {
      const r = await app.api.send<RollResponse>('POST', `/api/services/${encodeURIComponent(svc.value)}/roll`);
      return `restarted: ${r.restarted.join(', ') || 'none'}; up to date: ${r.up_to_date.join(', ') || 'none'}; skipped: ${r.skipped.map((s) => `${s.instance} (${s.reason})`).join(', ') || 'none'}`;
    },
    done: () => void app.refresh(),
  });
}
