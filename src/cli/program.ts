// The `ten` command line: one module per command under ./commands, registered here.
import { Command, CommanderError } from 'commander';
import { consola } from 'consola';
import { ConfigError, formatIssue } from '../config/errors.js';
import { PRODUCT, VERSION } from '../version.js';
import { registerServe } from './commands/serve.js';
import { registerDown } from './commands/down.js';
import { registerConfig } from './commands/config.js';
import { registerInit } from './commands/init.js';
import { registerUpgrade } from './commands/upgrade.js';
import { registerSpawn } from './commands/spawn.js';
import { registerStop } from './commands/stop.js';
import { registerRestart } from './commands/restart.js';
import { registerWake } from './commands/wake.js';
import { registerPs } from './commands/ps.js';
import { registerHealth } from './commands/health.js';
import { registerWeight } from './commands/weight.js';
import { registerDeploy } from './commands/deploy.js';
import { registerRoute } from './commands/route.js';
import { registerRoll } from './commands/roll.js';
import { registerLogs } from './commands/logs.js';
import { registerToken, registerTokenGen } from './commands/token.js';
import { registerInstall } from './commands/install.js';
import { registerUninstall } from './commands/uninstall.js';
import { terminalSafe } from './client/terminal-safe.js';
import { registerBackup } from './commands/backup.js';
import { registerCaddy } from './commands/caddy.js';
import { addGlobalOptions } from './global-options.js';

export function buildProgram(): Command {
  const program = new Command('ten')
    .description('tenement: one process per customer, with Caddy in front')
    .version(`${PRODUCT} ${VERSION}`, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  addGlobalOptions(program);
  registerServe(program);
  registerDown(program);
  registerConfig(program);
  registerInit(program);
  registerUpgrade(program);
  registerSpawn(program);
  registerStop(program);
  registerRestart(program);
  registerWake(program);
  registerPs(program);
  registerHealth(program);
  registerWeight(program);
  registerDeploy(program);
  registerRoute(program);
  registerRoll(program);
  registerLogs(program);
  registerTokenGen(program);
  registerToken(program);
  registerInstall(program);
  registerUninstall(program);
  registerBackup(program);
  registerCaddy(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code (so tests can call it in-process). */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version land here with exit code 0; usage errors were already printed.
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      consola.error(`invalid config (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):`);
      for (const issue of err.issues) process.stderr.write(`  ${formatIssue(issue)}\n`);
      return 2;
    }
    // Messages may quote tenant output (last_error): shown escaped, line by line.
    consola.error((err as Error).message.split('\n').map(terminalSafe).join('\n'));
    return 1;
  }
}
