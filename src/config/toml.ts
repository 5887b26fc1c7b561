// TOML text -> plain values and the line of every key, from one parse (toml-eslint-parser keeps
// positions in its syntax tree; locate.ts reads the lines from the same tree).
import { parse as smolParse, TomlDate, TomlError } from 'smol-toml';
import { ParseError, parseTOML, type AST } from 'toml-eslint-parser';
import { indexToml, keyNames, TOML_OPTIONS, type SourceIndex } from './locate.js';

/**
 * A TOML value as the validator sees it: tables are prototype-less objects (a key named
 * `constructor` or `__proto__` is data, nothing inherited), dates are smol-toml's TomlDate (which
 * prints as written), integers beyond 2^53 are bigints rather than rounded numbers.
 */
export type TomlValue = string | number | bigint | boolean | TomlDate | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export interface TomlDocument {
  value: TomlTable;
  index: SourceIndex;
}

/** Text that is not TOML; line and column (1-based) say where the parser stopped. */
export class TomlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'TomlSyntaxError';
  }
}

export function parseToml(source: string): TomlDocument {
  let ast: AST.TOMLProgram;
  try {
    ast = parseTOML(source, TOML_OPTIONS);
  } catch (err) {
    if (err instanceof ParseError) throw syntaxError(source, err);
    throw err;
  }
  const value = newTable();
  for (const item of ast.body[0].body) {
    if (item.type === 'TOMLKeyValue') {
      assign(value, item);
    } else {
      const table = item.kind === 'array' ? appendArrayTable(value, item.resolvedKey) : tableAt(value, item.resolvedKey);
      for (const kv of item.body) assign(table, kv);
    }
  }
  return { value, index: indexToml(ast) };
}

// The tree is already valid TOML (no redefinitions, no key both a value and a table), so building
// the values only follows paths; the checks below guard the types, not the TOML rules.

function newTable(): TomlTable {
  return Object.create(null) as TomlTable;
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The table at `path` (indices step into arrays of tables), creating missing tables on the way. */
function tableAt(root: TomlTable, path: readonly (string | number)[]): TomlTable {
  let current: TomlValue = root;
  for (const seg of path) {
    let next: TomlValue | undefined;
    if (typeof seg === 'number') {
      next = Array.isArray(current) ? current[seg] : undefined;
    } else if (isTable(current)) {
      next = current[seg] ?? (current[seg] = newTable());
    }
    if (next === undefined) throw new Error(`toml: no table at ${JSON.stringify(path)} (a bug: the parser accepted the document)`);
    current = next;
  }
  if (!isTable(current)) throw new Error(`toml: ${JSON.stringify(path)} is not a table (a bug: the parser accepted the document)`);
  return current;
}

/** `[[a.b]]`: resolvedKey ends with the new element's index; the array lives at the path before it. */
function appendArrayTable(root: TomlTable, path: readonly (string | number)[]): TomlTable {
  const parent = tableAt(root, path.slice(0, -2));
  const name = path[path.length - 2];
  if (typeof name !== 'string') throw new Error(`toml: array of tables at ${JSON.stringify(path)} has no name (a bug)`);
  const list = parent[name] ?? (parent[name] = []);
  if (!Array.isArray(list)) throw new Error(`toml: ${name} is not an array of tables (a bug: the parser accepted the document)`);
  const table = newTable();
  list.push(table);
  return table;
}

function assign(table: TomlTable, kv: AST.TOMLKeyValue): void {
  const keys = keyNames(kv.key);
  const last = keys.pop() as string;
  tableAt(table, keys)[last] = valueOf(kv.value);
}

function valueOf(node: AST.TOMLContentNode): TomlValue {
  switch (node.type) {
    case 'TOMLArray':
      return node.elements.map(valueOf);
    case 'TOMLInlineTable': {
      const table = newTable();
      for (const kv of node.body) assign(table, kv);
      return table;
    }
    case 'TOMLValue':
      switch (node.kind) {
        case 'integer':
          return Number.isSafeInteger(node.value) ? node.value : node.bigint;
        case 'float':
        case 'string':
        case 'boolean':
          return node.value;
        case 'offset-date-time':
        case 'local-date-time':
        case 'local-date':
        case 'local-time':
          return new TomlDate(node.datetime);
      }
  }
}

/**
 * The parser's own messages are terse and sometimes point past the mistake (an unclosed `[table`
 * is reported on the next line); smol-toml's point at it. Only on this error path, the text is
 * handed to smol-toml for its message; if it disagrees and accepts the text, the first verdict stands.
 */
function syntaxError(source: string, err: ParseError): TomlSyntaxError {
  try {
    smolParse(source);
  } catch (smol) {
    if (smol instanceof TomlError) {
      // The first line is the message; the rest is a code excerpt (the caller says file:line).
      const message = (smol.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
      return new TomlSyntaxError(message, smol.line, smol.column);
    }
  }
  return new TomlSyntaxError(err.message, err.lineNumber, err.column + 1);
}
