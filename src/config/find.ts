// Which tenement.toml a command uses: --config, else $TENEMENT_CONFIG, else the nearest one upwards
// from the current folder (the original only walked up, which surprises anyone running from elsewhere).
import fs from 'node:fs';
import path from 'node:path';

export const CONFIG_FILE_NAME = 'tenement.toml';
export const CONFIG_ENV_VAR = 'TENEMENT_CONFIG';

export interface FindConfigOptions {
  /** Value of --config, if given. */
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd: string;
}

/** Thrown when no config file can be found; `searched` lists every path that was tried. */
export class ConfigNotFoundError extends Error {
  readonly searched: string[];
  constructor(message: string, searched: string[]) {
    super(message);
    this.name = 'ConfigNotFoundError';
    this.searched = searched;
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function explicit(given: string, cwd: string, source: string): string {
  const file = path.resolve(cwd, given);
  if (isFile(file)) return file;
  let why = 'does not exist';
  try {
    if (fs.statSync(file).isDirectory()) {
      const inside = path.join(file, CONFIG_FILE_NAME);
      why = `is a folder, not a file${isFile(inside) ? ` (did you mean ${inside}?)` : ''}`;
    }
  } catch {
    // Missing: keep "does not exist".
  }
  throw new ConfigNotFoundError(`${source} names ${file}, which ${why}. Create it with \`ten init\` or point ${source} at an existing file.`, [file]);
}

/** Absolute path of the config file to use; throws ConfigNotFoundError explaining what was tried. */
export function findConfigFile(options: FindConfigOptions): string {
  const cwd = path.resolve(options.cwd);
  if (options.flag !== undefined && options.flag !== '') return explicit(options.flag, cwd, '--config');
  const fromEnv = options.env?.[CONFIG_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') return explicit(fromEnv, cwd, CONFIG_ENV_VAR);

  const searched: string[] = [];
  for (let dir = cwd; ;) {
    const candidate = path.join(dir, CONFIG_FILE_NAME);
    searched.push(candidate);
    if (isFile(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new ConfigNotFoundError(
    `No ${CONFIG_FILE_NAME} found in ${cwd} or any folder above it (looked at ${searched.length} places, up to ${searched[searched.length - 1]}). ` +
      `Create one here with \`ten init\`, or use --config FILE or ${CONFIG_ENV_VAR}=FILE.`,
    searched,
  );
}
