// The secret Caddy's wake routes present to the controller. Kept in the data dir so it is the same
// after a controller restart: otherwise every restart would change Caddy's config (a reload).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function loadWakeKey(dataDir: string): string {
  const file = path.join(dataDir, '_run', 'wake.key');
  try {
    const key = fs.readFileSync(file, 'utf8').trim();
    if (key.length >= 32) return key;
  } catch {
    // first start
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const key = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, key, { mode: 0o600 });
  return key;
}
