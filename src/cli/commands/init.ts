import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { consola } from 'consola';
import { starterConfig } from '../../config/starter.js';
import { CONFIG_FILE_NAME } from '../../config/find.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(`write a starter ${CONFIG_FILE_NAME} (never overwrites an existing one)`)
    .option('-n, --name <name>', 'service name (a DNS label)', 'app')
    .option('--command <command>', 'command that starts one instance (gets $PORT)', 'node server.js')
    .option('-o, --output <file>', 'where to write it', CONFIG_FILE_NAME)
    .action((opts: { name: string; command: string; output: string }) => {
      const file = path.resolve(opts.output);
      const text = starterConfig({ name: opts.name, command: opts.command });
      try {
        // 'wx': refuse atomically if the file appeared meanwhile.
        fs.writeFileSync(file, text, { flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new Error(`${file} already exists; not overwriting it (remove it first, or use --output for another file)`, { cause: err });
        }
        throw err;
      }
      consola.success(`wrote ${file}`);
      consola.info(`next: ten config --config ${opts.output}   (check it), then ten serve --config ${opts.output}`);
    });
}
