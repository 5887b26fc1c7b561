// Before an instance is started under its own uid: can that uid run what the service asks for?
// Checked with the permission bits the kernel will apply (owner, group, other; the tenant has no
// supplementary groups), so a config whose app sits in /root or a 0700 temp folder fails at once
// with the path that blocks it and what to do, instead of a crash loop.
import fs from 'node:fs';
import path from 'node:path';
import type { Identity } from './sandbox-argv.js';

export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

type Need = 'x' | 'r' | 'rx';

function allowed(st: fs.Stats, id: Identity, need: Need): boolean {
  const shift = st.uid === id.uid ? 6 : st.gid === id.gid ? 3 : 0;
  const bits = (st.mode >> shift) & 7;
  if (need.includes('r') && !(bits & 4)) return false;
  if (need.includes('x') && !(bits & 1)) return false;
  return true;
}

function describeMode(st: fs.Stats): string {
  return `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner uid ${st.uid}`;
}

export interface AccessProblem {
  /** The path whose permissions refuse access. */
  blocking: string;
  detail: string;
}

/**
 * Walks `target` from / and returns the first component the identity may not use: directories
 * need x, the target itself `need`. `trusted` lists directories the sandbox creates itself
 * (searchable by anyone), whose real permissions do not apply.
 */
export function accessProblem(target: string, id: Identity, need: Need, trusted: ReadonlySet<string> = new Set()): AccessProblem | null {
  const parts = path.resolve(target).split('/').filter(Boolean);
  let at = '/';
  for (let i = 0; i <= parts.length; i++) {
    const last = i === parts.length;
    if (!trusted.has(at)) {
      let st: fs.Stats;
      try {
        st = fs.statSync(at);
      } catch (err) {
        return { blocking: at, detail: `${at} does not exist (${(err as NodeJS.ErrnoException).code})` };
      }
      const want: Need = last ? (st.isDirectory() && need === 'r' ? 'rx' : need) : 'x';
      if (!allowed(st, id, want)) {
        const verb = want === 'x' ? (last && !st.isDirectory() ? 'executable' : 'searchable') : want === 'r' ? 'readable' : 'readable and searchable';
        return { blocking: at, detail: `${at} is not ${verb} by uid ${id.uid} (${describeMode(st)})` };
      }
    }
    if (last) break;
    at = path.join(at, parts[i]!);
  }
  return null;
}

/** The absolute path `program` resolves to with `searchPath`, relative names against `cwd`. */
export function resolveProgram(program: string, searchPath: string, cwd: string): string | null {
  if (program.includes('/')) {
    const p = path.resolve(cwd, program);
    return fs.existsSync(p) ? p : null;
  }
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const p = path.join(dir, program);
    try {
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return null;
}

/** `#!/usr/bin/env node` -> ['/usr/bin/env', 'node']; null when not a script. */
export function shebang(file: string): string[] | null {
  let head = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(256);
      const n = fs.readSync(fd, buf, 0, 256, 0);
      head = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
  if (!head.startsWith('#!')) return null;
  const line = head.slice(2).split('\n')[0]!.trim();
  return line ? line.split(/\s+/) : null;
}

export interface PreflightInput {
  instance: string;
  id: Identity;
  program: string;
  args: readonly string[];
  cwd: string;
  /** The service sets workdir explicitly. */
  checkCwd: boolean;
  /** PATH the tenant runs with. */
  searchPath: string;
  /** Must be reachable by path (process isolation: the real directory tree is all there is). */
  dataDir?: string;
  trusted?: ReadonlySet<string>;
  /** Appended to every error: what the operator can change in the config. */
  configFix: string;
}

/** Returns the program's absolute path; throws PreflightError naming what blocks and the fix. */
export function preflight(i: PreflightInput): string {
  const fail = (what: string, p: AccessProblem, moveHint: boolean): never => {
    const fixes = [
      moveHint ? `move it somewhere uid ${i.id.uid} can read (e.g. under /srv or /opt)` : undefined,
      `make it accessible (e.g. chmod o+x on the blocking directory, o+r on the files)`,
      i.configFix,
    ].filter(Boolean);
    throw new PreflightError(`${i.instance} cannot start: ${what}: ${p.detail}. Fix: ${fixes.join('; or ')}`);
  };
  const trusted = i.trusted ?? new Set<string>();
  // A workdir the config names must be usable; the default one (the config file's folder) only
  // matters through the files found relative to it, checked below by their full path.
  if (i.checkCwd) {
    const cwdProblem = accessProblem(i.cwd, i.id, 'x', trusted);
    if (cwdProblem) fail(`its workdir ${i.cwd}`, cwdProblem, true);
  }
  const program = resolveProgram(i.program, i.searchPath, i.cwd);
  if (!program) {
    throw new PreflightError(
      `${i.instance} cannot start: command "${i.program}" not found on the instance's PATH (${i.searchPath})` +
        (i.program.includes('/') ? '' : '; give its absolute path in command, or set PATH in the service env'),
    );
  }
  const script = shebang(program);
  const progProblem = accessProblem(program, i.id, script ? 'rx' : 'x', trusted);
  if (progProblem) fail(`its command ${program}`, progProblem, true);
  if (script) {
    const interp = script[0] === '/usr/bin/env' && script[1] ? resolveProgram(script[1], i.searchPath, i.cwd) : script[0]!;
    if (!interp) throw new PreflightError(`${i.instance} cannot start: interpreter "${script.join(' ')}" of ${program} not found on the instance's PATH (${i.searchPath})`);
    const p = accessProblem(interp, i.id, 'x', trusted);
    if (p) fail(`the interpreter ${interp} of ${program}`, p, true);
  }
  // The first argument that names an existing file is the script of an interpreter (node app.js).
  for (const arg of i.args) {
    if (arg.startsWith('-')) continue;
    const p = path.resolve(i.cwd, arg);
    let isFile = false;
    try {
      isFile = fs.statSync(p).isFile();
    } catch {
      // not a file argument
    }
    if (!isFile) continue;
    const problem = accessProblem(p, i.id, 'r', trusted);
    if (problem) fail(`its script ${p}`, problem, true);
    break;
  }
  if (i.dataDir) {
    const p = accessProblem(path.dirname(i.dataDir), i.id, 'x', trusted);
    if (p) fail(`its DATA_DIR ${i.dataDir} is not reachable`, p, false);
  }
  return program;
}
