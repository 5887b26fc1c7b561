// The README's first command, checked: the demo brings up Caddy, the controller and two tenants,
// a request goes through Caddy, and everything is stopped again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { freePort } from '../helpers/controller-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { killAllMentioning, pidsMentioning } from '../helpers/processes.js';

test('scripts/demo.sh --check serves the notes tenants through Caddy and leaves nothing running', async () => {
  const { dir, cleanup } = tempDir('tenement-demo-');
  const data = path.join(dir, 'demo-data');
  try {
    const env = {
      ...process.env,
      SKIP_BUILD: '1',
      CONTROLLER_PORT: String(await freePort()),
      HTTP_PORT: String(await freePort()),
      DEMO_DATA_DIR: data,
      DEMO_LOG: path.join(dir, 'demo.log'),
    };
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('bash', [path.join(ROOT, 'scripts/demo.sh'), '--check'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (c) => resolve({ code: c, out }));
    });
    assert.equal(code, 0, out);
    assert.match(out, /"tenant": "alice"/);
    assert.match(out, /"tenant": "bob"/);
    assert.match(out, /"status":"ok"/);
    assert.match(out, /demo check passed/);
    assert.deepEqual(pidsMentioning(data), [], 'the demo stopped what it started');
  } finally {
    killAllMentioning(data);
    cleanup();
  }
});
