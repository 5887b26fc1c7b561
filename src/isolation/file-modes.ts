// The controller's own files in the data dir are its user's alone: the database (and its WAL),
// tokens, the wake key, Caddy's config (which holds the wake key), the logs. The data root itself
// is 0711: instances under "process" isolation walk through it to their DATA_DIR, but nobody but
// the controller can list it. Applied at every start, so data dirs written by older versions are
// tightened too.
import fs from 'node:fs';
import path from 'node:path';

const PRIVATE_FILE = 0o600;
const PRIVATE_DIR = 0o700;

function chmod(p: string, mode: number): void {
  try {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o7777) !== mode) fs.chmodSync(p, mode);
  } catch {
    // absent: created later with its mode
  }
}

function privateTree(dir: string): void {
  chmod(dir, PRIVATE_DIR);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) privateTree(p);
    else if (e.isFile()) chmod(p, PRIVATE_FILE);
  }
}

export function tightenDataDir(dataDir: string): void {
  chmod(dataDir, 0o711);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dataDir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dataDir, e.name);
    if (e.isFile())
      chmod(p, PRIVATE_FILE); // tenement.db*, backups, admin.token, controller.lock
    else if (e.name === '_logs' || e.name === '_caddy') privateTree(p);
    else if (e.name === '_run') {
      // gates/ stays readable: an external Caddy running as another user stats the gate files.
      chmod(p, 0o711);
      for (const f of ['wake.key', 'upgrade-request.json', 'upgrade-result.json']) chmod(path.join(p, f), PRIVATE_FILE);
    } else if (e.isDirectory() && !e.name.startsWith('_')) chmod(p, 0o711); // a service folder
  }
}
