// Reading rendered unit files and snapshotting folders for the install tests.
import fs from 'node:fs';
import path from 'node:path';

/** Directives of a unit file, by section: `Key` -> every value given (comments and blanks skipped). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`not a unit file line: ${raw}`);
    const key = line.slice(0, eq);
    const list = current.get(key) ?? [];
    list.push(line.slice(eq + 1));
    current.set(key, list);
  }
  return sections;
}

/** The single value of `section`.`key`, or undefined; throws when it is given more than once. */
export function directive(unit: Map<string, Map<string, string[]>>, section: string, key: string): string | undefined {
  const values = unit.get(section)?.get(key);
  if (!values) return undefined;
  if (values.length !== 1) throw new Error(`${section}.${key} given ${values.length} times`);
  return values[0];
}

/** Every file and folder under `dir` with file contents (and modes), for before/after comparisons. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(p);
      } else {
        out[rel] = `${(fs.statSync(p).mode & 0o777).toString(8)} ${fs.readFileSync(p, 'utf8')}`;
      }
    }
  };
  walk(dir);
  return out;
}
