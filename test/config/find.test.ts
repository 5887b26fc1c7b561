import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigNotFoundError, findConfigFile } from '../../src/config/find.js';

const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tenement-find-')));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function write(rel: string): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '[service.api]\ncommand = "x"\n');
  return file;
}

const project = write('project/tenement.toml');
const nested = path.join(root, 'project/src/deep');
fs.mkdirSync(nested, { recursive: true });
const other = write('other/custom.toml');
const fromEnv = write('env/env.toml');

describe('findConfigFile', () => {
  it('prefers --config over TENEMENT_CONFIG and the walk up', () => {
    assert.equal(findConfigFile({ flag: other, env: { TENEMENT_CONFIG: fromEnv }, cwd: nested }), other);
  });

  it('resolves a relative --config against the cwd', () => {
    assert.equal(findConfigFile({ flag: '../other/custom.toml', env: {}, cwd: path.join(root, 'project') }), other);
  });

  it('uses TENEMENT_CONFIG when there is no --config', () => {
    assert.equal(findConfigFile({ env: { TENEMENT_CONFIG: fromEnv }, cwd: nested }), fromEnv);
    assert.equal(findConfigFile({ flag: '', env: { TENEMENT_CONFIG: 'env/env.toml' }, cwd: root }), fromEnv);
  });

  it('walks up from the cwd to the nearest tenement.toml', () => {
    assert.equal(findConfigFile({ env: {}, cwd: nested }), project);
    assert.equal(findConfigFile({ env: { TENEMENT_CONFIG: '' }, cwd: path.join(root, 'project') }), project);
  });

  it('says so when --config names a missing file, without falling back', () => {
    assert.throws(
      () => findConfigFile({ flag: 'nope.toml', env: { TENEMENT_CONFIG: fromEnv }, cwd: nested }),
      (err: unknown) =>
        err instanceof ConfigNotFoundError && err.message.includes('--config') && err.message.includes(path.join(nested, 'nope.toml')) && /does not exist/.test(err.message),
    );
  });

  it('says so when TENEMENT_CONFIG names a missing file', () => {
    assert.throws(
      () => findConfigFile({ env: { TENEMENT_CONFIG: '/definitely/not/here.toml' }, cwd: nested }),
      /TENEMENT_CONFIG names \/definitely\/not\/here\.toml, which does not exist/,
    );
  });

  it('points at tenement.toml when --config names its folder', () => {
    assert.throws(() => findConfigFile({ flag: path.join(root, 'project'), cwd: root }), /is a folder.*did you mean .*project\/tenement\.toml/);
  });

  it('explains what was searched and how to create one when nothing is found', (t) => {
    const lonely = path.join(root, 'lonely/a/b');
    fs.mkdirSync(lonely, { recursive: true });
    // The walk-up reaches the real filesystem root; a stray tenement.toml above /tmp would be found.
    for (let dir = root; ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, 'tenement.toml'))) return t.skip(`${dir} has a tenement.toml`);
      if (path.dirname(dir) === dir) break;
    }
    assert.throws(
      () => findConfigFile({ env: {}, cwd: lonely }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigNotFoundError);
        assert.match(err.message, /No tenement\.toml found in .*lonely\/a\/b or any folder above it/);
        assert.match(err.message, /ten init/);
        assert.match(err.message, /--config/);
        assert.equal(err.searched[0], path.join(lonely, 'tenement.toml'));
        assert.equal(err.searched.at(-1), '/tenement.toml');
        return true;
      },
    );
  });
});
