// A look at the database without changing it: can this version of tenement use it? Used before a
// handover, while the running controller still owns the data dir.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CURRENT_SCHEMA_VERSION } from './migrations.js';
import { DB_FILE, listBackups } from './database.js';

export function checkSchemaCompatible(dataDir: string): void {
  const file = path.join(dataDir, DB_FILE);
  if (!fs.existsSync(file)) return;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const found = db.pragma('user_version', { simple: true }) as number;
    if (found > CURRENT_SCHEMA_VERSION) {
      const backup = listBackups(dataDir).find((b) => b.version <= CURRENT_SCHEMA_VERSION);
      throw new Error(
        `database ${file} has schema version ${found}, this tenement supports up to ${CURRENT_SCHEMA_VERSION}` +
          (backup ? `; to go back, stop tenement and restore ${backup.path}` : ''),
      );
    }
  } finally {
    db.close();
  }
}
