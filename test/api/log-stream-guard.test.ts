// Hardening #6: a log stream ends soon after its token is revoked; one token holds a bounded number of streams.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { StreamGuard } from '../../src/api/stream-guard.js';
import { issueToken } from '../../src/auth/tokens.js';
import { waitFor } from '../../src/util/wait.js';
import { startTestApi, type TestApi } from './helpers.js';
import { openStream, type TestStream } from './sse-client.js';

let t: TestApi;
before(async () => {
  t = await startTestApi({ streamGuard: (tokens) => new StreamGuard(tokens, { maxPerToken: 3, recheckMs: 200 }) });
  t.control.add('api', 'alice');
});
after(async () => {
  await t.close();
});

it('closes an open stream within seconds of its token being revoked; the token cannot open another', async () => {
  const issued = issueToken(t.deps.tokens, { tenant: 'alice' });
  const auth = { authorization: `Bearer ${issued.token}` };
  const stream = await openStream(t.url, 'api/logs/stream', auth);
  const other = await openStream(t.url, 'api/logs/stream', { authorization: `Bearer ${t.adminToken}` });
  try {
    assert.equal(stream.status, 200);
    t.deps.tokens.revoke(issued.record.id);
    await waitFor(() => stream.ended(), { timeoutMs: 5000, what: 'the revoked stream to be closed' });
    assert.match(stream.raw(), /event: error\ndata: \{"error":"token tok_[0-9a-f]+ has been revoked"\}/);
    assert.equal(other.ended(), false, "another token's stream stays open");
    const again = await openStream(t.url, 'api/logs/stream', auth);
    assert.equal(again.status, 401);
  } finally {
    stream.close();
    other.close();
  }
});

it('refuses more than maxPerToken open streams of one token with 429; closing one frees a place', async () => {
  const auth = { authorization: `Bearer ${t.tokenFor('alice')}` };
  const open: TestStream[] = [];
  try {
    for (let i = 0; i < 3; i++) open.push(await openStream(t.url, 'api/logs/stream', auth));
    assert.deepEqual(
      open.map((s) => s.status),
      [200, 200, 200],
    );
    const fourth = await openStream(t.url, 'api/logs/stream', auth);
    assert.equal(fourth.status, 429);
    assert.match(fourth.raw(), /already has 3 open log streams \(at most 3\)/);
    const admin = await openStream(t.url, 'api/logs/stream', { authorization: `Bearer ${t.adminToken}` });
    assert.equal(admin.status, 200, 'other tokens are not affected');
    admin.close();
    open.shift()!.close();
    const retry = await waitFor(
      async () => {
        const s = await openStream(t.url, 'api/logs/stream', auth);
        if (s.status === 200) return s;
        s.close();
        return undefined;
      },
      { timeoutMs: 5000, what: 'a place to free up' },
    );
    open.push(retry);
  } finally {
    for (const s of open) s.close();
  }
});
