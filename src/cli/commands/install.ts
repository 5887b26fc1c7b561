import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { parse as shellParse, quote } from 'shell-quote';
import { ConfigError, formatIssue } from '../../config/errors.js';
import { CONFIG_ENV_VAR, findConfigFile } from '../../config/find.js';
import { loadConfig } from '../../config/load.js';
import { applyInstall, buildManifest, checkInstall, unwritableDirs, type InstallCheck } from '../../install/apply.js';
import { resolveTenProgram } from '../../install/bin.js';
import { normalizeDomain, readCaddyfileExample } from '../../install/caddyfile.js';
import { readManifest, serializeManifest, type Manifest } from '../../install/manifest.js';
import { CADDY_ADMIN_SOCKET, DEFAULT_CADDYFILE_PATH, DEFAULT_CONFIG_PATH, MANIFEST_PATH, SOCKET_NAME, targetPath, underRoot } from '../../install/paths.js';
import { planInstall, serveCommandText, type InstallRequest } from '../../install/plan.js';
import { runSystemctl, systemdAvailability } from '../../install/systemctl.js';
import { isValidAccountName } from '../../install/systemd-syntax.js';
import { VERSION } from '../../version.js';
import { print, say } from '../client/output.js';
import { parsePort } from '../parse.js';

interface InstallOptions {
  dryRun?: boolean;
  socketActivation?: boolean;
  caddy?: boolean;
  domain?: string;
  port: number;
  config?: string;
  user?: string;
  group?: string;
  bin?: string;
  node?: string;
  root: string;
  caddyfile: string;
  serveArgs?: string;
  force?: boolean;
}

/** The config file the unit will use, as a path on the target system. */
function resolveConfigTarget(flag: string | undefined, root: string): string {
  const cwd = process.cwd();
  if (flag) return path.resolve(cwd, flag);
  const fromEnv = process.env[CONFIG_ENV_VAR];
  if (fromEnv) return path.resolve(cwd, fromEnv);
  if (root === '/') {
    try {
      return findConfigFile({ cwd, env: {} });
    } catch {
      // none nearby: the conventional place
    }
  }
  return DEFAULT_CONFIG_PATH;
}

/** data_dir of the config, if it can be read now (only for messages: install never touches it). */
function inspectConfig(root: string, configFile: string, warnings: string[]): string | undefined {
  const hostFile = underRoot(root, configFile);
  if (!fs.existsSync(hostFile)) {
    warnings.push(`${configFile} does not exist yet: create it before starting the service (ten init --output ${configFile})`);
    return undefined;
  }
  try {
    const dataDir = loadConfig(hostFile).config.settings.data_dir;
    return targetPath(root, dataDir) ?? dataDir;
  } catch (err) {
    if (err instanceof ConfigError) {
      warnings.push(`${configFile} is not valid yet (the service will not start until it is):\n${err.issues.map((i) => `    ${formatIssue(i)}`).join('\n')}`);
      return undefined;
    }
    throw err;
  }
}

function parseServeArgs(text: string | undefined, opts: { caddy: boolean }): string[] {
  if (text === undefined || text.trim() === '') return [];
  const parsed = shellParse(text);
  const args: string[] = [];
  for (const p of parsed) {
    if (typeof p !== 'string') throw new Error(`--serve-args: only plain arguments, no shell operators or globs: ${text}`);
    args.push(p);
  }
  const own: Record<string, string> = { '--port': '--port', '-p': '--port', '--config': '--config', '-c': '--config' };
  if (opts.caddy) own['--caddy-admin'] = '--caddy';
  for (const a of args) {
    const name = a.split('=')[0]!;
    if (own[name]) throw new Error(`--serve-args: ${name} is set by ten install itself; use its ${own[name]} option`);
  }
  return args;
}

function actionLabel(action: string): string {
  return action === 'create' ? 'new' : action === 'replace' ? 'replaces the earlier install' : 'unchanged';
}

