// LogCapture: files -> LogStore (+ feed), resuming from stored offsets across controller restarts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LogCapture } from '../../src/logs/log-capture.js';
import { LogFeed } from '../../src/logs/log-feed.js';
import { openDatabase, type OpenedDatabase } from '../../src/store/database.js';
import { LogStore } from '../../src/store/log-store.js';
import type { LogLine } from '../../src/store/types.js';
import { instancePaths } from '../../src/supervisor/layout.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers/temp-dir.js';

let dir: string;
let cleanup: () => void;
let opened: OpenedDatabase;
let store: LogStore;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('tenement-capture-'));
  opened = openDatabase(dir);
  store = new LogStore(opened.db);
});
afterEach(() => {
  if (opened.db.open) opened.db.close();
  cleanup();
});

function files(service: string, id: string) {
  const p = instancePaths(dir, service, id);
  fs.mkdirSync(path.dirname(p.stdoutLog), { recursive: true });
  return p;
}
const texts = (lines: LogLine[]) => lines.map((l) => l.text);
const all = () => store.query({ limit: 1000 }).reverse();

describe('LogCapture', () => {
  it('indexes lines written while it was not running, then follows new ones and publishes them', async () => {
    const p = files('api', 'alice');
    fs.writeFileSync(p.stdoutLog, 'written while the controller was down\nINFO second line\n');
    fs.writeFileSync(p.stderrLog, 'ERROR: boom\n    at main (app.js:1)\nplain stderr\n');
    const feed = new LogFeed();
    const sub = feed.subscribe();
    const capture = new LogCapture({ dataDir: dir, store, feed, log: silentLogger, pollMs: 20 });
    await capture.start();
    try {
      assert.deepEqual(texts(store.query({ limit: 10, search: '"controller was down"' })), ['written while the controller was down']);
      const stderr = store.query({ limit: 10, stream: 'stderr' }).reverse();
      assert.deepEqual(
        stderr.map((l) => [l.text, l.level]),
        [
          ['ERROR: boom', 'error'],
          ['    at main (app.js:1)', 'error'],
          ['plain stderr', 'warn'],
        ],
      );
      assert.ok(stderr.every((l) => l.service === 'api' && l.instance === 'alice'));
      const first = await sub.next();
      assert.equal(first?.kind, 'lines');

      fs.appendFileSync(p.stdoutLog, 'a live line\n');
      const live = await waitFor(() => store.query({ limit: 1, search: 'live' })[0], { timeoutMs: 5000, what: 'the live line to be indexed' });
      assert.equal(live.text, 'a live line');
      const next = await sub.next();
      assert.ok(next?.kind === 'lines' && next.lines.some((l) => l.text === 'a live line'), 'published to the feed');
    } finally {
      await capture.stop();
      sub.close();
    }
  });

  it('resumes at the stored offset after a restart: nothing twice, nothing lost', async () => {
    const p = files('notes', 'bob');
    fs.writeFileSync(p.stdoutLog, 'one\ntwo\n');
    const first = new LogCapture({ dataDir: dir, store, log: silentLogger });
    await first.scan();
    // "Controller stopped": the app keeps writing.
    fs.appendFileSync(p.stdoutLog, 'three\nfour\n');
    opened.db.close();
    opened = openDatabase(dir);
    store = new LogStore(opened.db);
    const second = new LogCapture({ dataDir: dir, store, log: silentLogger });
    await second.scan();
    assert.deepEqual(texts(all()), ['one', 'two', 'three', 'four']);
  });

  it('keeps a partial last line until it is completed, or flushes it once the file is quiet', async () => {
    const p = files('api', 'carol');
    let now = 1_000_000;
    const capture = new LogCapture({ dataDir: dir, store, log: silentLogger, partialFlushMs: 2000, now: () => now });
    fs.writeFileSync(p.stdoutLog, 'complete\nparti');
    await capture.scan();
    assert.deepEqual(texts(all()), ['complete']);
    fs.appendFileSync(p.stdoutLog, 'al done\nlast words');
    now += 100;
    await capture.scan();
    assert.deepEqual(texts(all()), ['complete', 'partial done']);
    now += 1000;
    await capture.scan();
    assert.equal(all().length, 2, 'not quiet long enough yet');
    now += 2500;
    await capture.scan();
    assert.deepEqual(texts(all()), ['complete', 'partial done', 'last words']);
  });

  it('starts over when the file is truncated or replaced', async () => {
    const p = files('api', 'dave');
    const capture = new LogCapture({ dataDir: dir, store, log: silentLogger });
    fs.writeFileSync(p.stdoutLog, 'old line one\nold line two\n');
    await capture.scan();
    fs.truncateSync(p.stdoutLog, 0);
    fs.appendFileSync(p.stdoutLog, 'new\n');
    await capture.scan();
    assert.deepEqual(texts(all()), ['old line one', 'old line two', 'new']);
    // Rotation: a new file under the same name (new inode), longer than the old offset.
    fs.renameSync(p.stdoutLog, `${p.stdoutLog}.1`);
    fs.writeFileSync(p.stdoutLog, 'rotated file, first line is long enough\n');
    await capture.scan();
    assert.deepEqual(texts(all()).slice(-1), ['rotated file, first line is long enough']);
  });

  it('splits very long lines at character boundaries and skips blank lines', async () => {
    const p = files('api', 'erin');
    const long = 'é'.repeat(3000); // 6000 bytes
    fs.writeFileSync(p.stdoutLog, `${long}\n\n   \r\nend\r\n`);
    const capture = new LogCapture({ dataDir: dir, store, log: silentLogger, maxLineBytes: 1000 });
    await capture.scan();
    const lines = texts(all());
    assert.equal(lines.join('').replace('end', ''), long, 'no character split or lost');
    assert.ok(lines.length >= 7);
    assert.equal(lines[lines.length - 1], 'end', 'CR stripped');
    assert.ok(lines.every((l) => !l.includes('\uFFFD')));
  });

  it('ignores files that are not instance logs', async () => {
    fs.mkdirSync(path.join(dir, '_logs', 'Bad_Service'), { recursive: true });
    fs.writeFileSync(path.join(dir, '_logs', 'Bad_Service', 'x.stdout.log'), 'nope\n');
    fs.mkdirSync(path.join(dir, '_logs', 'api'), { recursive: true });
    fs.writeFileSync(path.join(dir, '_logs', 'api', 'notes.txt'), 'nope\n');
    await new LogCapture({ dataDir: dir, store, log: silentLogger }).scan();
    assert.equal(all().length, 0);
  });
});

