// Reading tenement.toml: file -> text -> TOML -> validated Config.
import fs from 'node:fs';
import { ConfigError } from './errors.js';
import { parseToml, TomlSyntaxError, type TomlDocument } from './toml.js';
import { validateConfig, type ValidationResult } from './validate.js';

/** Parses and validates config text; `file` names it in messages and anchors its relative paths. */
export function parseConfigText(text: string, file: string): ValidationResult {
  // Editors on Windows save a BOM that TOML parsers reject as a stray character.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let doc: TomlDocument;
  try {
    doc = parseToml(source);
  } catch (err) {
    if (err instanceof TomlSyntaxError) {
      throw new ConfigError([{ file, line: err.line, key: '', message: `TOML syntax error at column ${err.column}: ${err.message}` }]);
    }
    throw err;
  }
  return validateConfig(doc.value, doc.index, file);
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
