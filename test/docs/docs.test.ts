// Documentation that is derived from code must match it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { renderConfigReference } from '../../src/config/reference.js';
import { accessLogFiles, findTenantServer } from '../../caddy/external.js';
import { ROOT } from '../helpers/paths.js';

test('docs/config.md is the rendered schema (run `npm run docs` after changing keys)', () => {
  assert.equal(fs.readFileSync(path.join(ROOT, 'docs/config.md'), 'utf8'), renderConfigReference());
});

test('Caddyfile.example is valid for Caddy and has what tenement relies on', () => {
  const json = execFileSync('caddy', ['adapt', '--config', path.join(ROOT, 'Caddyfile.example'), '--adapter', 'caddyfile'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const config = JSON.parse(json) as { admin: { listen: string }; apps: { http: { grace_period: number | string; servers: Record<string, Record<string, unknown>> } } };
  assert.match(config.admin.listen, /^unix\//, 'admin on a unix socket');
  assert.ok(config.apps.http.grace_period, 'grace_period set');
  assert.equal(typeof findTenantServer(config.apps.http.servers, 'example.com'), 'string', 'tenement finds the tenant server');
  assert.deepEqual(accessLogFiles(config as never), ['/var/log/caddy/tenement-access.log'], 'tenement finds the access log');
  assert.match(json, /127\.0\.0\.1:8080\/caddy\/ask/, 'on-demand TLS asks the controller');
});
