import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ObservedState } from '../../src/store/types.js';
import { gateDir, Gates, isServing } from '../../src/routing/gates.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('tenement-gates-');
after(tmp.cleanup);

const rec = (service: string, id: string, observed: ObservedState) => ({ service, id, observed });

describe('gates', () => {
  it('only a running instance is served directly', () => {
    const states: ObservedState[] = ['starting', 'running', 'stopping', 'stopped', 'asleep', 'backoff', 'failed'];
    assert.deepEqual(
      states.filter((observed) => isServing({ observed })),
      ['running'],
    );
  });

  it('apply closes the gate of a non-serving instance and opens it when it runs', () => {
    const gates = new Gates(gateDir(path.join(tmp.dir, 'a')));
    assert.ok(fs.statSync(gates.dir).isDirectory(), 'the folder is made');
    gates.apply(rec('notes', 'alice', 'asleep'));
    assert.equal(gates.isClosed('notes', 'alice'), true);
    gates.apply(rec('notes', 'alice', 'starting'));
    assert.equal(gates.isClosed('notes', 'alice'), true, 'closing twice is fine');
    gates.apply(rec('notes', 'alice', 'running'));
    assert.equal(gates.isClosed('notes', 'alice'), false);
    gates.open('notes', 'alice');
    assert.equal(gates.isClosed('notes', 'alice'), false, 'opening twice is fine');
    assert.deepEqual(fs.readdirSync(gates.dir), [], 'no temporary file left behind');
  });

  it('reconcile matches every gate to the records and removes gates of instances that are gone', () => {
    const gates = new Gates(gateDir(path.join(tmp.dir, 'b')));
    gates.close('old', 'x');
    gates.close('notes', 'bob');
    fs.writeFileSync(path.join(gates.dir, 'stray.tmp-1'), '');
    gates.reconcile([rec('notes', 'alice', 'asleep'), rec('notes', 'bob', 'running'), rec('web', 'a', 'failed')]);
    assert.deepEqual(fs.readdirSync(gates.dir).sort(), ['notes.alice', 'web.a']);
  });
});
