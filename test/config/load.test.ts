import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { expectIssue, FILE, issuesOf } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tenement-load-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('loading', () => {
  it('turns a TOML syntax error into a ConfigError with the parser line', () => {
    const issues = issuesOf('[settings]\nstop_timeout = 3\n\n[service.api\ncommand = "x"');
    assert.equal(issues.length, 1);
    const issue = issues[0]!;
    assert.equal(issue.file, FILE);
    assert.equal(issue.line, 4);
    assert.match(issue.message, /^TOML syntax error at column \d+: /);
    // The parser's code excerpt is dropped: the message stays one line.
    assert.doesNotMatch(issue.message, /\n/);
  });

  it('reports a duplicate key with its line', () => {
    const issues = issuesOf('[service.api]\ncommand = "a"\n\ncommand = "b"');
    assert.equal(issues[0]?.line, 4);
  });

  it('ignores a byte order mark', () => {
    const { config } = parseConfigText('\uFEFF[service.api]\ncommand = "x"\n', FILE);
    assert.ok(config.services.api);
    expectIssue(issuesOf('\uFEFF[service.api]\ncommand = "x"\nidle_timeout = "no"'), 'service.api.idle_timeout', 3, /found "no"/);
  });

  it('reads a file and resolves paths against its folder', () => {
    const file = path.join(tmp, 'tenement.toml');
    fs.writeFileSync(file, '[settings]\ndata_dir = "data"\n[service.api]\ncommand = "x"\n');
    const { config } = loadConfig(file);
    assert.equal(config.file, file);
    assert.equal(config.settings.data_dir, path.join(tmp, 'data'));
  });

  it('names the file when it is missing', () => {
    const file = path.join(tmp, 'missing.toml');
    assert.throws(
      () => loadConfig(file),
      (err: unknown) => err instanceof ConfigError && err.issues[0]?.file === file && /does not exist/.test(err.message),
    );
  });

  it('reports validation errors against the file it read', () => {
    const file = path.join(tmp, 'bad.toml');
    fs.writeFileSync(file, '[service.api]\ncommand = "x"\nrestart = "sometimes"\n');
    assert.throws(
      () => loadConfig(file),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${file}:3: service.api.restart: `),
    );
  });
});
