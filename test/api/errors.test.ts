// Every domain error kind becomes one HTTP status (src/api/errors.ts), whatever class carries it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlPlaneError } from '../../src/api/contract.js';
import { HttpError, statusOf } from '../../src/api/errors.js';
import { RollError } from '../../src/controller/rolling-restart.js';
import { DuplicateInstanceError, PortInUseError } from '../../src/store/instance-store.js';
import { LogSearchError } from '../../src/store/log-store.js';
import { SpawnError, UnknownInstanceError, UnknownServiceError } from '../../src/supervisor/errors.js';
import { PortRangeExhaustedError } from '../../src/supervisor/port-allocator.js';
import { TimeoutError } from '../../src/util/wait.js';

test('domain errors map to statuses by kind; anything else is a 500', () => {
  const table: Array<[Error, number]> = [
    [new UnknownServiceError('nope', ['api']), 404],
    [new UnknownInstanceError('api:x'), 404],
    [new DuplicateInstanceError('api', 'x'), 409],
    [new PortInUseError(30000, 'api:x', 'api:y'), 409],
    [new PortRangeExhaustedError(30000, 30009), 503],
    [new SpawnError('api:x', 'api:x failed to start'), 503],
    [new RollError('roll of api stopped', { service: 'api', hash: 'h', restarted: [], upToDate: [], skipped: [], failed: 'api:x' }), 503],
    [new TimeoutError('not healthy in time'), 504],
    [new LogSearchError('"', 'unbalanced quote'), 400],
    [new ControlPlaneError('not_found', 'x'), 404],
    [new ControlPlaneError('conflict', 'x'), 409],
    [new ControlPlaneError('invalid', 'x'), 422],
    [new ControlPlaneError('unavailable', 'x'), 503],
    [new ControlPlaneError('timeout', 'x'), 504],
    [new HttpError(429, 'slow down'), 429],
    [new Error('a bug'), 500],
  ];
  for (const [err, status] of table) assert.equal(statusOf(err), status, `${err.name}: ${err.message}`);
  // A name alone no longer decides: only the kind does.
  const impostor = new Error('looks like a timeout');
  impostor.name = 'TimeoutError';
  assert.equal(statusOf(impostor), 500);
  assert.equal(statusOf('a string'), 500);
});