describe('LogCapture: capping the captured files (log_file_max_mb, log_file_max_age_days)', () => {
  const KB = 1024;
  /** The store, with `write` run before each append: the tenant writes while a pass is storing its lines. */
  const whileStoring = (write: () => void): LogStore =>
    new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'append') return Reflect.get(target, prop, receiver) as unknown;
        return (lines: Parameters<LogStore['append']>[0]) => {
          write();
          return target.append(lines);
        };
      },
    });
  const filler = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag} ${i} ${'x'.repeat(80)}\n`).join('');

  it('follows a file that grows while a pass reads it, indexes all of it, then empties it: nothing lost', async () => {
    const p = files('api', 'flood');
    fs.writeFileSync(p.stdoutLog, filler(500, 'first'));
    // The tenant writes on while the pass stores its first chunk: more than twice the cap in all.
    let writes = 0;
    const growing = whileStoring(() => {
      if (writes++ < 3) fs.appendFileSync(p.stdoutLog, filler(500, `burst${writes}`));
    });
    fs.appendFileSync(p.stdoutLog, '');
    const capture = new LogCapture({ dataDir: dir, store: growing, log: silentLogger, chunkBytes: 16 * KB, fileLimits: () => ({ maxBytes: 32 * KB, maxAgeMs: 0 }) });
    await capture.scan();
    assert.equal(store.query({ limit: 10_000 }).length, 2000, 'every line of the first part and of the three bursts');
    assert.equal(fs.statSync(p.stdoutLog).size, 0, 'emptied once all of it was indexed');
    fs.appendFileSync(p.stdoutLog, 'after the cap\n');
    await capture.scan();
    assert.deepEqual(texts(store.query({ limit: 1 })), ['after the cap'], 'read from the new start');
  });

  it('does not stay on a file whose tenant trickles a line at a time: the pass moves on after a few looks', async () => {
    const p = files('api', 'trickle');
    fs.writeFileSync(p.stdoutLog, 'first\n');
    let appends = 0;
    const trickling = whileStoring(() => {
      appends++;
      fs.appendFileSync(p.stdoutLog, `line ${appends}\n`);
    });
    const capture = new LogCapture({ dataDir: dir, store: trickling, log: silentLogger, fileLimits: () => ({ maxBytes: 1024 * KB, maxAgeMs: 0 }) });
    await capture.scan();
    assert.ok(appends <= 10, `one pass stored ${appends} times`);
    assert.deepEqual(texts(all()).slice(0, 2), ['first', 'line 1']);
  });

  it('indexes a line written after the pass read to the end, before emptying the file', async () => {
    const p = files('api', 'late');
    fs.writeFileSync(p.stdoutLog, filler(100, 'line'));
    let late = true;
    const capture = new LogCapture({
      dataDir: dir,
      store,
      log: silentLogger,
      fileLimits: () => {
        // Asked first when the pass has read everything and turns to the cap: the tenant writes then.
        if (late) fs.appendFileSync(p.stdoutLog, 'written just before the cap\n');
        late = false;
        return { maxBytes: 4 * KB, maxAgeMs: 0 };
      },
    });
    await capture.scan();
    assert.equal(fs.statSync(p.stdoutLog).size, 0);
    assert.equal(store.query({ limit: 1000 }).length, 101);
    assert.deepEqual(texts(store.query({ limit: 1 })), ['written just before the cap']);
  });

  it('empties a file twice the cap that grows faster than a pass may follow, reporting what it lost', async () => {
    const p = files('api', 'firehose');
    fs.writeFileSync(p.stdoutLog, filler(100, 'start'));
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) };
    let writes = 0;
    const firehose = whileStoring(() => {
      if (writes++ < 20) fs.appendFileSync(p.stdoutLog, filler(100, 'more'));
    });
    const capture = new LogCapture({ dataDir: dir, store: firehose, log, chunkBytes: 16 * KB, followBytes: 16 * KB, fileLimits: () => ({ maxBytes: 8 * KB, maxAgeMs: 0 }) });
    await capture.scan();
    assert.equal(fs.statSync(p.stdoutLog).size, 0);
    assert.ok(store.query({ limit: 10_000 }).length < 2100, 'some lines were dropped');
    assert.match(warnings.join(), /faster than it could be indexed/);
  });

  it('leaves a file below the cap alone, and empties a fully indexed one once it is older than the maximum age', async () => {
    const p = files('api', 'old');
    fs.writeFileSync(p.stdoutLog, 'an old line\n');
    let now = Date.now();
    const capture = new LogCapture({ dataDir: dir, store, log: silentLogger, now: () => now, fileLimits: () => ({ maxBytes: 1024 * KB, maxAgeMs: 60_000 }) });
    await capture.scan();
    assert.deepEqual(texts(all()), ['an old line']);
    await capture.scan();
    assert.ok(fs.statSync(p.stdoutLog).size > 0, 'not old yet, not big');
    now += 61_000;
    await capture.scan();
    assert.equal(fs.statSync(p.stdoutLog).size, 0, 'emptied on a later pass, once old');
    assert.deepEqual(texts(all()), ['an old line'], 'its line stays in the store, once');
  });
});

describe('LogCapture: liveOnly (a thousand sleeping instances cost no stat calls)', () => {
  it('after its first pass follows only live instances, and stopped ones until their last lines are in', async () => {
    const live = files('api', 'live');
    const asleep = files('api', 'asleep');
    fs.writeFileSync(live.stdoutLog, 'live 1\n');
    fs.writeFileSync(asleep.stdoutLog, 'asleep 1\n');
    const capture = new LogCapture({ dataDir: dir, store, log: silentLogger, liveOnly: true });
    await capture.scan();
    assert.deepEqual(texts(all()).sort(), ['asleep 1', 'live 1'], 'the first pass reads every file');
    capture.noteInstance('api', 'live', true);
    fs.appendFileSync(live.stdoutLog, 'live 2\n');
    fs.appendFileSync(asleep.stdoutLog, 'not followed\n');
    await capture.scan();
    assert.deepEqual(texts(all()).slice(-1), ['live 2']);
    assert.equal(store.query({ limit: 10, search: 'followed' }).length, 0, 'an instance not noted as live is not read');
    // Stopped: its last words are still read, then its files are no longer followed.
    fs.appendFileSync(live.stdoutLog, 'last words\n');
    capture.noteInstance('api', 'live', false);
    await capture.scan();
    assert.deepEqual(texts(all()).slice(-1), ['last words']);
    fs.appendFileSync(live.stdoutLog, 'after the stop\n');
    await capture.scan();
    assert.equal(store.query({ limit: 10, search: '"after the stop"' }).length, 0);
  });

  it('still looks at every file once per fullPassMs: an old file of an instance asleep for weeks is emptied', async () => {
    const asleep = files('api', 'weeks');
    fs.writeFileSync(asleep.stdoutLog, 'from long ago\n');
    let now = Date.now();
    const capture = new LogCapture({
      dataDir: dir,
      store,
      log: silentLogger,
      liveOnly: true,
      fullPassMs: 3_600_000,
      now: () => now,
      fileLimits: () => ({ maxBytes: 1024 * 1024, maxAgeMs: 86_400_000 }),
    });
    await capture.scan();
    // Then it sleeps for two days.
    const twoDaysAgo = new Date(now - 2 * 86_400_000);
    fs.utimesSync(asleep.stdoutLog, twoDaysAgo, twoDaysAgo);
    now += 1_800_000;
    await capture.scan();
    assert.ok(fs.statSync(asleep.stdoutLog).size > 0, 'a pass that follows live instances only does not look at it');
    now += 1_800_000;
    await capture.scan();
    assert.equal(fs.statSync(asleep.stdoutLog).size, 0, 'the hourly full pass empties it');
    assert.deepEqual(texts(all()), ['from long ago'], 'its line stays in the store');
  });
});
