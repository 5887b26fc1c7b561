// Deleting an instance's data folder (`ten stop` with storage_persist = false).
import fs from 'node:fs';
import path from 'node:path';
import type { InstanceKey } from '../util/instance-key.js';
import { instancePaths } from './layout.js';

/** Deletes `{data_dir}/{service}/{id}`; returns the folder deleted. */
export function removeInstanceDir(dataDir: string, key: InstanceKey): string {
  const dir = instancePaths(dataDir, key.service, key.id).instanceDir;
  // The id and service are validated DNS labels, but deleting is the one place to be paranoid.
  const expectedParent = path.join(dataDir, key.service);
  if (path.dirname(dir) !== expectedParent || path.basename(dir) !== key.id) {
    throw new Error(`refusing to delete ${dir}: not an instance directory under ${dataDir}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return dir;
}
