// `{data_dir}/admin.token`: where `ten token-gen` leaves the admin token so that local `ten`
// commands run by the same operator find it without --token. Readable by its owner only.
import fs from 'node:fs';
import path from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin.token';

export function adminTokenPath(dataDir: string): string {
  return path.join(dataDir, ADMIN_TOKEN_FILE);
}

/** Writes the token with mode 0600, replacing an older file atomically (never a moment of wider mode). */
export function writeAdminTokenFile(dataDir: string, token: string): string {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = adminTokenPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'w' });
  fs.chmodSync(tmp, 0o600); // the umask cannot widen it, but an existing tmp file keeps its mode
  fs.renameSync(tmp, file);
  return file;
}

/** The token in the file, or undefined if there is no file. */
export function readAdminTokenFile(dataDir: string): string | undefined {
  try {
    const text = fs.readFileSync(adminTokenPath(dataDir), 'utf8').trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${adminTokenPath(dataDir)}: ${(err as Error).message}`, { cause: err });
  }
}
