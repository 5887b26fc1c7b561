// Shared by the config tests: run text through the loader and get its result or its issues.
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/config/types.js';
import type { ValidationResult } from '../../src/config/validate.js';

export const FILE = '/srv/app/tenement.toml';

export function load(text: string, file = FILE): ValidationResult {
  return parseConfigText(text, file);
}

/** The issues of a config that must be refused. */
export function issuesOf(text: string, file = FILE): ConfigIssue[] {
  try {
    parseConfigText(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the config to be refused');
}

/** Asserts that exactly one issue has `key`, on `line`, with a message matching `message`; returns it. */
export function expectIssue(issues: ConfigIssue[], key: string, line: number | undefined, message: RegExp): ConfigIssue {
  const matching = issues.filter((i) => i.key === key);
  assert.equal(matching.length, 1, `expected one issue for ${key}, got:\n${issues.map((i) => `${i.line} ${i.key}: ${i.message}`).join('\n')}`);
  const issue = matching[0] as ConfigIssue;
  assert.equal(issue.line, line, `line of ${key}`);
  assert.equal(issue.file, FILE);
  assert.match(issue.message, message);
  return issue;
}

/** `[service.NAME]` with a command, then `extra` lines. */
export function service(extra = '', name = 'api'): string {
  return `[service.${name}]\ncommand = "node server.js"\n${extra}`;
}
