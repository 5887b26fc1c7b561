import path from 'node:path';
import type { Command } from 'commander';
import { applyUninstall, checkUninstall, unwritableDirs } from '../../install/apply.js';
import { readManifest } from '../../install/manifest.js';
import { MANIFEST_PATH, SERVICE_NAME, SOCKET_NAME, underRoot } from '../../install/paths.js';
import { runSystemctl, systemdAvailability } from '../../install/systemctl.js';
import { say } from '../client/output.js';

interface UninstallOptions {
  root: string;
  dryRun?: boolean;
  force?: boolean;
}

export function registerUninstall(program: Command): void {
  program
    .command('uninstall')
    .description('remove what `ten install` wrote (files changed by hand are kept unless --force); config, data and tenants are left alone')
    .option('--dry-run', 'say what would be removed and kept, and change nothing')
    .option('--force', 'also remove files of the install that were changed by hand')
    .option('--root <dir>', 'the folder ten install was given with --root', '/')
    .action((opts: UninstallOptions) => {
      const ui = say();
      const root = path.resolve(opts.root);
      const dryRun = opts.dryRun === true;
      const manifestFile = underRoot(root, MANIFEST_PATH);
      const manifest = readManifest(root);
      if (!manifest) {
        ui.info(`nothing to uninstall: there is no ${manifestFile} (ten install writes it, listing what it wrote)`);
        return;
      }
      const check = checkUninstall(root, manifest, { force: opts.force === true });
      const would = dryRun ? 'would remove' : 'removed';

      if (dryRun) {
        for (const s of check.remove) ui.info(`${would} ${s.hostPath}`);
        for (const s of check.modified) ui.warn(`would keep ${s.hostPath}: changed since ten install wrote it (--force removes it)`);
        for (const s of check.missing) ui.info(`${s.hostPath} is already gone`);
        ui.info(`${check.modified.length > 0 ? 'would keep' : would} ${manifestFile}`);
      } else {
        const blocked = unwritableDirs(root, [...check.remove.map((s) => s.entry.path), MANIFEST_PATH]);
        if (blocked.length > 0) throw new Error(`cannot write to ${blocked.join(', ')} (permission denied): run it as root (sudo ten uninstall); nothing was removed`);

        // Stop and disable units before their files go, or systemd is left with enabled links to nothing.
        const systemd = systemdAvailability({ root, dryRun });
        const units = check.remove.filter((s) => s.entry.role === 'socket' || s.entry.role === 'service').map((s) => path.posix.basename(s.entry.path));
        if (units.length > 0 && systemd.ok) {
          // The controller gets SIGTERM (KillMode=process): tenants and a managed Caddy keep running.
          const res = runSystemctl(systemd.systemctl, ['disable', '--now', ...units]);
          if (res.ok) ui.success(`systemctl disable --now ${units.join(' ')}`);
          else ui.warn(`systemctl disable --now ${units.join(' ')} failed: ${res.output}`);
        }
        const result = applyUninstall(root, manifest, check);
        for (const s of check.remove) ui.success(`removed ${s.hostPath}`);
        for (const s of check.modified) ui.warn(`kept ${s.hostPath}: changed since ten install wrote it (ten uninstall --force removes it)`);
        for (const s of check.missing) ui.info(`${s.hostPath} was already gone`);
        if (result.manifestKept) ui.info(`kept ${manifestFile}, now listing only the kept files`);
        else ui.success(`removed ${manifestFile}`);
        for (const d of result.removedDirs) ui.success(`removed the empty folder ${underRoot(root, d)} (install had created it)`);
        const anyUnit = check.remove.some((s) => s.entry.role !== 'caddyfile');
        if (anyUnit && systemd.ok) {
          const res = runSystemctl(systemd.systemctl, ['daemon-reload']);
          if (res.ok) ui.success('systemctl daemon-reload');
          else ui.warn(`systemctl daemon-reload failed: ${res.output}`);
        } else if (anyUnit && root === '/') {
          ui.info(`run \`systemctl disable --now ${SOCKET_NAME} ${SERVICE_NAME}; systemctl daemon-reload\` if systemd still knows the units (${systemd.ok ? '' : systemd.why})`);
        }
        if (check.remove.some((s) => s.entry.role === 'caddyfile')) {
          ui.info('Caddy keeps running with the removed Caddyfile until it restarts: put your own Caddyfile back first (e.g. the .orig you moved away)');
        }
      }

      const kept = [
        `the config ${manifest.kept.config}`,
        manifest.kept.dataDir ? `the data dir ${manifest.kept.dataDir} (database, tenant data, logs)` : 'the data dir (database, tenant data, logs)',
      ];
      ui.info(`${dryRun ? 'would keep' : 'kept'}, untouched: ${kept.join(' and ')}.`);
      ui.info('Tenant processes (and a managed Caddy) keep running if they were: uninstall never stops them. ' + `To stop them: ten down --config ${manifest.kept.config}`);
    });
}
