// `ten install` / `ten uninstall` as real processes, into a temporary --root: what is written,
// what is refused, what is removed and what is kept; the results checked by Caddy and systemd's
// own tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runTen } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TEN_BIN } from '../helpers/paths.js';
import { findProgram } from '../../src/install/systemctl.js';
import { sha256, type Manifest } from '../../src/install/manifest.js';
import { directive, parseUnit, snapshot } from './helpers.js';
import { CONTROLLER_NODE_FLAGS } from '../../src/cli/node-flags.js';

const SERVICE = 'etc/systemd/system/tenement.service';
const SOCKET = 'etc/systemd/system/tenement.socket';
const DROP_IN = 'etc/systemd/system/caddy.service.d/tenement.conf';
const CADDYFILE = 'etc/caddy/Caddyfile';
const MANIFEST = 'etc/tenement/install-manifest.json';
const CONFIG = '/etc/tenement/tenement.toml';

/** A target system with a config and a data dir that install and uninstall must leave alone. */
function makeRoot(): { root: string; cleanup: () => void } {
  const { dir: root, cleanup } = tempDir('tenement-install-');
  fs.mkdirSync(path.join(root, 'etc/tenement'), { recursive: true });
  fs.writeFileSync(path.join(root, CONFIG), '[settings]\ndata_dir = "/var/lib/tenement"\n\n[service.app]\ncommand = "node server.js"\n');
  fs.mkdirSync(path.join(root, 'var/lib/tenement/app/alice'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/tenement/tenement.db'), 'not really a database');
  fs.writeFileSync(path.join(root, 'var/lib/tenement/app/alice/notes.txt'), 'remember the milk');
  return { root, cleanup };
}

function install(root: string, ...args: string[]) {
  return runTen(['install', '--root', root, '--config', CONFIG, ...args]);
}

function read(root: string, rel: string): string {
  return fs.readFileSync(path.join(root, rel), 'utf8');
}

test('--dry-run prints every file with its path and content, and writes nothing', async () => {
  const { root, cleanup } = makeRoot();
  try {
    const before = snapshot(root);
    const res = await install(root, '--dry-run', '--socket-activation', '--caddy', '--domain', 'example.org');
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(snapshot(root), before, 'nothing written');
    for (const rel of [SERVICE, SOCKET, DROP_IN, CADDYFILE, MANIFEST]) {
      assert.ok(res.stdout.includes(`==> ${path.join(root, rel)} (`), `${rel} printed\n${res.stdout}`);
    }
    assert.match(res.stdout, /^KillMode=process$/m);
    assert.match(res.stdout, /^ListenStream=127\.0\.0\.1:8080$/m);
    assert.match(res.stdout, /^example\.org, \*\.example\.org, \*\.\*\.example\.org \{$/m);
    assert.match(res.stdout, /"path": "\/etc\/systemd\/system\/tenement\.service"/);
    assert.match(res.stderr, /dry run: nothing was written/);
  } finally {
    cleanup();
  }
});

test('install then uninstall: exactly the listed files come and go; config and data dir stay as they were', async () => {
  const { root, cleanup } = makeRoot();
  try {
    const before = snapshot(root);
    const res = await install(root, '--socket-activation', '--caddy', '--domain', 'example.org', '--port', '8099', '--user', 'caddy');
    assert.equal(res.code, 0, res.stderr);
    const manifest = JSON.parse(read(root, MANIFEST)) as Manifest;
    assert.deepEqual(manifest.files.map((f) => f.path).sort(), [`/${CADDYFILE}`, `/${DROP_IN}`, `/${SERVICE}`, `/${SOCKET}`].sort());
    for (const f of manifest.files) assert.equal(sha256(read(root, f.path.slice(1))), f.sha256, f.path);
    assert.deepEqual(manifest.kept, { config: CONFIG, dataDir: '/var/lib/tenement' });
    // Only the listed files (and the manifest and folders) were added.
    const added = Object.keys(snapshot(root))
      .filter((k) => !(k in before))
      .sort();
    assert.deepEqual(added, ['etc/caddy/', CADDYFILE, 'etc/systemd/', 'etc/systemd/system/', 'etc/systemd/system/caddy.service.d/', DROP_IN, SERVICE, SOCKET, MANIFEST].sort());
    for (const k of Object.keys(before)) assert.equal(snapshot(root)[k], before[k], `${k} untouched`);
    assert.equal((fs.statSync(path.join(root, SERVICE)).mode & 0o777).toString(8), '644');

    const unit = parseUnit(read(root, SERVICE));
    assert.equal(directive(unit, 'Service', 'KillMode'), 'process');
    assert.equal(directive(unit, 'Service', 'User'), 'caddy');
    assert.equal(directive(unit, 'Service', 'Environment'), `TENEMENT_CONFIG=${CONFIG}`);
    assert.equal(
      directive(unit, 'Service', 'ExecStart'),
      `${process.execPath} ${CONTROLLER_NODE_FLAGS.join(' ')} ${TEN_BIN} serve --port 8099 --domain example.org --caddy-admin unix//run/caddy/admin.sock`,
    );
    assert.equal(directive(parseUnit(read(root, SOCKET)), 'Socket', 'ListenStream'), '127.0.0.1:8099');
    assert.match(res.stderr, /not running systemctl \(installing under --root/);
    assert.match(res.stderr, /systemctl enable --now tenement/);

    // A second identical run changes nothing.
    const again = await install(root, '--socket-activation', '--caddy', '--domain', 'example.org', '--port', '8099', '--user', 'caddy');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /unchanged .*tenement\.service/);

    const un = await runTen(['uninstall', '--root', root]);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(snapshot(root), before, 'back to exactly what was there');
    assert.match(un.stderr, /kept, untouched: the config \/etc\/tenement\/tenement\.toml and the data dir \/var\/lib\/tenement/);
    assert.match(un.stderr, /uninstall never stops them/);

    const nothing = await runTen(['uninstall', '--root', root]);
    assert.equal(nothing.code, 0);
    assert.match(nothing.stderr, /nothing to uninstall/);
  } finally {
    cleanup();
  }
});

test('files install did not write are never overwritten; --caddyfile writes elsewhere', async () => {
  const { root, cleanup } = makeRoot();
  try {
    fs.mkdirSync(path.join(root, 'etc/caddy'), { recursive: true });
    fs.writeFileSync(path.join(root, CADDYFILE), ':80 {\n\trespond "the stock Caddyfile"\n}\n');
    const before = snapshot(root);
    for (const extra of [[], ['--force']]) {
      const res = await install(root, '--caddy', '--domain', 'example.org', ...extra);
      assert.equal(res.code, 1, res.stderr);
      assert.ok(res.stderr.includes(`${path.join(root, CADDYFILE)} exists and was not written by ten install: not overwriting it`), res.stderr);
      assert.match(res.stderr, /mv .*Caddyfile .*Caddyfile\.orig/);
      assert.match(res.stderr, /--caddyfile PATH/);
      assert.match(res.stderr, /nothing was written/);
      assert.deepEqual(snapshot(root), before, 'nothing written, not even the units');
    }
    const dry = await install(root, '--caddy', '--domain', 'example.org', '--dry-run');
    assert.equal(dry.code, 1);
    assert.match(dry.stderr, /a real run would refuse/);

    const res = await install(root, '--caddy', '--domain', 'example.org', '--caddyfile', '/etc/caddy/tenement.Caddyfile');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(read(root, CADDYFILE), ':80 {\n\trespond "the stock Caddyfile"\n}\n');
    assert.match(read(root, 'etc/caddy/tenement.Caddyfile'), /^example\.org, /m);
    const un = await runTen(['uninstall', '--root', root]);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(snapshot(root), before);

    // A foreign unit is refused the same way.
    fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
    fs.writeFileSync(path.join(root, SERVICE), '[Service]\nExecStart=/bin/true\n');
    const unit = await install(root);
    assert.equal(unit.code, 1);
    assert.match(unit.stderr, /tenement\.service exists and was not written by ten install/);
  } finally {
    cleanup();
  }
});

test('files changed by hand: install refuses without --force, uninstall keeps them without --force', async () => {
  const { root, cleanup } = makeRoot();
  try {
    const before = snapshot(root);
    assert.equal((await install(root, '--socket-activation')).code, 0);
    fs.appendFileSync(path.join(root, SERVICE), '# my edit\n');
    const refused = await install(root, '--socket-activation', '--port', '9000');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /tenement\.service was changed after ten install wrote it: not overwriting the changes/);
    assert.match(refused.stderr, /systemctl edit tenement\.service/);
    assert.match(read(root, SERVICE), /# my edit/);
    assert.match(read(root, SOCKET), /127\.0\.0\.1:8080/, 'all or nothing: the socket was not rewritten either');

    const forced = await install(root, '--port', '9000', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(read(root, SERVICE), /# my edit/);
    assert.ok(!fs.existsSync(path.join(root, SOCKET)), 'the socket unit of the earlier install is removed when no longer wanted');
    assert.match(forced.stderr, /removed .*tenement\.socket \(no longer part of the install\)/);
    assert.match(forced.stderr, /systemctl restart tenement .*tenants keep running/);

    fs.appendFileSync(path.join(root, SERVICE), '# another edit\n');
    const kept = await runTen(['uninstall', '--root', root]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stderr, /kept .*tenement\.service: changed since ten install wrote it \(ten uninstall --force removes it\)/);
    assert.ok(fs.existsSync(path.join(root, SERVICE)));
    assert.deepEqual(
      (JSON.parse(read(root, MANIFEST)) as Manifest).files.map((f) => f.path),
      [`/${SERVICE}`],
    );

    const dry = await runTen(['uninstall', '--root', root, '--force', '--dry-run']);
    assert.equal(dry.code, 0);
    assert.match(dry.stderr, /would remove .*tenement\.service/);
    assert.ok(fs.existsSync(path.join(root, SERVICE)), 'dry run removes nothing');

    const forcedUn = await runTen(['uninstall', '--root', root, '--force']);
    assert.equal(forcedUn.code, 0, forcedUn.stderr);
    assert.deepEqual(snapshot(root), before);
  } finally {
    cleanup();
  }
});

test('bad combinations are refused before anything is written', async () => {
  const { root, cleanup } = makeRoot();
  try {
    const before = snapshot(root);
    for (const [args, message] of [
      [['--caddy'], /--caddy needs --domain/],
      [['--domain', 'not a domain'], /is not a domain name/],
      [['--user', 'x y'], /--user "x y" is not a valid name/],
      [['--group', 'adm'], /--group needs --user/],
      [['--serve-args', '--port 1'], /--port is set by ten install itself/],
      [['--serve-args', 'a | b'], /no shell operators/],
    ] as const) {
      const res = await install(root, ...args);
      assert.equal(res.code, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
    }
    assert.deepEqual(snapshot(root), before);
  } finally {
    cleanup();
  }
});

test('the generated Caddyfile is valid for the real Caddy and serves the domain', async () => {
  const { root, cleanup } = makeRoot();
  try {
    const res = await install(root, '--caddy', '--domain', 'tenants.example.net', '--port', '8765');
    assert.equal(res.code, 0, res.stderr);
    const json = execFileSync('caddy', ['adapt', '--config', path.join(root, CADDYFILE), '--adapter', 'caddyfile'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const config = JSON.parse(json) as {
      admin: { listen: string };
      apps: { http: { servers: Record<string, { routes: Array<{ match?: Array<{ host?: string[] }> }> }> }; tls: unknown };
    };
    assert.equal(config.admin.listen, 'unix//run/caddy/admin.sock');
    const hosts = Object.values(config.apps.http.servers).flatMap((s) => s.routes.flatMap((r) => (r.match ?? []).flatMap((m) => m.host ?? [])));
    assert.deepEqual(hosts.sort(), ['*.*.tenants.example.net', '*.tenants.example.net', 'tenants.example.net']);
    assert.match(json, /http:\/\/127\.0\.0\.1:8765\/caddy\/ask/);
    assert.doesNotMatch(json, /example\.com/);
  } finally {
    cleanup();
  }
});

test('systemd-analyze verify accepts the rendered units (tenement.service, .socket, caddy.service with the drop-in)', async (t) => {
  const analyze = findProgram('systemd-analyze');
  if (!analyze) {
    t.skip('systemd-analyze is not installed (Debian: apt-get install systemd): the units were not checked by systemd');
    return;
  }
  const { root, cleanup } = makeRoot();
  const { dir: stubs, cleanup: cleanStubs } = tempDir('tenement-units-');
  try {
    const res = await install(root, '--socket-activation', '--caddy', '--domain', 'example.org', '--user', 'caddy', '--serve-args', '--caddy-access-log "/var/log/caddy/x y.log"');
    assert.equal(res.code, 0, res.stderr);
    const unitDir = path.join(root, 'etc/systemd/system');
    // The drop-in is checked against the real caddy.service when the caddy package installed one.
    if (!['/lib/systemd/system/caddy.service', '/usr/lib/systemd/system/caddy.service'].some((f) => fs.existsSync(f))) {
      fs.writeFileSync(path.join(stubs, 'caddy.service'), '[Service]\nUser=caddy\nExecStart=/bin/true\n');
    }
    const verify = (files: string[]) =>
      spawnSync(analyze, ['verify', ...files], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir}:${stubs}:`, SYSTEMD_LOG_COLOR: '0' } });
    const run = verify([path.join(unitDir, 'tenement.service'), path.join(unitDir, 'tenement.socket'), 'caddy.service']);
    // Warnings about unrelated system units may appear; none may be about ours.
    const ours = run.stderr.split('\n').filter((l) => /tenement|caddy/.test(l));
    assert.deepEqual(ours, [], run.stderr);
    assert.equal(run.status, 0, run.stderr);
    assert.match(directive(parseUnit(read(root, SERVICE)), 'Service', 'ExecStart')!, /--caddy-access-log "\/var\/log\/caddy\/x y\.log"$/);

    // The check itself works: a typo in a key is reported for our file.
    fs.appendFileSync(path.join(unitDir, 'tenement.service'), 'KillMod=process\n');
    const bad = verify([path.join(unitDir, 'tenement.service')]);
    assert.match(bad.stderr, /tenement\.service:\d+: Unknown key 'KillMod'/);
  } finally {
    cleanStubs();
    cleanup();
  }
});
