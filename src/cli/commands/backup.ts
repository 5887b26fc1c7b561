// `ten backup`: a consistent copy of a live tenement.db (SQLite's online backup API, through
// better-sqlite3's db.backup: pages are copied while the controller keeps writing, and the copy is
// one point in time). Tenants' own data ({data_dir}/{service}/{id}) is theirs to back up: see
// docs/upgrading.md.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { DB_FILE } from '../../store/database.js';
import { resolveDataDir } from '../client/connection.js';
import { printJson, say } from '../client/output.js';

interface BackupFlags {
  dataDir?: string;
  config?: string;
  output?: string;
  json?: boolean;
}

function stamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** Copies `{dataDir}/tenement.db` to `target` with the online backup API; returns the page count. */
export async function backupDatabase(dataDir: string, target: string): Promise<{ file: string; bytes: number }> {
  const source = path.join(dataDir, DB_FILE);
  if (!fs.existsSync(source)) throw new Error(`no database at ${source}: is ${dataDir} a tenement data dir? (--data-dir or $TENEMENT_DATA_DIR)`);
  if (fs.existsSync(target)) throw new Error(`${target} exists; choose another --output (a backup never replaces a file)`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  // Not openDatabase(): a backup must never migrate. A read-write handle (WAL needs the -shm), no writes.
  const db = new Database(source, { fileMustExist: true });
  const partial = `${target}.partial`;
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(partial);
  } finally {
    db.close();
  }
  const check = new Database(partial, { readonly: true });
  try {
    const ok = check.pragma('quick_check', { simple: true });
    if (ok !== 'ok') throw new Error(`the copy failed its integrity check (${String(ok)}); ${partial} kept for inspection`);
  } finally {
    check.close();
  }
  fs.renameSync(partial, target);
  return { file: target, bytes: fs.statSync(target).size };
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description("copy the state database (tenement.db) consistently, even while the controller runs; tenants' data is not included")
    .option('--data-dir <dir>', 'data dir (default: $TENEMENT_DATA_DIR, else settings.data_dir of the config)')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('-o, --output <file>', 'where to write the copy (default: {data_dir}/backups/tenement-<UTC time>.db)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: BackupFlags) => {
      const dataDir = resolveDataDir(opts);
      if (!dataDir) throw new Error('no data dir: run this next to tenement.toml, or pass --config FILE or --data-dir DIR');
      const target = path.resolve(opts.output ?? path.join(dataDir, 'backups', `tenement-${stamp()}.db`));
      const result = await backupDatabase(dataDir, target);
      if (opts.json) printJson(result);
      else say().success(`backed up ${path.join(dataDir, DB_FILE)} to ${result.file} (${result.bytes} bytes)`);
    });
}
