import type { Command } from 'commander';
import { consola } from 'consola';
import { loadConfig } from '../../config/load.js';
import { formatIssue } from '../../config/errors.js';
import { renderEffectiveConfig } from '../../config/effective.js';
import { resolveConfigFile } from '../config-file.js';

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
      if (!opts.quiet) {
        process.stdout.write(`# effective config of ${file}\n`);
        process.stdout.write(renderEffectiveConfig(config, { comments: opts.comments }));
      }
    });
}
