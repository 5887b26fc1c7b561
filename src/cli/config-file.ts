import { findConfigFile } from '../config/find.js';

/** The config file a command uses: --config, else $TENEMENT_CONFIG, else tenement.toml upwards from the cwd. */
export function resolveConfigFile(flag: string | undefined): string {
  return findConfigFile({ flag, env: process.env, cwd: process.cwd() });
}
