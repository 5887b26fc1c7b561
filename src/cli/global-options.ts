// The original `ten` took --server, --token and --data-dir (and TENEMENT_DATA_DIR) as global
// options, before or after the command: `ten --server X ps` and `ten ps --server X` both work.
// Commander gives an option the program declares to the program wherever it appears, so before
// each action the values are handed down to the command, if it has that option and was not given
// it itself. TENEMENT_DATA_DIR fills --data-dir last (flags win over the environment, as before).
import type { Command } from 'commander';

const GLOBAL = ['server', 'token', 'dataDir'] as const;

export function addGlobalOptions(program: Command): void {
  program
    .option('--server <url>', 'tenement server for client commands (default: $TENEMENT_SERVER, else http://127.0.0.1:8080)')
    .option('--token <token>', 'API token for client commands (default: $TENEMENT_TOKEN, else the token file in the data dir)')
    .option('--data-dir <dir>', 'data dir (default: $TENEMENT_DATA_DIR, else settings.data_dir of the config)');
  program.hook('preAction', (_program, action) => {
    for (const name of GLOBAL) {
      if (!action.options.some((o) => o.attributeName() === name)) continue;
      if (action.getOptionValue(name) !== undefined) continue;
      const value: unknown = program.getOptionValue(name) ?? (name === 'dataDir' ? process.env.TENEMENT_DATA_DIR || undefined : undefined);
      if (value !== undefined) action.setOptionValue(name, value);
    }
  });
}
