import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FileFollower } from '../../src/util/file-follower.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('tenement-follower-');
after(tmp.cleanup);

function follow(name: string, initial: string, from: number | 'end') {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, initial);
  const lines: string[] = [];
  const offsets: number[] = [];
  const follower = new FileFollower({ file, from, pollMs: 60_000, onLines: (l, o) => (lines.push(...l), offsets.push(o)) });
  return { file, lines, offsets, follower };
}

describe('FileFollower', () => {
  it('poll() delivers everything written before it was called, even with a read already in progress', async () => {
    const f = follow('race.log', 'old\n', 'end');
    f.follower.start(); // starts a read of its own
    try {
      fs.appendFileSync(f.file, 'one\ntwo\n');
      await f.follower.poll();
      assert.deepEqual(f.lines, ['one', 'two']);
    } finally {
      f.follower.stop();
    }
  });

  it('holds a partial line until its newline, hands out offsets where complete lines end, and restarts on truncation', async () => {
    const f = follow('partial.log', 'a\nb\n', 2);
    f.follower.start();
    try {
      await f.follower.poll();
      assert.deepEqual(f.lines, ['b']);
      fs.appendFileSync(f.file, 'c\nhal');
      await f.follower.poll();
      assert.deepEqual(f.lines, ['b', 'c']);
      assert.equal(f.offsets.at(-1), 'a\nb\nc\n'.length);
      fs.appendFileSync(f.file, 'f\n');
      await f.follower.poll();
      assert.deepEqual(f.lines, ['b', 'c', 'half']);
      fs.writeFileSync(f.file, 'new\n');
      await f.follower.poll();
      assert.deepEqual(f.lines, ['b', 'c', 'half', 'new']);
    } finally {
      f.follower.stop();
    }
  });
});
