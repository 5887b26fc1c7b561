// Reading tenement.toml: file -> text -> TOML -> validated Config.
import fs from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './errors.js';
import { validateConfig, type ValidationResult } from './validate.js';

/** Parses and validates config text; `file` names it in messages and anchors its relative paths. */
export function parseConfigText(text: string, file: string): ValidationResult {
  // Editors on Windows save a BOM that TOML parsers reject as a stray character.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let raw: unknown;
  try {
    raw = parse(source);
  } catch (err) {
    if (err instanceof TomlError) {
      // The first line is the message; the rest is a code excerpt we replace with file:line.
      const message = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigError([{ file, line: err.line, key: '', message: `TOML syntax error at column ${err.column}: ${message}` }]);
    }
    throw err;
  }
  return validateConfig(raw, source, file);
}

/** Reads, parses and validates a config file; throws ConfigError (with every problem) if it cannot be used. */
export function loadConfig(file: string): ValidationResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the file does not exist' : code === 'EISDIR' ? 'it is a folder, not a file' : (err as Error).message;
    throw new ConfigError([{ file, line: undefined, key: '', message: `cannot read the config file: ${why}` }]);
  }
  return parseConfigText(text, file);
}
