// Signs that a data dir has been used by a controller before. An empty or missing tenement.db in
// such a dir is not a fresh install but a lost database (truncated, deleted, a bad restore):
// starting on it would forget every token and audit entry, lose track of running tenants and
// spawn the declared instances a second time next to them, sharing their data dirs (issue 11 #3).
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN_FILE } from '../auth/admin-token-file.js';

function nonEmptyDir(p: string): boolean {
  try {
    return fs.readdirSync(p).length > 0;
  } catch {
    return false;
  }
}

/** What in `dir` shows a previous life, one short phrase per sign; empty for a fresh dir. */
export function previousLifeSigns(dir: string, backups: readonly string[]): string[] {
  const signs: string[] = [];
  if (backups.length > 0) signs.push(`${backups.length} database backup${backups.length === 1 ? '' : 's'}`);
  if (nonEmptyDir(path.join(dir, '_logs'))) signs.push('captured logs in _logs/');
  if (fs.existsSync(path.join(dir, '_run', 'wake.key'))) signs.push('a wake key in _run/');
  if (nonEmptyDir(path.join(dir, '_caddy'))) signs.push('managed Caddy state in _caddy/');
  if (fs.existsSync(path.join(dir, ADMIN_TOKEN_FILE))) signs.push(`an ${ADMIN_TOKEN_FILE} file`);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    // no dir, no life
  }
  // Tenement's own folders start with '_'; any other folder is a service's instance data.
  const services = entries.filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.')).map((e) => e.name);
  if (services.length > 0)
    signs.push(
      `instance data of ${services
        .slice(0, 5)
        .map((s) => `${s}/`)
        .join(', ')}${services.length > 5 ? ', ...' : ''}`,
    );
  return signs;
}
