// Comparing the plan with the disk, then writing it; and the reverse for uninstall. Every check
// runs before anything is written, so a refused install writes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { fileHash, serializeManifest, sha256, type FileRole, type Manifest, type ManifestFile } from './manifest.js';
import { MANIFEST_PATH, underRoot } from './paths.js';
import type { PlannedFile } from './plan.js';

export type FileAction = 'create' | 'replace' | 'unchanged';

export interface InstallStep {
  file: PlannedFile;
  hostPath: string;
  action: FileAction;
}

/** A file of the previous install that the new one does not write (e.g. the socket unit, dropped). */
export interface StaleStep {
  entry: ManifestFile;
  hostPath: string;
  action: 'remove' | 'keep-modified' | 'gone';
}

export interface Conflict {
  hostPath: string;
  kind: 'foreign' | 'modified';
  message: string;
}

export interface InstallCheck {
  steps: InstallStep[];
  stale: StaleStep[];
  conflicts: Conflict[];
  /** Folders that writing would create (target paths, parents first). */
  newDirs: string[];
}

type OnDisk = { state: 'missing' } | { state: 'file'; hash: string } | { state: 'other'; what: string };

function onDisk(hostPath: string): OnDisk {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(hostPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw err;
  }
  if (st.isSymbolicLink()) return { state: 'other', what: 'a symbolic link' };
  if (!st.isFile()) return { state: 'other', what: st.isDirectory() ? 'a folder' : 'not a regular file' };
  return { state: 'file', hash: fileHash(hostPath)! };
}

function foreignHint(role: FileRole): string {
  switch (role) {
    case 'caddyfile':
      return ', or let tenement write its Caddyfile elsewhere with --caddyfile PATH (and point Caddy at it)';
    case 'service':
    case 'socket':
      return ' (if it is a unit you wrote for tenement yourself, compare it with `ten install --dry-run` first)';
    default:
      return '';
  }
}

/** Target paths of the folders missing above `targetFile` under `root`, parents first. */
export function missingDirs(root: string, targetFile: string): string[] {
  const missing: string[] = [];
  for (let dir = path.posix.dirname(targetFile); dir !== '/'; dir = path.posix.dirname(dir)) {
    if (fs.existsSync(underRoot(root, dir))) break;
    missing.unshift(dir);
  }
  return missing;
}

export function checkInstall(root: string, files: PlannedFile[], previous: Manifest | undefined, opts: { force: boolean }): InstallCheck {
  const known = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  const steps: InstallStep[] = [];
  const conflicts: Conflict[] = [];
  for (const file of files) {
    const hostPath = underRoot(root, file.path);
    const disk = onDisk(hostPath);
    const entry = known.get(file.path);
    if (disk.state === 'missing') {
      steps.push({ file, hostPath, action: 'create' });
    } else if (disk.state === 'other') {
      conflicts.push({ hostPath, kind: 'foreign', message: `${hostPath} exists and is ${disk.what}: not replacing it. Move it away and run again${foreignHint(file.role)}.` });
    } else if (disk.hash === sha256(file.content)) {
      // Byte for byte what we would write: ours in effect (also repairs a lost manifest).
      steps.push({ file, hostPath, action: 'unchanged' });
    } else if (!entry) {
      conflicts.push({
        hostPath,
        kind: 'foreign',
        message: `${hostPath} exists and was not written by ten install: not overwriting it. Move it away (mv ${hostPath} ${hostPath}.orig) and run again${foreignHint(file.role)}.`,
      });
    } else if (entry.sha256 !== disk.hash && !opts.force) {
      conflicts.push({
        hostPath,
        kind: 'modified',
        message:
          `${hostPath} was changed after ten install wrote it: not overwriting the changes. ` +
          (file.role === 'caddyfile'
            ? 'Save what you need from it, then run again with --force to replace it.'
            : `Move local changes into a drop-in (systemctl edit ${path.posix.basename(file.path)}), then run again with --force to replace it.`),
      });
    } else {
      steps.push({ file, hostPath, action: 'replace' });
    }
  }
  const planned = new Set(files.map((f) => f.path));
  const stale: StaleStep[] = [];
  for (const entry of previous?.files ?? []) {
    if (planned.has(entry.path)) continue;
    const hostPath = underRoot(root, entry.path);
    const disk = onDisk(hostPath);
    const action = disk.state === 'missing' ? 'gone' : disk.state === 'file' && (disk.hash === entry.sha256 || opts.force) ? 'remove' : 'keep-modified';
    stale.push({ entry, hostPath, action });
  }
  const newDirs = [...new Set([...files.map((f) => f.path), MANIFEST_PATH].flatMap((p) => missingDirs(root, p)))];
  return { steps, stale, conflicts, newDirs };
}