function printDryRun(root: string, check: InstallCheck, manifest: Manifest): void {
  print(`# ten install --dry-run: nothing is written.${root === '/' ? '' : ` (--root ${root})`} These files would be:`);
  for (const s of check.steps) {
    print('');
    print(`==> ${s.hostPath} (${actionLabel(s.action)}) <==`);
    process.stdout.write(s.file.content);
  }
  print('');
  print(`==> ${underRoot(root, MANIFEST_PATH)} (what uninstall removes) <==`);
  process.stdout.write(serializeManifest(manifest));
  for (const s of check.stale) {
    print('');
    print(
      `# ${s.hostPath}: ${s.action === 'remove' ? 'would be removed (no longer part of the install)' : s.action === 'gone' ? 'listed by the earlier install, already gone' : 'from the earlier install, changed by hand: would be kept'}`,
    );
  }
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('write a systemd unit for `ten serve` (tenants survive its restarts), optionally a .socket unit and a Caddyfile; --dry-run prints them')
    .option('--dry-run', 'print every file that would be written (path and content) and write nothing')
    .option('--socket-activation', `also write ${SOCKET_NAME}: systemd holds the controller's socket, so connections queue while it restarts`)
    .option('--caddy', `also write a Caddyfile from Caddyfile.example for --domain (Caddy runs as caddy.service; the controller uses its admin socket)`)
    .option('-d, --domain <domain>', 'domain tenants are served under (ten serve --domain); required with --caddy')
    .option('-p, --port <port>', "the controller's port (ten serve --port)", parsePort, 8080)
    .option('-c, --config <file>', `config file the service uses (default: $${CONFIG_ENV_VAR}, else tenement.toml upwards from here, else ${DEFAULT_CONFIG_PATH})`)
    .option('--user <user>', 'run the controller as this user (default: root, which gives every tenant its own unprivileged uid; with --user tenants run as that user)')
    .option('--group <group>', "with --user: this group instead of the user's own")
    .option('--bin <path>', 'the `ten` the service runs (default: this one)')
    .option('--node <path>', 'node binary for a `ten` that is a Node script (default: the node running this)')
    .option('--caddyfile <path>', 'where --caddy writes the Caddyfile', DEFAULT_CADDYFILE_PATH)
    .option('--serve-args <args>', 'more arguments for `ten serve`, as one string, e.g. "--http-host 0.0.0.0 --http-port 80"')
    .option('--root <dir>', 'write everything under this folder instead of / (for images and tests); systemctl is not run', '/')
    .option('--force', 'replace files of an earlier install even if they were changed by hand (never files install did not write)')
    .action((opts: InstallOptions) => {
      const ui = say();
      const root = path.resolve(opts.root);
      const dryRun = opts.dryRun === true;
      const caddy = opts.caddy === true;
      const socketActivation = opts.socketActivation === true;
      const warnings: string[] = [];

      if (opts.group !== undefined && opts.user === undefined) throw new Error('--group needs --user');
      for (const [flag, name] of [
        ['--user', opts.user],
        ['--group', opts.group],
      ] as const) {
        if (name !== undefined && !isValidAccountName(name)) throw new Error(`${flag} ${JSON.stringify(name)} is not a valid name`);
      }
      const domain = opts.domain === undefined ? undefined : normalizeDomain(opts.domain);
      if (caddy && !domain) throw new Error('--caddy needs --domain: the Caddyfile serves that domain and its subdomains');
      if (caddy && opts.user !== undefined && opts.user !== 'root' && opts.user !== 'caddy') {
        warnings.push(
          `with --caddy the controller needs Caddy's admin socket (${CADDY_ADMIN_SOCKET}) and access log, which only root and Caddy's user can use: ` +
            `--user ${opts.user} will not reach them (run as root or --user caddy)`,
        );
      }
      const caddyfilePath = path.resolve(opts.caddyfile);
      const configFile = resolveConfigTarget(opts.config, root);
      const ten = resolveTenProgram({ bin: opts.bin, node: opts.node, root, cwd: process.cwd(), argv1: process.argv[1], execPath: process.execPath });
      warnings.push(...ten.warnings);
      const dataDir = inspectConfig(root, configFile, warnings);
      if (!domain && !caddy) warnings.push("no --domain: the controller serves tenants under `localhost` (ten serve's default)");

      const request: InstallRequest = {
        version: VERSION,
        ten: ten.argv,
        port: opts.port,
        domain,
        configFile,
        user: opts.user,
        group: opts.group,
        socketActivation,
        caddy,
        caddyfilePath,
        caddyfileTemplate: caddy ? readCaddyfileExample() : undefined,
        serveExtra: parseServeArgs(opts.serveArgs, { caddy }),
      };
      const files = planInstall(request);
      const previous = readManifest(root);
      const check = checkInstall(root, files, previous, { force: opts.force === true });
      const manifest = buildManifest(check, previous, {
        version: VERSION,
        command: quote(['ten', ...process.argv.slice(2)]),
        installedAt: new Date().toISOString(),
        kept: { config: configFile, dataDir },
      });

      for (const w of warnings) ui.warn(w);
      if (dryRun) {
        printDryRun(root, check, manifest);
        if (check.conflicts.length > 0) {
          for (const c of check.conflicts) ui.error(c.message);
          throw new Error(`a real run would refuse (${check.conflicts.length} file${check.conflicts.length === 1 ? '' : 's'} in the way); nothing was written`);
        }
        ui.info('dry run: nothing was written');
        return;
      }
      if (check.conflicts.length > 0) {
        for (const c of check.conflicts) ui.error(c.message);
        throw new Error('nothing was written');
      }
      const writes = [
        ...check.steps.filter((s) => s.action !== 'unchanged').map((s) => s.file.path),
        ...check.stale.filter((s) => s.action === 'remove').map((s) => s.entry.path),
        MANIFEST_PATH,
      ];
      const blocked = unwritableDirs(root, writes);
      if (blocked.length > 0) {
        throw new Error(`cannot write to ${blocked.join(', ')} (permission denied): run it as root (sudo ten install ...), or preview with --dry-run; nothing was written`);
      }

      const systemd = systemdAvailability({ root, dryRun });
      const droppedSocket = check.stale.find((s) => s.entry.role === 'socket' && s.action === 'remove');
      if (droppedSocket && systemd.ok) {
        const res = runSystemctl(systemd.systemctl, ['disable', SOCKET_NAME]);
        if (!res.ok) ui.warn(`systemctl disable ${SOCKET_NAME} failed: ${res.output}`);
      }
      applyInstall(root, check, manifest);

      for (const s of check.steps) ui.success(`${s.action === 'unchanged' ? 'unchanged' : s.action === 'create' ? 'wrote' : 'replaced'} ${s.hostPath}`);
      for (const s of check.stale) {
        if (s.action === 'remove') ui.success(`removed ${s.hostPath} (no longer part of the install)`);
        if (s.action === 'keep-modified') ui.warn(`kept ${s.hostPath}: it is no longer part of the install but was changed by hand (ten uninstall --force removes it)`);
      }
      ui.info(`recorded in ${underRoot(root, MANIFEST_PATH)} (ten uninstall removes exactly these files)`);
      ui.info(`the service runs: ${serveCommandText(request)}   (config: ${configFile}${dataDir ? `, data: ${dataDir}` : ''})`);

      const unitsChanged = check.steps.some((s) => s.action !== 'unchanged' && s.file.role !== 'caddyfile') || check.stale.some((s) => s.action === 'remove');
      let reloaded = false;
      if (unitsChanged && systemd.ok) {
        const res = runSystemctl(systemd.systemctl, ['daemon-reload']);
        if (res.ok) {
          reloaded = true;
          ui.success('systemctl daemon-reload');
        } else ui.warn(`systemctl daemon-reload failed: ${res.output}`);
      } else if (unitsChanged) {
        ui.info(`not running systemctl (${systemd.ok ? '' : systemd.why})`);
      }

      const next: string[] = [];
      if (unitsChanged && !reloaded && root === '/') next.push('systemctl daemon-reload');
      if (caddy) next.push('systemctl restart caddy            # loads the new Caddyfile (and /run/caddy for its admin socket)');
      const wasInstalled = previous?.files.some((f) => f.role === 'service') === true;
      if (wasInstalled) {
        next.push(`systemctl restart tenement         # applies the new unit; tenants keep running`);
        if (droppedSocket) next.push(`systemctl stop ${SOCKET_NAME}      # the controller binds its port itself from now on`);
        if (socketActivation && !previous?.files.some((f) => f.role === 'socket')) next.push(`systemctl enable ${SOCKET_NAME}`);
      } else {
        next.push(`systemctl enable --now tenement    # starts now and at boot${socketActivation ? ` (with ${SOCKET_NAME})` : ''}`);
      }
      next.push('systemctl status tenement; journalctl -u tenement -f');
      if (root !== '/') ui.info(`installed under ${root}; on the target system, next:`);
      else ui.info('next:');
      for (const n of next) process.stderr.write(`  ${n}\n`);
      if (opts.user === undefined) {
        ui.info('tenants run under uids of their own (uid_range_start..uid_range_end), never as root; `ten config` shows what isolation this host gives');
      } else {
        ui.info(
          `the controller and its tenants run as ${opts.user}: it must be able to read ${configFile} and ${ten.argv.join(', ')}, and own ${dataDir ?? 'the data_dir'} (chown -R ${opts.user}: ${dataDir ?? 'DATA_DIR'})`,
        );
      }
    });
}
