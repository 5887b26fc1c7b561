// planReload: the pure diff between the running config and a valid new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { planReload } from '../../src/controller/reload-plan.js';
import type { InstanceRecord } from '../../src/store/types.js';

test('planReload: refusals name the file, line and key; everything else becomes a change line', () => {
  const file = '/etc/tenement/tenement.toml';
  const base = `[settings]\ndata_dir = "/var/lib/t"\nport_range_start = 30000\nport_range_end = 31000\n\n[service.api]\ncommand = "app"\n\n[service.old]\ncommand = "old"\n\n[instances]\napi = ["a"]\n`;
  const prev = parseConfigText(base, file).config;
  const rec = (service: string, id: string): InstanceRecord => ({ service, id, observed: 'running', desired: 'running', configHash: null }) as unknown as InstanceRecord;

  const moved = `[settings]\ndata_dir = "/srv/t"\nport_range_start = 30000\nport_range_end = 32000\n\n[service.api]\ncommand = "app"\n\n[instances]\napi = ["a"]\n`;
  const refused = planReload(prev, parseConfigText(moved, file).config, [rec('api', 'a'), rec('old', 'x')], moved);
  assert.deepEqual(
    refused.refusals.map((i) => [i.key, i.line]),
    [
      ['settings.data_dir', 2],
      ['settings.port_range_end', 4],
      ['service.old', undefined],
    ],
  );
  assert.match(refused.refusals[0]!.message, /data_dir cannot change while tenement runs .*Restart the controller/);
  assert.match(refused.refusals[1]!.message, /port range cannot change .*30000-31000.*30000-32000/);
  assert.match(refused.refusals[2]!.message, /service "old" was removed but still has instances: old:x \(running\)\. Stop them first \(ten stop old:x\)/);

  const edited =
    `[settings]\ndata_dir = "/var/lib/t"\nport_range_start = 30000\nport_range_end = 31000\nhealth_check_interval = 3\n\n` +
    `[service.api]\ncommand = "app --v2"\nidle_timeout = 60\n\n[service.new]\ncommand = "new"\n\n[instances]\napi = ["b"]\nnew = ["n"]\n\n[routing.subdomain]\nwww = "new"\n`;
  const plan = planReload(prev, parseConfigText(edited, file).config, [rec('api', 'a')], edited);
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.redefined, ['api']);
  assert.deepEqual(
    plan.spawn.map((k) => `${k.service}:${k.id}`),
    ['api:b', 'new:n'],
  );
  assert.deepEqual(plan.changes, [
    'settings.health_check_interval: 10 -> 3',
    'service old removed',
    'service api: command changed (applies as its instances restart; `ten roll api` restarts them now)',
    'service api.idle_timeout: 0 -> 60',
    'service new added',
    'instances: api:b added (spawning)',
    'instances: new:n added (spawning)',
    'instances: api:a no longer declared (still running; `ten stop api:a` removes it)',
    'routing.subdomain "www": added -> "new"',
  ]);
  // Keys only reordered, comments added: nothing to do.
  const same = `# edited\n[instances]\napi = ["a"]\n\n[service.old]\ncommand = "old"\n\n[service.api]\ncommand = "app"\n\n[settings]\nport_range_end = 31000\nport_range_start = 30000\ndata_dir = "/var/lib/t"\n`;
  assert.deepEqual(planReload(prev, parseConfigText(same, file).config, [], same).changes, []);
});
