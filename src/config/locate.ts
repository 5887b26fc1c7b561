// Maps key paths to 1-based source lines so every config message can say `file:line`. The lines
// come from the syntax tree of toml-eslint-parser (which keeps positions), the same tree toml.ts
// turns into values: the file is parsed once.
import { parseTOML, type AST } from 'toml-eslint-parser';

/** Segments of a key; numbers index arrays (`instances.api[1]` is ['instances', 'api', 1]). */
export type KeyPath = readonly (string | number)[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** `service.api.env`, `routing.path."/api"`, `instances.api[1]`: the form issues carry in `key`. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out ? '.' : '') + (BARE_KEY.test(seg) ? seg : JSON.stringify(seg));
  }
  return out;
}

/** Inverse of formatKeyPath; also accepts TOML literal-quoted segments ('a.b'). */
export function parseKeyPath(text: string): (string | number)[] {
  const out: (string | number)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      i++;
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      const stop = end < 0 ? text.length : end;
      out.push(Number(text.slice(i + 1, stop)));
      i = stop + 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += c === '"' && text[j] === '\\' ? 2 : 1;
      out.push(decodeQuoted(text.slice(i, j + 1), c));
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && text[j] !== '.' && text[j] !== '[') j++;
      out.push(text.slice(i, j).trim());
      i = j;
    }
  }
  return out;
}

function decodeQuoted(raw: string, quote: string): string {
  if (quote === "'") return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    // TOML escapes JSON lacks (\e, \UXXXXXXXX): a near miss still locates nothing worse than the table.
    return raw.slice(1, -1);
  }
}

export interface SourceIndex {
  /** Line where this exact key, table or array element starts, if it appears in the text. */
  exact(path: KeyPath | string): number | undefined;
  /** Like exact, but falls back to the nearest enclosing key or table that does appear. */
  line(path: KeyPath | string): number | undefined;
}

/** Where keys, tables and array elements of a parsed document start; one walk of the tree. */
export function indexToml(ast: AST.TOMLProgram): SourceIndex {
  const lines = new Map<string, number>();
  // Records `path` and its prefixes longer than `from` segments. First appearance wins: that is
  // where the reader should look first (a table may be extended by dotted keys further down).
  const record = (path: KeyPath, line: number, from = path.length - 1): void => {
    for (let n = Math.max(from, 0) + 1; n <= path.length; n++) {
      const id = pathId(path.slice(0, n));
      if (!lines.has(id)) lines.set(id, line);
    }
  };
  const content = (path: KeyPath, node: AST.TOMLContentNode): void => {
    if (node.type === 'TOMLArray') {
      node.elements.forEach((element, i) => {
        const at = [...path, i];
        record(at, element.loc.start.line);
        content(at, element);
      });
    } else if (node.type === 'TOMLInlineTable') {
      keyValues(path, node.body);
    }
  };
  const keyValues = (base: KeyPath, body: readonly AST.TOMLKeyValue[]): void => {
    for (const kv of body) {
      const path = [...base, ...keyNames(kv.key)];
      record(path, kv.loc.start.line, base.length);
      content(path, kv.value);
    }
  };
  for (const item of ast.body[0].body) {
    if (item.type === 'TOMLKeyValue') {
      keyValues([], [item]);
    } else {
      // resolvedKey carries the element index of arrays of tables: `[fruit.variety]` after the
      // first `[[fruit]]` is ['fruit', 0, 'variety'], the second `[[fruit]]` is ['fruit', 1].
      const line = item.loc.start.line;
      record(item.kind === 'array' ? item.resolvedKey.slice(0, -1) : item.resolvedKey, line, 0);
      record(item.resolvedKey, line);
      keyValues(item.resolvedKey, item.body);
    }
  }
  return lineIndex(lines);
}

/** The segments of a (possibly dotted, possibly quoted) key, decoded. */
export function keyNames(key: AST.TOMLKey): string[] {
  return key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value));
}

function lineIndex(lines: ReadonlyMap<string, number>): SourceIndex {
  const toPath = (p: KeyPath | string): KeyPath => (typeof p === 'string' ? parseKeyPath(p) : p);
  return {
    exact: (p) => lines.get(pathId(toPath(p))),
    line(p) {
      const path = toPath(p);
      for (let n = path.length; n > 0; n--) {
        const found = lines.get(pathId(path.slice(0, n)));
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}

/** Parses valid TOML text for its positions alone (when its values come from elsewhere). */
export function indexSource(source: string): SourceIndex {
  return indexToml(parseTOML(source, TOML_OPTIONS));
}

/** One-off look-up; see indexSource. */
export function locateKey(source: string, path: KeyPath | string): number | undefined {
  return indexSource(source).line(path);
}

/** TOML 1.1 (newlines in inline tables, \e, \xHH), which smol-toml, used before, accepted too. */
export const TOML_OPTIONS = { tomlVersion: '1.1' } as const;

function pathId(path: KeyPath): string {
  return JSON.stringify(path);
}
