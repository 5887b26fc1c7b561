import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openDatabase, type OpenedDatabase } from '../../src/store/database.js';
import { LogSearchError, LogStore } from '../../src/store/log-store.js';
import type { LogLine } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp-dir.js';

type NewLine = Omit<LogLine, 'id'>;

function line(text: string, at: number, extra: Partial<NewLine> = {}): NewLine {
  return { service: 'notes', instance: 'alice', stream: 'stdout', level: 'info', at, text, ...extra };
}

describe('LogStore', () => {
  let opened: OpenedDatabase;
  let cleanup: () => void;
  let dir: string;
  let logs: LogStore;

  beforeEach(() => {
    const t = tempDir('tenement-store-logs-');
    cleanup = t.cleanup;
    dir = t.dir;
    opened = openDatabase(dir);
    logs = new LogStore(opened.db);
  });
  afterEach(() => {
    if (opened.db.open) opened.db.close();
    cleanup();
  });

  const texts = (rows: LogLine[]) => rows.map((r) => r.text);

  it('appends in one transaction and returns the lines with increasing ids', () => {
    const stored = logs.append([line('one', 1), line('two', 2)]);
    assert.equal(stored.length, 2);
    assert.ok(stored[1]!.id > stored[0]!.id);
    assert.deepEqual({ ...stored[0], id: 0 }, { ...line('one', 1), id: 0 });
    assert.deepEqual(logs.append([]), []);
    // One bad line: none of the batch is stored.
    assert.throws(() => logs.append([line('three', 3), line('four', 4, { level: 'fatal' as LogLine['level'] })]), /CHECK constraint/);
    assert.equal(logs.count(), 2);
    assert.equal(logs.bytes(), 'one'.length + 'two'.length);
  });

  it('queries newest first with filters and a limit', () => {
    logs.append([
      line('a1', 1),
      line('b1', 2, { instance: 'bob' }),
      line('a2 failed', 3, { stream: 'stderr', level: 'error' }),
      line('w1', 4, { service: 'web', instance: 'alice' }),
      line('a3', 5),
    ]);
    assert.deepEqual(texts(logs.query({ limit: 10 })), ['a3', 'w1', 'a2 failed', 'b1', 'a1']);
    assert.deepEqual(texts(logs.query({ limit: 2 })), ['a3', 'w1']);
    assert.deepEqual(texts(logs.query({ service: 'notes', instance: 'alice', limit: 10 })), ['a3', 'a2 failed', 'a1']);
    assert.deepEqual(texts(logs.query({ level: 'error', limit: 10 })), ['a2 failed']);
    assert.deepEqual(texts(logs.query({ stream: 'stderr', limit: 10 })), ['a2 failed']);
    assert.deepEqual(texts(logs.query({ since: 4, limit: 10 })), ['a3', 'w1']);
    const all = logs.query({ limit: 10 });
    assert.deepEqual(texts(logs.query({ afterId: all[2]!.id, limit: 10 })), ['a3', 'w1']);
    assert.throws(() => logs.query({ limit: 0 }), /positive integer/);
  });

  it('searches with FTS5: words, "phrases", prefix*, combined with filters', () => {
    logs.append([
      line('connection refused by upstream', 1),
      line('refused connection from 10.0.0.1', 2),
      line('connected to database', 3),
      line('connection refused again', 4, { instance: 'bob' }),
      line('all good', 5),
    ]);
    assert.deepEqual(texts(logs.query({ search: '"connection refused"', limit: 10 })), ['connection refused again', 'connection refused by upstream']);
    assert.deepEqual(texts(logs.query({ search: 'refused connection', limit: 10 })), [
      'connection refused again',
      'refused connection from 10.0.0.1',
      'connection refused by upstream',
    ]);
    assert.deepEqual(texts(logs.query({ search: 'conn*', limit: 10 })), [
      'connection refused again',
      'connected to database',
      'refused connection from 10.0.0.1',
      'connection refused by upstream',
    ]);
    assert.deepEqual(texts(logs.query({ search: '"connection refused"', instance: 'alice', limit: 10 })), ['connection refused by upstream']);
    assert.deepEqual(texts(logs.query({ search: 'database OR good', limit: 10 })), ['all good', 'connected to database']);
    assert.deepEqual(texts(logs.query({ search: 'nothing', limit: 10 })), []);
    assert.equal(logs.query({ search: '   ', limit: 10 }).length, 5); // blank = no search
  });

  it('turns a malformed search into a LogSearchError that says what to do', () => {
    logs.append([line('hello', 1)]);
    for (const bad of ['"unterminated', 'AND', 'a-b', 'foo:bar', '(', '*']) {
      assert.throws(
        () => logs.query({ search: bad, limit: 10 }),
        (err: unknown) => {
          assert.ok(err instanceof LogSearchError, `${bad}: ${String(err)}`);
          assert.ok(err.message.startsWith(`invalid log search ${JSON.stringify(bad)}`), err.message);
          assert.match(err.message, /double quotes/);
          return true;
        },
      );
    }
    // The store still works afterwards.
    assert.deepEqual(texts(logs.query({ search: 'hello', limit: 10 })), ['hello']);
    assert.deepEqual(texts(logs.query({ search: '"a-b" OR hello', limit: 10 })), ['hello']);
  });

  it('remembers file offsets across reopen', () => {
    assert.equal(logs.offset('/data/logs/notes/alice.log'), 0);
    logs.setOffset('/data/logs/notes/alice.log', 1024);
    logs.setOffset('/data/logs/notes/alice.log', 2048);
    logs.setOffset('/data/logs/notes/bob.log', 10);
    assert.throws(() => logs.setOffset('/x', -1), /non-negative/);
    opened.db.close();
    opened = openDatabase(dir);
    logs = new LogStore(opened.db);
    assert.equal(logs.offset('/data/logs/notes/alice.log'), 2048);
    assert.equal(logs.offset('/data/logs/notes/bob.log'), 10);
  });

  it('enforces retention by age in batches, keeping the search index in step', async () => {
    const lines: NewLine[] = [];
    for (let i = 0; i < 1000; i++) lines.push(line(`request ${i} handled`, i));
    logs.append(lines);
    const deleted = await logs.enforceRetention({ maxAgeMs: 400, now: 1000, batchSize: 64 });
    assert.equal(deleted, 600);
    assert.equal(logs.count(), 400);
    assert.equal(opened.db.prepare('SELECT count(*) FROM logs').pluck().get(), 400);
    assert.equal(opened.db.prepare('SELECT min(at) FROM logs').pluck().get(), 600);
    assert.equal(logs.query({ search: 'request', limit: 5000 }).length, 400);
    assert.equal(await logs.enforceRetention({ maxAgeMs: 400, now: 1000 }), 0);
  });

  it('enforces retention by size, deleting oldest first, exactly down to the limit', async () => {
    const lines: NewLine[] = [];
    for (let i = 0; i < 100; i++) lines.push(line(`line-${String(i).padStart(5, '0')}`, i)); // 10 bytes each
    logs.append(lines);
    assert.equal(logs.bytes(), 1000);
    const deleted = await logs.enforceRetention({ maxBytes: 250, batchSize: 16 });
    assert.equal(deleted, 75);
    assert.equal(logs.bytes(), 250);
    assert.equal(logs.count(), 25);
    assert.deepEqual(texts(logs.query({ limit: 1 })), ['line-00099']);
    assert.equal(logs.query({ limit: 100 }).at(-1)?.text, 'line-00075');
    assert.equal(opened.db.prepare('SELECT sum(length(CAST(text AS BLOB))) FROM logs').pluck().get(), logs.bytes());
    // UTF-8 bytes, not characters.
    logs.append([line('é', 200)]);
    assert.equal(logs.bytes(), 252);
  });

  it('lets the event loop run between retention batches', async () => {
    const lines: NewLine[] = [];
    for (let i = 0; i < 300; i++) lines.push(line(`x${i}`, i));
    logs.append(lines);
    const order: string[] = [];
    const first = logs.enforceRetention({ maxAgeMs: 0, now: 1000, batchSize: 10 });
    const joined = logs.enforceRetention({ maxAgeMs: 0, now: 1000, batchSize: 10 });
    assert.equal(joined, first); // a second call joins the running one
    setImmediate(() => order.push('other work'));
    assert.equal(await first, 300);
    order.push('retention done');
    assert.deepEqual(order, ['other work', 'retention done']);
    assert.equal(logs.count(), 0);
  });
});

