// The API shapes of tenement 0.2 that clients depend on: the log stream reaches a real
// EventSource's onmessage, `socket` on instances, GET /api/telemetry, GET /api/tls/status, and
// tokens of the original (Argon2) authenticating over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import type { InstanceJson, LogJson, TelemetryJson, TlsStatusJson } from '../../src/api/contract.js';
import { waitFor } from '../../src/util/wait.js';
import { startTestApi, type TestApi } from './helpers.js';

let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => {
  await t.close();
});

function authedEventSource(url: string, token: string): EventSource {
  return new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${token}` } }),
  });
}

describe('tenement 0.2 API shapes', () => {
  it('log stream events reach EventSource.onmessage, with the original fields and types', async () => {
    const es = authedEventSource(`${t.url}/api/logs/stream?process=api`, t.adminToken);
    const received: LogJson[] = [];
    const ids: string[] = [];
    es.onmessage = (ev) => {
      received.push(JSON.parse(ev.data as string) as LogJson);
      ids.push(ev.lastEventId);
    };
    try {
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = (e) => reject(new Error(`EventSource error: ${String((e as { message?: string }).message)}`));
      });
      // The server subscribes before it answers, so a line published after `open` is delivered.
      const at = Date.now();
      const stored = t.deps.logs.append([{ service: 'api', instance: 'alice', stream: 'stderr', level: 'error', at, text: 'boom for onmessage' }]);
      t.deps.logFeed.publish(stored);
      await waitFor(() => received.length >= 1 || undefined, { timeoutMs: 5000, what: 'an onmessage event' });
      assert.equal(received[0]!.message, 'boom for onmessage');
      assert.equal(received[0]!.timestamp, at);
      assert.equal(received[0]!.level, 'stderr');
      assert.equal(received[0]!.severity, 'error');
      assert.equal(ids[0], String(stored[0]!.id));
    } finally {
      es.close();
    }
  });

  it('instances carry `socket`; /api/telemetry and /api/tls/status answer (admin and tenant)', async () => {
    t.control.add('api', 'alice');
    t.control.add('notes', 'bob', { observed: 'asleep', health: 'unknown' });
    const list = JSON.parse((await t.admin.get('api/instances')).body) as InstanceJson[];
    const alice = list.find((i) => i.id === 'api:alice')!;
    assert.equal(alice.socket, `127.0.0.1:${alice.port}`);

    const tel = JSON.parse((await t.admin.get('api/telemetry')).body) as TelemetryJson;
    assert.equal(tel.instances.total, 2);
    assert.deepEqual(tel.instances.by_state, { running: 1, asleep: 1 });
    assert.equal(typeof tel.uptime_secs, 'number');

    const tls = JSON.parse((await t.admin.get('api/tls/status')).body) as TlsStatusJson;
    assert.deepEqual(
      { enabled: tls.enabled, domain: tls.domain, staging: tls.staging, https_port: tls.https_port, http_port: tls.http_port },
      { enabled: false, domain: null, staging: false, https_port: 443, http_port: 80 },
    );
    assert.match(tls.recommendation!, /settings\.tls/);

    const anon = await t.anon.get('api/telemetry');
    assert.equal(anon.statusCode, 401);
  });
});
