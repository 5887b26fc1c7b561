import type { Command } from 'commander';
import { consola } from 'consola';
import { loadConfig } from '../../config/load.js';
import { formatIssue } from '../../config/errors.js';
import { renderEffectiveConfig } from '../../config/effective.js';
import { resolveConfigFile } from '../config-file.js';
import { checkIsolation } from '../../isolation/config-check.js';
import { detectHost } from '../../isolation/host.js';

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('validate the config and print it with every default filled in (exit 0 when valid)')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('--quiet', 'only validate; print nothing when valid')
    .option('--no-comments', 'leave out the one-line description above each key')
    .action((opts: { config?: string; quiet?: boolean; comments: boolean }) => {
      const file = resolveConfigFile(opts.config);
      const { config, warnings } = loadConfig(file);
      for (const w of warnings) consola.warn(formatIssue(w));
      const iso = checkIsolation(config, detectHost());
      for (const p of iso.problems) consola.warn(p);
      if (!opts.quiet) {
        process.stdout.write(`# effective config of ${file}\n`);
        process.stdout.write(renderEffectiveConfig(config, { comments: opts.comments }));
        // What instances get on this host (docs/isolation.md), as comments so the output stays valid TOML.
        process.stdout.write('\n# isolation on this host:\n');
        for (const g of iso.given) process.stdout.write(`#   given: ${g}\n`);
        for (const m of iso.missing) process.stdout.write(`#   NOT given: ${m}\n`);
      }
    });
}
