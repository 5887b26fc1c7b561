// The config file watcher on real files: in-place writes, editor-style rename saves, bursts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigWatcher } from '../../src/config/watch.js';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Seen {
  reason: string;
  /** The file's content when the callback ran (what a reload would read). */
  content: string | undefined;
}

async function withWatcher(fn: (file: string, seen: Seen[], nth: (n: number) => Promise<Seen>) => Promise<void>, debounceMs = 150): Promise<void> {
  const { dir, cleanup } = tempDir('tenement-watch-');
  const file = path.join(dir, 'tenement.toml');
  fs.writeFileSync(file, 'v0\n');
  const seen: Seen[] = [];
  const watcher = new ConfigWatcher({
    file,
    debounceMs,
    onChange: (reason) => {
      let content: string | undefined;
      try {
        content = fs.readFileSync(file, 'utf8');
      } catch {
        content = undefined;
      }
      seen.push({ reason, content });
    },
  });
  await watcher.start();
  const nth = (n: number) => waitFor(() => seen[n - 1], { timeoutMs: 10_000, what: `reload #${n}` });
  try {
    await fn(file, seen, nth);
  } finally {
    await watcher.close();
    cleanup();
  }
}

/** Saves like vim/IDEs: write a temp file next to it, then rename it over the original. */
function renameSave(file: string, content: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.swp-${process.pid}`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

test('an in-place write is one reload that reads the new content', async () => {
  await withWatcher(async (file, seen, nth) => {
    fs.writeFileSync(file, 'v1\n');
    assert.equal((await nth(1)).content, 'v1\n');
    fs.appendFileSync(file, 'more\n');
    assert.equal((await nth(2)).content, 'v1\nmore\n');
    assert.equal(seen.length, 2);
  });
});

test('rename-saves (new inode each time) keep being seen', async () => {
  await withWatcher(async (file, seen, nth) => {
    const inode = fs.statSync(file).ino;
    renameSave(file, 'r1\n');
    assert.notEqual(fs.statSync(file).ino, inode, 'the save replaced the inode');
    assert.equal((await nth(1)).content, 'r1\n');
    renameSave(file, 'r2\n');
    assert.equal((await nth(2)).content, 'r2\n', 'the watch survived the first replacement');
    fs.writeFileSync(file, 'w3\n');
    assert.equal((await nth(3)).content, 'w3\n', 'and in-place writes after it');
    assert.equal(seen.length, 3);
    // The editor's temp file itself never triggers anything.
    assert.ok(seen.every((s) => s.content !== undefined));
  });
});

test('a burst of writes is one reload, run after the last write', async () => {
  // A longer quiet period than the default, so a slow machine pausing between writes of the
  // burst cannot split it.
  await withWatcher(async (file, seen, nth) => {
    for (let i = 1; i <= 10; i++) {
      if (i % 2) fs.writeFileSync(file, `b${i}\n`);
      else renameSave(file, `b${i}\n`);
      await delay(10); // pacing the burst, not waiting for anything
    }
    const first = await nth(1);
    assert.equal(first.content, 'b10\n', 'the reload ran after the burst, on its final content');
    // A later, separate save is the second reload: nothing of the burst fired in between.
    fs.writeFileSync(file, 'after\n');
    assert.equal((await nth(2)).content, 'after\n');
    assert.equal(seen.length, 2, `reloads: ${seen.map((s) => s.reason).join(' | ')}`);
  }, 400);
});

test('other files in the folder are ignored; deleting and recreating the file is seen', async () => {
  await withWatcher(async (file, seen, nth) => {
    fs.writeFileSync(path.join(path.dirname(file), 'other.toml'), 'x');
    fs.writeFileSync(path.join(path.dirname(file), 'tenement.toml~'), 'backup');
    fs.mkdirSync(path.join(path.dirname(file), 'data'));
    fs.writeFileSync(path.join(path.dirname(file), 'data', 'tenement.toml'), 'nested');
    fs.writeFileSync(file, 'mine\n');
    const first = await nth(1);
    assert.equal(first.content, 'mine\n');
    // The reason lists the kinds of events in the burst: the other (new) files would be 'add's.
    assert.match(first.reason, /^file change( \(\d+ events\))?$/, `only the config file counts: ${first.reason}`);
    assert.equal(seen.length, 1);
    fs.unlinkSync(file);
    const gone = await nth(2);
    assert.equal(gone.content, undefined);
    assert.match(gone.reason, /unlink/);
    fs.writeFileSync(file, 'back\n');
    assert.equal((await nth(3)).content, 'back\n');
  });
});