/** Folders (first existing ancestor of each file to write) that this process cannot write to. */
export function unwritableDirs(root: string, targets: string[]): string[] {
  const bad = new Set<string>();
  for (const target of targets) {
    let dir = path.dirname(underRoot(root, target));
    while (!fs.existsSync(dir)) dir = path.dirname(dir);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      bad.add(dir);
    }
  }
  return [...bad];
}

export interface ManifestMeta {
  version: string;
  command: string;
  installedAt: string;
  kept: Manifest['kept'];
}

/** The manifest an install leaves behind (also printed by --dry-run). */
export function buildManifest(check: InstallCheck, previous: Manifest | undefined, meta: ManifestMeta): Manifest {
  const files: ManifestFile[] = check.steps.map((s) => ({ path: s.file.path, sha256: sha256(s.file.content), role: s.file.role }));
  // Files of an earlier install that were edited by hand stay listed: they are still ours to remove.
  for (const s of check.stale) if (s.action === 'keep-modified') files.push(s.entry);
  const createdDirs = [...new Set([...(previous?.createdDirs ?? []), ...check.newDirs])];
  return {
    format: 1,
    writtenBy: `tenement ${meta.version}`,
    installedAt: meta.installedAt,
    command: meta.command,
    files,
    createdDirs,
    kept: meta.kept,
  };
}

function writeAtomically(hostPath: string, content: string): void {
  fs.mkdirSync(path.dirname(hostPath), { recursive: true, mode: 0o755 });
  const tmp = `${hostPath}.ten-install-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode: 0o644 });
  fs.chmodSync(tmp, 0o644); // whatever the umask
  fs.renameSync(tmp, hostPath);
}

/** Writes the plan and the manifest; the check must have no conflicts. */
export function applyInstall(root: string, check: InstallCheck, manifest: Manifest): void {
  if (check.conflicts.length > 0) throw new Error('internal: applyInstall with conflicts');
  for (const s of check.steps) if (s.action !== 'unchanged') writeAtomically(s.hostPath, s.file.content);
  for (const s of check.stale) if (s.action === 'remove') fs.rmSync(s.hostPath, { force: true });
  writeAtomically(underRoot(root, MANIFEST_PATH), serializeManifest(manifest));
}

export interface UninstallCheck {
  remove: StaleStep[];
  modified: StaleStep[];
  missing: StaleStep[];
}

export function checkUninstall(root: string, manifest: Manifest, opts: { force: boolean }): UninstallCheck {
  const out: UninstallCheck = { remove: [], modified: [], missing: [] };
  for (const entry of manifest.files) {
    const hostPath = underRoot(root, entry.path);
    const disk = onDisk(hostPath);
    if (disk.state === 'missing') out.missing.push({ entry, hostPath, action: 'gone' });
    else if (disk.state === 'file' && (disk.hash === entry.sha256 || opts.force)) out.remove.push({ entry, hostPath, action: 'remove' });
    else out.modified.push({ entry, hostPath, action: 'keep-modified' });
  }
  return out;
}

export interface UninstallResult {
  removedDirs: string[];
  /** The manifest is kept (listing only the kept files) when files were kept. */
  manifestKept: boolean;
}

export function applyUninstall(root: string, manifest: Manifest, check: UninstallCheck): UninstallResult {
  for (const s of check.remove) fs.rmSync(s.hostPath, { force: true });
  const manifestFile = underRoot(root, MANIFEST_PATH);
  const manifestKept = check.modified.length > 0;
  if (manifestKept) {
    writeAtomically(manifestFile, serializeManifest({ ...manifest, files: check.modified.map((s) => s.entry) }));
  } else {
    fs.rmSync(manifestFile, { force: true });
  }
  const removedDirs: string[] = [];
  const deepestFirst = [...manifest.createdDirs].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
  for (const dir of deepestFirst) {
    try {
      fs.rmdirSync(underRoot(root, dir)); // only when empty
      removedDirs.push(dir);
    } catch {
      // Not empty (something else lives there now) or already gone: leave it.
    }
  }
  return { removedDirs, manifestKept };
}
