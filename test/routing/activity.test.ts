import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { UpstreamStatus } from '../../caddy/admin-client.js';
import { parseConfigText } from '../../src/config/load.js';
import { Activity, parseAccessLine, type ActivityOptions, type RequestObservation } from '../../src/routing/activity.js';
import type { InstanceRecord } from '../../src/store/types.js';
import type { InstanceKey } from '../../src/util/instance-key.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('tenement-activity-');
after(tmp.cleanup);

const config = parseConfigText('[service.notes]\ncommand = "x"\n[service.web]\ncommand = "x"\n[routing.subdomain]\nwww = "web"\n', path.join(tmp.dir, 'tenement.toml')).config;

function record(service: string, id: string, port: number, weight = 100): InstanceRecord {
  return {
    service,
    id,
    port,
    pid: null,
    pidStartTime: null,
    desired: 'running',
    observed: 'running',
    health: 'healthy',
    weight,
    healthFailures: 0,
    restartCount: 0,
    createdAt: 0,
    startedAt: 0,
    lastActivityAt: null,
    lastError: null,
    lastExit: null,
  };
}

/** Caddy's JSON access log line for a request that ended at `ts` seconds. */
const line = (host: string, ts: number, status = 200, duration = 0.25) => JSON.stringify({ level: 'info', logger: 'http.log.access', ts, request: { host }, status, duration });

function setup(records: InstanceRecord[], upstreams: () => Promise<UpstreamStatus[]> = async () => []) {
  const file = path.join(tmp.dir, `access-${Math.random().toString(36).slice(2)}.log`);
  fs.writeFileSync(file, `${line('alice.notes.localhost', 1)}\n`); // before the start: skipped ('end')
  const touched: [string, number][] = [];
  const observed: RequestObservation[] = [];
  const offsets: number[] = [];
  const key = (k: InstanceKey) => `${k.service}:${k.id}`;
  const supervisor: ActivityOptions['supervisor'] = {
    get: (k) => records.find((r) => key(r) === key(k)),
    list: (filter) => records.filter((r) => filter?.service === undefined || r.service === filter.service),
    touch: (k, at) => void touched.push([key(k), at ?? -1]),
  };
  const activity = new Activity({
    file,
    supervisor,
    admin: { upstreams },
    config: () => config,
    domain: 'localhost',
    log: silentLogger,
    from: 'end',
    onOffset: (o) => offsets.push(o),
    onRequest: (o) => observed.push(o),
    flushMs: 60_000,
  });
  activity.start();
  const append = (...lines: string[]) => fs.appendFileSync(file, lines.map((l) => `${l}\n`).join(''));
  return { activity, append, touched, observed, offsets, file };
}

describe('activity', () => {
  it('parseAccessLine reads host, status, duration and end time; other lines are skipped', () => {
    assert.deepEqual(parseAccessLine(line('a.notes.localhost', 1700000000.1234, 404, 0.5)), { host: 'a.notes.localhost', status: 404, durationMs: 500, at: 1700000000123 });
    assert.equal(parseAccessLine('{"level":"info","msg":"serving initial configuration"}'), undefined);
    assert.equal(parseAccessLine('not json'), undefined);
    assert.equal(parseAccessLine(JSON.stringify({ ts: 'x', request: { host: 'h' } })), undefined);
  });

  it('marks the instance of each logged request active at its end time, the latest one winning', async () => {
    const s = setup([record('notes', 'alice', 30001), record('notes', 'bob', 30002)]);
    try {
      s.append(line('alice.notes.localhost', 10), line('alice.notes.localhost:8000', 12), line('alice.notes.localhost', 11), line('bob.notes.localhost', 5, 500, 1));
      await s.activity.sync();
      assert.deepEqual(s.touched.sort(), [
        ['notes:alice', 12000],
        ['notes:bob', 5000],
      ]);
      assert.deepEqual(s.observed.at(-1), { service: 'notes', instance: 'bob', status: 500, durationMs: 1000 });
      assert.equal(s.observed.length, 4, 'every request is observed for the metrics');
      assert.equal(s.offsets.at(-1), fs.statSync(s.file).size, 'the offset to resume from is reported');
    } finally {
      s.activity.stop();
    }
  });

  it('a service-route request marks every member with weight active; unknown instances, the root and other hosts nothing', async () => {
    const s = setup([record('web', 'blue', 30003), record('web', 'green', 30004), record('web', 'idle', 30005, 0)]);
    try {
      s.append(line('www.localhost', 20), line('ghost.notes.localhost', 21), line('localhost', 22), line('example.com', 23), 'partial line without newline');
      await s.activity.sync();
      assert.deepEqual(s.touched.sort(), [
        ['web:blue', 20000],
        ['web:green', 20000],
      ]);
      assert.deepEqual(
        s.observed.map((o) => `${o.service}:${o.instance}`),
        ['web:', 'notes:ghost'],
      );
    } finally {
      s.activity.stop();
    }
  });

  it("isBusy asks Caddy for requests in flight to the instance's port, and stays busy when Caddy does not answer", async () => {
    let answer: () => Promise<UpstreamStatus[]> = async () => [
      { address: '127.0.0.1:30001', num_requests: 1, fails: 0 },
      { address: '127.0.0.1:30002', num_requests: 0, fails: 0 },
    ];
    const alice = record('notes', 'alice', 30001);
    const bob = record('notes', 'bob', 30002);
    const s = setup([alice, bob], () => answer());
    try {
      assert.equal(await s.activity.isBusy(alice), true);
      assert.equal(await s.activity.isBusy(bob), false);
      // A request that just ended counts: the log is read before answering.
      s.append(line('bob.notes.localhost', 30));
      assert.equal(await s.activity.isBusy(bob), false);
      assert.deepEqual(s.touched, [['notes:bob', 30000]]);
      answer = () => Promise.reject(new Error('connect ECONNREFUSED'));
      assert.equal(await s.activity.isBusy(bob), true);
    } finally {
      s.activity.stop();
    }
  });
});
