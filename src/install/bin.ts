// Which program ExecStart= runs. systemd does not use your shell's PATH (no nvm, no ~/.local/bin),
// so a `#!/usr/bin/env node` script would find no node, or another one. For a Node script (the
// default: the `ten` you are running now) the unit therefore runs `NODE FLAGS SCRIPT`, with NODE
// the node running this install (or --node) and FLAGS the controller's V8 options
// (src/cli/node-flags.ts). The script path is kept as invoked, not resolved: for `npm install -g`
// and `npm link` that is the stable link (/usr/local/bin/ten), which keeps working when an upgrade
// replaces what it points to.
import fs from 'node:fs';
import path from 'node:path';
import { CONTROLLER_NODE_FLAGS } from '../cli/node-flags.js';

export interface TenProgram {
  argv: string[];
  kind: 'node-script' | 'executable';
  warnings: string[];
}

function head(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(256);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('latin1');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** True for a JavaScript file or a script whose #! line runs node. */
export function isNodeScript(file: string, firstBytes: string | undefined): boolean {
  if (/\.(c|m)?js$/.test(file)) return true;
  if (firstBytes === undefined || !firstBytes.startsWith('#!')) return false;
  const shebang = firstBytes.split('\n')[0] ?? '';
  return /\bnode(js)?\b/.test(shebang);
}

export interface ResolveTenOptions {
  /** --bin, else the script this process runs (process.argv[1]). */
  bin: string | undefined;
  /** --node, else process.execPath. */
  node: string | undefined;
  /** Where the target system is mounted ("/" normally): existence checks look there first. */
  root: string;
  cwd: string;
  argv1: string | undefined;
  execPath: string;
}

export function resolveTenProgram(o: ResolveTenOptions): TenProgram {
  const warnings: string[] = [];
  const given = o.bin ?? o.argv1;
  if (!given) throw new Error('cannot tell which `ten` is running; pass --bin /path/to/ten');
  const bin = path.resolve(o.cwd, given);
  // Under --root the program may live in the target tree or, for tests and image builds, only here.
  const candidates = o.root === '/' ? [bin] : [path.join(o.root, bin), bin];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) {
    if (o.root === '/') throw new Error(`--bin ${bin} does not exist`);
    warnings.push(`${bin} does not exist (neither under ${o.root} nor here); the service will fail until it does`);
  }
  if (bin.includes(`${path.sep}_npx${path.sep}`)) {
    warnings.push(`${bin} is in npx's cache, which npm may clear at any time: install tenement (npm install -g tenement) and run \`ten install\` from there, or pass --bin`);
  }
  if (!isNodeScript(bin, found ? head(found) : undefined)) return { argv: [bin], kind: 'executable', warnings };

  const node = path.resolve(o.cwd, o.node ?? o.execPath);
  if (o.node !== undefined && o.root === '/' && !fs.existsSync(node)) throw new Error(`--node ${node} does not exist`);
  if (o.node === undefined && /^\/(home|root)\//.test(node)) {
    warnings.push(
      `the unit runs node from a home folder (${node}, e.g. nvm): the service breaks when that version is removed, ` +
        'and a --user other than its owner may not be able to run it; pass --node /usr/bin/node (or another system-wide node >= 20.19) to avoid that',
    );
  }
  return { argv: [node, ...CONTROLLER_NODE_FLAGS, bin], kind: 'node-script', warnings };
}
