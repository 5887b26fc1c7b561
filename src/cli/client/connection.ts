// Where the client finds the server and its token:
//   server: --server, else $TENEMENT_SERVER, else http://127.0.0.1:8080
//   token:  --token, else $TENEMENT_TOKEN, else {data_dir}/admin.token, else {data_dir}/api_token
//           (where tenement 0.2's `ten token-gen` saved it), with data_dir from --data-dir, else
//           $TENEMENT_DATA_DIR, else the config file found like every other command (if any).
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { readAdminTokenFile, adminTokenPath } from '../../auth/admin-token-file.js';
import { findConfigFile } from '../../config/find.js';
import { loadConfig } from '../../config/load.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export interface ConnectionFlags {
  server?: string | undefined;
  token?: string | undefined;
  dataDir?: string | undefined;
  config?: string | undefined;
}

export interface Connection {
  server: string;
  token: string;
}

/** Adds --server, --token, --data-dir and --config to a client command. */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', `tenement server (default: $TENEMENT_SERVER, else ${DEFAULT_SERVER})`)
    .option('--token <token>', 'API token (default: $TENEMENT_TOKEN, else {data_dir}/admin.token)')
    .option('--data-dir <dir>', 'data dir whose admin.token to use (default: $TENEMENT_DATA_DIR, else settings.data_dir of the config)')
    .option('-c, --config <file>', 'config file whose data_dir holds admin.token (default: $TENEMENT_CONFIG, else tenement.toml found upwards)');
}

export function resolveServer(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): string {
  const raw = flags.server ?? (env.TENEMENT_SERVER || undefined) ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new Error(`"${raw}" is not a server URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`server URL must be http or https, got ${raw}`);
  return url.toString().replace(/\/+$/, '');
}

/** The data dir whose admin.token applies, or undefined when neither --data-dir nor a usable config says. */
export function resolveDataDir(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (flags.dataDir) return flags.dataDir;
  if (env.TENEMENT_DATA_DIR) return env.TENEMENT_DATA_DIR;
  try {
    const file = findConfigFile({ flag: flags.config, env, cwd });
    return loadConfig(file).config.settings.data_dir;
  } catch (err) {
    // An explicit --config that cannot be used is an error; an absent tenement.toml just means
    // the token must come from elsewhere.
    if (flags.config) throw err;
    return undefined;
  }
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const server = resolveServer(flags, env);
  const explicit = flags.token ?? (env.TENEMENT_TOKEN || undefined);
  if (explicit !== undefined) {
    if (explicit.trim() === '') throw new Error('the API token is empty');
    return { server, token: explicit.trim() };
  }
  const dataDir = resolveDataDir(flags, env);
  const fromFile = dataDir ? (readAdminTokenFile(dataDir) ?? readOriginalTokenFile(dataDir)) : undefined;
  if (fromFile) return { server, token: fromFile };
  throw new Error(
    'no API token: pass --token, set TENEMENT_TOKEN, or create an admin token with `ten token-gen` on the server' +
      (dataDir ? ` (looked for ${adminTokenPath(dataDir)})` : ' (no tenement.toml found and no --data-dir given, so no admin.token to read)'),
  );
}

/** `{data_dir}/api_token`: the token file of tenement 0.2 (plain token, no newline). */
export const ORIGINAL_TOKEN_FILE = 'api_token';

function readOriginalTokenFile(dataDir: string): string | undefined {
  try {
    const text = fs.readFileSync(path.join(dataDir, ORIGINAL_TOKEN_FILE), 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}
