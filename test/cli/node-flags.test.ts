import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CONTROLLER_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { commandFor } from '../../src/controller/handover.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

test("the ten script's #! line runs node with the controller's V8 options (one list, three places)", () => {
  const first = fs.readFileSync(path.join(root, 'src/cli/ten.ts'), 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${CONTROLLER_NODE_FLAGS.join(' ')}`);
  const built = fs.readFileSync(path.join(root, 'dist/src/cli/ten.js'), 'utf8').split('\n')[0];
  assert.equal(built, first, 'tsc keeps the #! line');
  assert.deepEqual(commandFor('/opt/ten/dist/src/cli/ten.js', ['node', 'ten', 'serve']).args, [...CONTROLLER_NODE_FLAGS, '/opt/ten/dist/src/cli/ten.js', 'serve']);
  assert.deepEqual(commandFor('/usr/local/bin/ten-wrapper', ['node', 'ten', 'serve']), { file: '/usr/local/bin/ten-wrapper', args: ['serve'] });
});

test('node accepts the options', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [...CONTROLLER_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
