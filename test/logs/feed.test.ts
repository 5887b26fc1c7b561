import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogFeed } from '../../src/logs/log-feed.js';
import type { LogLine } from '../../src/store/types.js';

const line = (id: number, instance = 'a'): LogLine => ({ id, service: 's', instance, stream: 'stdout', level: 'info', at: id, text: `l${id}` });

describe('LogFeed', () => {
  it('delivers filtered lines in order', async () => {
    const feed = new LogFeed();
    const sub = feed.subscribe({ filter: (l) => l.instance === 'a' });
    feed.publish([line(1), line(2, 'b'), line(3)]);
    const item = await sub.next();
    assert.deepEqual(item?.kind === 'lines' && item.lines.map((l) => l.id), [1, 3]);
    sub.close();
    assert.equal(feed.subscriberCount, 0);
  });

  it('reports dropped lines where they were dropped, then continues', async () => {
    const feed = new LogFeed();
    const sub = feed.subscribe({ capacity: 2 });
    feed.publish([line(1), line(2), line(3), line(4)]);
    const a = await sub.next();
    assert.deepEqual(a?.kind === 'lines' && a.lines.map((l) => l.id), [1, 2]);
    feed.publish([line(5)]); // room again, but the gap comes first
    assert.deepEqual(await sub.next(), { kind: 'missed', count: 2, fromId: 3, toId: 4 });
    const c = await sub.next();
    assert.deepEqual(c?.kind === 'lines' && c.lines.map((l) => l.id), [5]);
  });

  it('next() ends on close and on abort', async () => {
    const feed = new LogFeed();
    const sub = feed.subscribe();
    const waiting = sub.next();
    sub.close();
    assert.equal(await waiting, undefined);
    const sub2 = feed.subscribe();
    const ac = new AbortController();
    const w2 = sub2.next(ac.signal);
    ac.abort();
    assert.equal(await w2, undefined);
    sub2.close();
  });
});