describe('scoped log search (hardening #5)', () => {
  let opened: OpenedDatabase;
  let cleanup: () => void;
  let logs: LogStore;
  beforeEach(() => {
    const t = tempDir('tenement-store-scoped-');
    cleanup = t.cleanup;
    opened = openDatabase(t.dir);
    logs = new LogStore(opened.db);
  });
  afterEach(() => {
    if (opened.db.open) opened.db.close();
    cleanup();
  });

  const texts = [
    'Connection refused by upstream',
    'GET /health 200 in 3ms',
    'user alice logged in',
    'Résumé uploaded: café.pdf',
    'error: disk quota exceeded (code 122)',
    'connection reset; retrying',
    'warning: slow query 2300ms',
    'token ten_abc rotated',
    'connected to db at 127.0.0.1:5432',
  ];
  const searches = [
    'connection',
    'CONNECTION refused',
    '"connection refused"',
    'connect*',
    'conn* OR slow',
    'connection NOT reset',
    '(error OR warning) AND ms',
    'resume',
    'cafe',
    'disk quota',
    '"quota exceeded" code',
    '127',
    'logged NOT (alice OR bob)',
    'ten_abc',
  ];

  it('matches exactly what the FTS index matches', () => {
    logs.append(texts.map((t, i) => line(t, 1000 + i)));
    for (const search of searches) {
      const viaIndex = logs.query({ search, limit: 100 }).map((l) => l.id);
      const scoped = logs.query({ search, instance: 'alice', limit: 100 }).map((l) => l.id);
      assert.deepEqual(scoped, viaIndex, `search ${search}`);
    }
    for (const bad of ['"open', 'a:b', '(x', 'AND', 'x OR']) {
      assert.throws(() => logs.query({ search: bad, instance: 'alice', limit: 10 }), LogSearchError, bad);
      assert.throws(() => logs.query({ search: bad, limit: 10 }), LogSearchError, `${bad} (index)`);
    }
  });

  it("reads only the scope's rows however many of other tenants' lines match, and yields to the event loop", async () => {
    logs.append(Array.from({ length: 3000 }, (_, i) => line(i % 100 === 0 ? `alice secret ${i}` : `alice line ${i}`, 1000 + i)));
    const aliceOnly = await logs.queryAsync({ search: 'secret', instance: 'alice', limit: 100 });
    assert.equal(aliceOnly.length, 30);
    const rowsReadBefore = aliceOnly.scan!.scanned;
    assert.equal(rowsReadBefore, 3000);
    // Bob writes 20,000 lines, all containing the word alice searches for.
    logs.append(Array.from({ length: 20_000 }, (_, i) => line(`bob secret ${i}`, 5000 + i, { instance: 'bob' })));
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const after = await logs.queryAsync({ search: 'secret', instance: 'alice', limit: 100 });
    clearInterval(ticker);
    assert.deepEqual(
      after.map((l) => l.text),
      aliceOnly.map((l) => l.text),
      "only alice's lines",
    );
    assert.equal(after.scan!.scanned, rowsReadBefore, "the search read as many rows as before bob's lines existed");
    assert.ok(turns > 0, 'timers ran during the search: the event loop was not held for its whole length');
    // A missing word costs the same reading as a frequent one.
    const missing = await logs.queryAsync({ search: 'nowhere', instance: 'alice', limit: 100 });
    assert.equal(missing.scan!.scanned, rowsReadBefore);
  });
});
