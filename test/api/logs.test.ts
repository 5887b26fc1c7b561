// GET /api/logs (FTS phrases, prefixes, filters) and GET /api/logs/stream (SSE: ids, filters,
// resume with Last-Event-ID, slow readers told what they missed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogJson, MissedJson } from '../../src/api/contract.js';
import type { LogLine } from '../../src/store/types.js';
import { waitFor } from '../../src/util/wait.js';
import { startTestApi, type TestApi } from './helpers.js';
import { openStream } from './sse-client.js';

let t: TestApi;
before(async () => {
  t = await startTestApi({ streamBuffer: 5 });
  const base = Date.parse('2026-01-01T00:00:00Z');
  t.deps.logs.append([
    { service: 'api', instance: 'alice', stream: 'stdout', level: 'info', at: base, text: 'server listening on port 3000' },
    { service: 'api', instance: 'alice', stream: 'stderr', level: 'error', at: base + 1000, text: 'connection refused by upstream database' },
    { service: 'api', instance: 'bob', stream: 'stdout', level: 'warn', at: base + 2000, text: 'refused connection from 10.0.0.1, retrying' },
    { service: 'api', instance: 'bob', stream: 'stdout', level: 'info', at: base + 3000, text: 'reconnected to database after 3 retries' },
    { service: 'notes', instance: 'alice', stream: 'stdout', level: 'debug', at: base + 4000, text: 'cache warm: 1200 entries' },
  ]);
});
after(async () => {
  await t.close();
});

