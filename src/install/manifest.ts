// The record of what `ten install` wrote: each file with the SHA-256 of the content it wrote, and
// the folders it had to create. Uninstall removes exactly those files (while unchanged) and
// those folders (while empty); a later install may replace them (while unchanged).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { MANIFEST_PATH, underRoot } from './paths.js';

export type FileRole = 'service' | 'socket' | 'caddy-drop-in' | 'caddyfile';

export interface ManifestFile {
  /** Path on the target system (without --root). */
  path: string;
  sha256: string;
  role: FileRole;
}

export interface Manifest {
  format: 1;
  writtenBy: string;
  installedAt: string;
  /** The install command line, for humans. */
  command: string;
  files: ManifestFile[];
  /** Folders install created, so that uninstall can remove them again when empty. */
  createdDirs: string[];
  /** What install never touches, named so that uninstall can say it was kept. */
  kept: { config: string; dataDir?: string | undefined };
}

export function sha256(content: string | Buffer): string {
  return crypto.createHash('sha256').update(content).digest('hex');
}

export function fileHash(hostPath: string): string | undefined {
  try {
    return sha256(fs.readFileSync(hostPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

function isManifest(v: unknown): v is Manifest {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Partial<Manifest>;
  return (
    m.format === 1 &&
    Array.isArray(m.files) &&
    m.files.every((f) => typeof f?.path === 'string' && f.path.startsWith('/') && typeof f.sha256 === 'string') &&
    Array.isArray(m.createdDirs) &&
    m.createdDirs.every((d) => typeof d === 'string' && d.startsWith('/'))
  );
}

/** The manifest under `root`, undefined when there is none; throws when it exists but is unusable. */
export function readManifest(root: string): Manifest | undefined {
  const file = underRoot(root, MANIFEST_PATH);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`the install manifest ${file} is not valid JSON (${(err as Error).message}); repair it, or remove it and the files it listed by hand`, { cause: err });
  }
  if (!isManifest(parsed)) {
    throw new Error(`the install manifest ${file} is not one this version of ten understands; repair it, or remove it and the files it listed by hand`);
  }
  return parsed;
}
