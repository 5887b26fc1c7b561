// The pure parts of `ten install`: unit rendering, quoting, the Caddyfile, choosing the program,
// and comparing a plan with what is on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderCaddyDropIn, renderServiceUnit, renderSocketUnit, serveArgs, type ServiceUnitOptions } from '../../src/install/units.js';
import { environmentAssignment, execArg, execLine } from '../../src/install/systemd-syntax.js';
import { normalizeDomain, readCaddyfileExample, renderCaddyfile } from '../../src/install/caddyfile.js';
import { resolveTenProgram } from '../../src/install/bin.js';
import { CONTROLLER_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { checkInstall, buildManifest } from '../../src/install/apply.js';
import { planInstall, type InstallRequest } from '../../src/install/plan.js';
import { sha256 } from '../../src/install/manifest.js';
import { tempDir } from '../helpers/temp-dir.js';
import { ROOT } from '../helpers/paths.js';
import { directive, parseUnit } from './helpers.js';

const base: ServiceUnitOptions = {
  version: '9.9.9',
  ten: ['/usr/bin/node', ...CONTROLLER_NODE_FLAGS, '/usr/local/bin/ten'],
  args: serveArgs({ port: 8080, domain: 'example.com', externalCaddy: false }),
  configFile: '/etc/tenement/tenement.toml',
  workingDirectory: '/etc/tenement',
  socketActivation: false,
  externalCaddy: false,
};

test('service unit: tenants survive stop and restart (KillMode=process) and every setting is chosen', () => {
  const text = renderServiceUnit(base);
  const unit = parseUnit(text);
  const s = (k: string) => directive(unit, 'Service', k);
  assert.equal(s('KillMode'), 'process');
  assert.equal(s('KillSignal'), 'SIGTERM');
  assert.equal(s('TimeoutStopSec'), '30s');
  assert.equal(s('Restart'), 'on-failure');
  assert.equal(s('RestartPreventExitStatus'), '2');
  assert.equal(s('Type'), 'exec');
  assert.equal(s('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(s('ExecStart'), '/usr/bin/node --max-semi-space-size=1 /usr/local/bin/ten serve --port 8080 --domain example.com');
  assert.equal(s('Environment'), 'TENEMENT_CONFIG=/etc/tenement/tenement.toml');
  assert.equal(s('WorkingDirectory'), '/etc/tenement');
  assert.equal(s('LimitNOFILE'), '65536');
  assert.equal(s('TasksMax'), 'infinity');
  assert.equal(s('OOMPolicy'), 'continue');
  assert.equal(s('User'), undefined);
  assert.equal(s('Group'), undefined);
  assert.equal(directive(unit, 'Unit', 'After'), 'network-online.target');
  assert.equal(directive(unit, 'Unit', 'Wants'), 'network-online.target');
  assert.equal(directive(unit, 'Unit', 'Requires'), undefined);
  assert.equal(directive(unit, 'Install', 'WantedBy'), 'multi-user.target');
  // Sandboxing that would reach tenants is left out on purpose (and the unit says why).
  for (const k of ['PrivateTmp', 'ProtectSystem', 'ProtectHome', 'NoNewPrivileges', 'PrivateDevices', 'ReadOnlyPaths']) assert.equal(s(k), undefined, k);
  assert.match(text, /KillMode=control-group would signal every process/);
  assert.match(text, /PrivateTmp's directory is even deleted/);
  assert.match(text, /written by `ten install` \(tenement 9\.9\.9\)/);
});

test('service unit: --user/--group, socket activation and an external Caddy', () => {
  const unit = parseUnit(
    renderServiceUnit({
      ...base,
      user: 'tenement',
      group: 'www-data',
      socketActivation: true,
      externalCaddy: true,
      args: serveArgs({ port: 9000, domain: 'example.com', externalCaddy: true }),
    }),
  );
  assert.equal(directive(unit, 'Service', 'User'), 'tenement');
  assert.equal(directive(unit, 'Service', 'Group'), 'www-data');
  assert.equal(directive(unit, 'Unit', 'Requires'), 'tenement.socket');
  assert.equal(directive(unit, 'Unit', 'After'), 'network-online.target tenement.socket caddy.service');
  assert.equal(directive(unit, 'Unit', 'Wants'), 'network-online.target caddy.service');
  assert.equal(directive(unit, 'Install', 'Also'), 'tenement.socket');
  assert.equal(
    directive(unit, 'Service', 'ExecStart'),
    '/usr/bin/node --max-semi-space-size=1 /usr/local/bin/ten serve --port 9000 --domain example.com --caddy-admin unix//run/caddy/admin.sock',
  );
  assert.throws(() => renderServiceUnit({ ...base, user: 'bad user' }), /not a valid user name/);
});

test('socket unit: the controller port on loopback, queued connections, not tied to the service', () => {
  const text = renderSocketUnit({ version: '9.9.9', port: 8123 });
  const unit = parseUnit(text);
  assert.equal(directive(unit, 'Socket', 'ListenStream'), '127.0.0.1:8123');
  assert.equal(directive(unit, 'Socket', 'Accept'), 'no');
  assert.equal(directive(unit, 'Socket', 'NoDelay'), 'true');
  assert.equal(directive(unit, 'Socket', 'Backlog'), '4096');
  assert.equal(directive(unit, 'Install', 'WantedBy'), 'sockets.target');
  assert.equal(directive(unit, 'Unit', 'PartOf'), undefined, 'PartOf would close the socket on every restart');
  assert.equal(directive(parseUnit(renderCaddyDropIn({ version: '1' })), 'Service', 'RuntimeDirectory'), 'caddy');
});

test('unit syntax: paths with spaces, % and $ are escaped; control characters are refused', () => {
  assert.equal(execArg('/usr/bin/node'), '/usr/bin/node');
  assert.equal(execArg('/opt/my apps/ten'), '"/opt/my apps/ten"');
  assert.equal(execArg('100%'), '100%%');
  assert.equal(execArg('$HOME'), '"$$HOME"');
  assert.equal(execArg('say "hi"\\'), '"say \\"hi\\"\\\\"');
  assert.equal(execArg(''), '""');
  assert.throws(() => execArg('a\nb'), /control character/);
  assert.throws(() => execLine(['node', 'x']), /absolute path/);
  assert.equal(environmentAssignment('TENEMENT_CONFIG', '/etc/t e/x%.toml'), '"TENEMENT_CONFIG=/etc/t e/x%%.toml"');
  const unit = parseUnit(renderServiceUnit({ ...base, ten: ['/opt/node 20/bin/node', '/opt/ten'], configFile: '/srv/my app/tenement.toml', workingDirectory: '/srv/my app' }));
  assert.equal(directive(unit, 'Service', 'ExecStart')!.slice(0, 28), '"/opt/node 20/bin/node" /opt');
  assert.equal(directive(unit, 'Service', 'WorkingDirectory'), '/srv/my app');
});

test('Caddyfile: the example with the domain, the controller port in the ask URL, and a new header', () => {
  const text = renderCaddyfile(readCaddyfileExample(), { domain: 'Tenants.Example.NET', port: 9001, version: '9.9.9', serveCommand: 'ten serve --port 9001' });
  assert.match(text, /^tenants\.example\.net, \*\.tenants\.example\.net, \*\.\*\.tenants\.example\.net \{$/m);
  assert.match(text, /ask http:\/\/127\.0\.0\.1:9001\/caddy\/ask/);
  assert.doesNotMatch(text, /example\.com/);
  assert.doesNotMatch(text, /Replace example\.com with your domain/);
  assert.match(text, /^# Caddyfile for tenement on tenants\.example\.net/);
  assert.match(text, /admin unix\/\/run\/caddy\/admin\.sock/);
  assert.throws(() => renderCaddyfile('{\n}\nfoo.org {\n}\n', { domain: 'a.b', port: 1, version: '1', serveCommand: '' }), /no site line/);
  for (const bad of ['exa mple.com', '*.example.com', 'example.com/x', '-a.com', 'a..b', '']) assert.throws(() => normalizeDomain(bad), /not a domain name/, bad);
  assert.equal(normalizeDomain('localhost'), 'localhost');
});

test('the program: a Node script runs as NODE SCRIPT (link path kept, not resolved); anything else directly', () => {
  const { dir, cleanup } = tempDir();
  try {
    const script = path.join(dir, 'ten.js');
    fs.writeFileSync(script, '#!/usr/bin/env node\n');
    const link = path.join(dir, 'ten');
    fs.symlinkSync(script, link);
    const wrapper = path.join(dir, 'ten-wrapper');
    fs.writeFileSync(wrapper, '#!/bin/sh\nexec node /x "$@"\n', { mode: 0o755 });
    const common = { node: undefined, root: '/', cwd: dir, argv1: undefined, execPath: '/usr/bin/node' };
    assert.deepEqual(resolveTenProgram({ ...common, bin: 'ten' }).argv, ['/usr/bin/node', ...CONTROLLER_NODE_FLAGS, link]);
    assert.deepEqual(resolveTenProgram({ ...common, bin: undefined, argv1: script }).argv, ['/usr/bin/node', ...CONTROLLER_NODE_FLAGS, script]);
    assert.deepEqual(resolveTenProgram({ ...common, bin: wrapper }).argv, [wrapper]);
    assert.deepEqual(resolveTenProgram({ ...common, bin: wrapper }).kind, 'executable');
    assert.match(resolveTenProgram({ ...common, bin: script, execPath: '/home/me/.nvm/versions/node/v20/bin/node' }).warnings.join(), /--node \/usr\/bin\/node/);
    assert.throws(() => resolveTenProgram({ ...common, bin: path.join(dir, 'missing') }), /does not exist/);
  } finally {
    cleanup();
  }
});

test('plan vs disk: new, unchanged, replaced, changed by hand, and foreign files', () => {
  const { dir: root, cleanup } = tempDir();
  try {
    const request: InstallRequest = {
      version: '1',
      ten: ['/usr/bin/node', '/x/ten.js'],
      port: 8080,
      configFile: '/etc/tenement/tenement.toml',
      socketActivation: true,
      caddy: false,
      caddyfilePath: '/etc/caddy/Caddyfile',
      serveExtra: [],
    };
    const files = planInstall(request);
    assert.deepEqual(
      files.map((f) => f.path),
      ['/etc/systemd/system/tenement.service', '/etc/systemd/system/tenement.socket'],
    );
    assert.throws(() => planInstall({ ...request, caddy: true }), /--caddy needs --domain/);

    let check = checkInstall(root, files, undefined, { force: false });
    assert.deepEqual(
      check.steps.map((s) => s.action),
      ['create', 'create'],
    );
    assert.deepEqual(check.newDirs, ['/etc', '/etc/systemd', '/etc/systemd/system', '/etc/tenement']);

    const servicePath = path.join(root, 'etc/systemd/system/tenement.service');
    const socketPath = path.join(root, 'etc/systemd/system/tenement.socket');
    fs.mkdirSync(path.dirname(servicePath), { recursive: true });
    fs.writeFileSync(servicePath, files[0]!.content); // identical bytes: ours in effect
    fs.writeFileSync(socketPath, '[Socket]\nListenStream=1\n'); // someone else's
    check = checkInstall(root, files, undefined, { force: true });
    assert.equal(check.steps[0]!.action, 'unchanged');
    assert.deepEqual(
      check.conflicts.map((c) => c.kind),
      ['foreign'],
      '--force never overwrites a foreign file',
    );
    assert.match(check.conflicts[0]!.message, /not written by ten install: not overwriting it\. Move it away \(mv /);

    const manifest = buildManifest(check, undefined, { version: '1', command: 'x', installedAt: 'now', kept: { config: '/c' } });
    manifest.files.push({ path: '/etc/systemd/system/tenement.socket', sha256: sha256('what we once wrote'), role: 'socket' });
    check = checkInstall(root, files, manifest, { force: false });
    assert.deepEqual(
      check.conflicts.map((c) => c.kind),
      ['modified'],
    );
    assert.match(check.conflicts[0]!.message, /changed after ten install wrote it.*--force/);
    assert.deepEqual(
      checkInstall(root, files, manifest, { force: true }).steps.map((s) => s.action),
      ['unchanged', 'replace'],
    );

    fs.writeFileSync(socketPath, 'what we once wrote');
    check = checkInstall(root, files, manifest, { force: false });
    assert.deepEqual(
      check.steps.map((s) => s.action),
      ['unchanged', 'replace'],
    );
    // Dropping socket activation removes the socket unit of the earlier install.
    check = checkInstall(root, planInstall({ ...request, socketActivation: false }), manifest, { force: false });
    assert.deepEqual(
      check.stale.map((s) => [s.entry.path, s.action]),
      [['/etc/systemd/system/tenement.socket', 'remove']],
    );
  } finally {
    cleanup();
  }
});

test('docs/systemd.md shows the units exactly as they are rendered', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/systemd.md'), 'utf8');
  const blocks = [...doc.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const sameVersion = (text: string) => text.replace(/\(tenement [^)]+\)/g, '(tenement VERSION)');
  const rendered = [
    renderServiceUnit({ ...base, args: serveArgs({ port: 8080, domain: 'example.com', externalCaddy: false }), socketActivation: true }),
    renderSocketUnit({ version: '1', port: 8080 }),
    renderCaddyDropIn({ version: '1' }),
  ];
  assert.deepEqual(blocks.map(sameVersion), rendered.map(sameVersion), 'update the ```ini blocks of docs/systemd.md from the renderers');
});
