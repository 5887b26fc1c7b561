// docs/upgrading.md "Rollback": the commands that keep the previous version, run as written, on
// an installed `ten` (a symlink to the package's launcher, as npm creates it), and the copy runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, TEN_BIN } from '../helpers/paths.js';
import { tempDir } from '../helpers/temp-dir.js';
import { VERSION } from '../../src/version.js';

test('rollback tip: the whole package is kept and the copy runs on its own', () => {
  const { dir, cleanup } = tempDir('tenement-rollback-tip-');
  try {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.chmodSync(TEN_BIN, 0o755); // as npm does for a package's bin
    fs.symlinkSync(TEN_BIN, path.join(bin, 'ten'));
    const keep = path.join(dir, 'opt');
    fs.mkdirSync(keep);
    // The lines of the guide; /opt replaced by the test's directory. The first one must find
    // the package or stop (never an empty or root path to copy).
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const find = `TEN=$(readlink -f "$(command -v ten)") && PKG=\${TEN%/dist/src/cli/ten.js} &&
  test "$PKG" != "$TEN" && test -f "$PKG/package.json" && echo "$PKG"`;
    assert.equal(execFileSync('sh', ['-c', find], { encoding: 'utf8', env }).trim(), ROOT);
    assert.throws(() => execFileSync('sh', ['-c', find], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' }, stdio: 'pipe' }), 'no ten on PATH: stops');
    const script = `set -e
${find}
OLD=${keep}/tenement-$(ten --version | cut -d' ' -f2)
case "$OLD" in */tenement-) exit 9;; esac
cp -a "$PKG" "$OLD"
"$OLD/dist/src/cli/ten.js" --version
echo "PKG=$PKG"
`;
    const out = execFileSync('sh', ['-c', script], { encoding: 'utf8', env });
    assert.match(out, new RegExp(`^tenement ${VERSION.replace(/\./g, '\\.')}$`, 'm'), out);
    assert.match(out, new RegExp(`^PKG=${ROOT}$`, 'm'));
    // Rolling back = pointing `ten` at the copy; it answers, independent of the original package.
    const old = path.join(keep, `tenement-${VERSION}`, 'dist/src/cli/ten.js');
    fs.rmSync(path.join(bin, 'ten'));
    fs.symlinkSync(old, path.join(bin, 'ten'));
    const again = execFileSync('sh', ['-c', 'ten --version && ten config --help >/dev/null && echo works'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    assert.match(again, /works/);
    assert.equal(fs.realpathSync(path.join(bin, 'ten')).startsWith(keep), true);
  } finally {
    cleanup();
  }
});