async function logs(query: string): Promise<LogJson[]> {
  const res = await t.admin.get(`api/logs${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return JSON.parse(res.body) as LogJson[];
}
const messages = (l: LogJson[]) => l.map((x) => x.message);

describe('GET /api/logs', () => {
  it('returns the newest lines in written order with the original field names', async () => {
    const all = await logs('');
    assert.equal(all.length, 5);
    assert.equal(all[0]!.message, 'server listening on port 3000');
    assert.deepEqual(Object.keys(all[0]!).sort(), ['id', 'instance_id', 'level', 'message', 'process', 'severity', 'stream', 'time', 'timestamp']);
    // The original's types: timestamp in milliseconds, level = the stream; new data in new fields.
    assert.equal(all[0]!.timestamp, Date.parse('2026-01-01T00:00:00.000Z'));
    assert.equal(all[0]!.time, '2026-01-01T00:00:00.000Z');
    assert.deepEqual([all[1]!.level, all[1]!.stream, all[1]!.severity], ['stderr', 'stderr', 'error']);
    assert.deepEqual([all[2]!.level, all[2]!.severity], ['stdout', 'warn']);
    assert.deepEqual(messages(await logs('?limit=2')), ['reconnected to database after 3 retries', 'cache warm: 1200 entries']);
  });

  it('full-text search: words, "exact phrases", prefixes, OR, NOT', async () => {
    assert.deepEqual(messages(await logs('?search=' + encodeURIComponent('"connection refused"'))), ['connection refused by upstream database']);
    assert.equal((await logs('?search=' + encodeURIComponent('connection refused'))).length, 2, 'both words, any order');
    assert.deepEqual(messages(await logs('?search=' + encodeURIComponent('retr*'))), ['refused connection from 10.0.0.1, retrying', 'reconnected to database after 3 retries']);
    assert.deepEqual(messages(await logs('?search=' + encodeURIComponent('listening OR cache'))), ['server listening on port 3000', 'cache warm: 1200 entries']);
    assert.deepEqual(messages(await logs('?search=' + encodeURIComponent('database NOT refused'))), ['reconnected to database after 3 retries']);
  });

  it("filters by process, id, level (and the original's stdout/stderr), since", async () => {
    assert.equal((await logs('?process=notes')).length, 1);
    assert.equal((await logs('?process=api&id=bob')).length, 2);
    assert.deepEqual(messages(await logs('?level=error')), ['connection refused by upstream database']);
    assert.deepEqual(messages(await logs('?level=stderr')), ['connection refused by upstream database']);
    assert.equal((await logs('?level=WARNING')).length, 1);
    assert.equal((await logs('?since=' + Date.parse('2026-01-01T00:00:03Z'))).length, 2);
    assert.equal((await logs('?since=2026-01-01T00:00:03Z')).length, 2);
  });

  it('bad parameters are 400 with the reason', async () => {
    const cases: [string, RegExp][] = [
      ['?limit=0', /"limit" must be an integer between 1 and 10000/],
      ['?limit=100000', /"limit"/],
      ['?limit=abc', /"limit"/],
      ['?level=loud', /"level" must be one of debug, info, warn, error/],
      ['?id=Bad!', /query parameter "id"/],
      ['?since=yesterday', /"since" must be epoch milliseconds/],
      ['?search=' + encodeURIComponent('"unterminated'), /invalid log search/],
      ['?search=' + encodeURIComponent('a-b:c'), /invalid log search/],
      ['?search=' + 'x'.repeat(1001), /at most 1000/],
    ];
    for (const [q, message] of cases) {
      const res = await t.admin.get(`api/logs${q}`);
      assert.equal(res.statusCode, 400, `${q}: ${res.body}`);
      assert.match((JSON.parse(res.body) as { error: string }).error, message);
    }
  });
});

function publish(lines: Omit<LogLine, 'id'>[]): LogLine[] {
  const stored = t.deps.logs.append(lines);
  t.deps.logFeed.publish(stored);
  return stored;
}
const line = (text: string, patch: Partial<LogLine> = {}): Omit<LogLine, 'id'> => ({
  service: 'api',
  instance: 'alice',
  stream: 'stdout',
  level: 'info',
  at: Date.now(),
  text,
  ...patch,
});
const auth = () => ({ authorization: `Bearer ${t.adminToken}` });

describe('GET /api/logs/stream', () => {
  it('streams new lines as events with ids, applying the filters', async () => {
    const s = await openStream(t.url, 'api/logs/stream?process=api&level=error', auth());
    try {
      const stored = publish([line('not an error'), line('boom', { level: 'error' }), line('other service', { service: 'notes', level: 'error' })]);
      const [ev] = await s.waitForEvents(1);
      assert.equal(ev!.event, 'message'); // the default event: EventSource.onmessage receives it
      assert.equal(ev!.id, String(stored[1]!.id));
      assert.equal((JSON.parse(ev!.data) as LogJson).message, 'boom');
      publish([line('second boom', { level: 'error' })]);
      const events = await s.waitForEvents(2);
      assert.equal((JSON.parse(events[1]!.data) as LogJson).message, 'second boom');
    } finally {
      s.close();
    }
  });

  it('search on the stream uses the same full-text semantics', async () => {
    const s = await openStream(t.url, 'api/logs/stream?search=' + encodeURIComponent('"disk full" OR quota*'), auth());
    try {
      publish([line('the disk is full'), line('disk full on /data'), line('quotas exceeded'), line('nothing')]);
      const events = await s.waitForEvents(2);
      assert.deepEqual(
        events.map((e) => (JSON.parse(e.data) as LogJson).message),
        ['disk full on /data', 'quotas exceeded'],
      );
    } finally {
      s.close();
    }
  });

  it('a slow reader gets a "missed" event with the count instead of silent loss', async () => {
    const s = await openStream(t.url, 'api/logs/stream?id=burst', auth());
    try {
      // One synchronous burst of 12 lines into a 5-line buffer: the stream cannot drain in between.
      const stored = publish(Array.from({ length: 12 }, (_, i) => line(`burst ${i}`, { instance: 'burst' })));
      const events = await s.waitForEvents(6);
      assert.deepEqual(
        events.slice(0, 5).map((e) => e.event),
        ['message', 'message', 'message', 'message', 'message'],
      );
      assert.equal(events[5]!.event, 'missed');
      const missed = JSON.parse(events[5]!.data) as MissedJson;
      assert.equal(missed.missed, 7);
      assert.equal(missed.from_id, stored[5]!.id);
      assert.equal(missed.to_id, stored[11]!.id);
      // Later lines still arrive after the gap report.
      publish([line('after the gap', { instance: 'burst' })]);
      const more = await s.waitForEvents(7);
      assert.equal((JSON.parse(more[6]!.data) as LogJson).message, 'after the gap');
    } finally {
      s.close();
    }
  });

  it('Last-Event-ID resumes from the store without gaps or repeats', async () => {
    const before = publish([line('r1', { instance: 'resume' }), line('r2', { instance: 'resume' }), line('r3', { instance: 'resume' })]);
    const s = await openStream(t.url, 'api/logs/stream?id=resume', { ...auth(), 'last-event-id': String(before[0]!.id) });
    try {
      publish([line('r4', { instance: 'resume' })]);
      const events = await s.waitForEvents(3);
      assert.deepEqual(
        events.map((e) => (JSON.parse(e.data) as LogJson).message),
        ['r2', 'r3', 'r4'],
      );
    } finally {
      s.close();
    }
    const bad = await openStream(t.url, 'api/logs/stream', { ...auth(), 'last-event-id': 'abc' });
    assert.equal(bad.status, 400);
    bad.close();
  });

  it('bad filters and search syntax are refused before the stream starts', async () => {
    const s = await openStream(t.url, 'api/logs/stream?search=' + encodeURIComponent('"open'), auth());
    assert.equal(s.status, 400);
    s.close();
    // Streams closed by their clients unsubscribe (the server notices the disconnect shortly).
    await waitFor(() => t.deps.logFeed.subscriberCount === 0, { timeoutMs: 5000, what: 'closed streams to unsubscribe' });
  });
});
