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

  it('a service gate exists exactly while one of its members is closed, counted from the gates already there', () => {
    const gates = new Gates(gateDir(path.join(tmp.dir, 'c')));
    const exists = (name: string) => fs.existsSync(path.join(gates.dir, name));
    gates.close('api', 'alice');
    gates.track(new Map([['api@1', ['api.alice', 'api.bob']]]));
    assert.equal(exists('api@1'), true, 'alice was already closed');
    gates.close('api', 'bob');
    gates.open('api', 'alice');
    assert.equal(exists('api@1'), true, 'bob is closed');
    gates.open('api', 'bob');
    assert.equal(exists('api@1'), false, 'all members serve');
    gates.close('api', 'carol');
    assert.equal(exists('api@1'), false, 'carol is not a member');
    // A push to a new member set: both gates are right while either tree may be in Caddy.
    gates.track(new Map([['api@2', ['api.alice', 'api.bob', 'api.carol']]]));
    assert.deepEqual([exists('api@1'), exists('api@2')], [false, true]);
    gates.close('api', 'alice');
    assert.deepEqual([exists('api@1'), exists('api@2')], [true, true]);
    gates.retain(new Set(['api@2']));
    assert.equal(exists('api@1'), false, 'removed once no tree in Caddy uses it');
    gates.open('api', 'alice');
    gates.open('api', 'carol');
    assert.equal(exists('api@2'), false);
    gates.close('api', 'bob');
    assert.equal(exists('api@2'), true);
    assert.deepEqual(fs.readdirSync(gates.dir).sort(), ['api.bob', 'api@2'], 'no temporary file left behind');
  });

  it('a new controller keeps service gates it finds until a tree without them is in Caddy, and knows which instance gates are closed', () => {
    const dir = gateDir(path.join(tmp.dir, 'd'));
    const first = new Gates(dir);
    first.close('api', 'alice');
    first.track(new Map([['api@old', ['api.alice']]]));
    const second = new Gates(dir);
    assert.equal(second.isClosed('api', 'alice'), true);
    second.reconcile([rec('api', 'alice', 'asleep')]);
    assert.equal(second.isServiceGateClosed('api@old'), true, 'Caddy may still use it: left closed');
    second.track(new Map([['api@new', ['api.alice', 'api.bob']]]));
    assert.equal(second.isServiceGateClosed('api@new'), true);
    second.retain(new Set(['api@new']));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['api.alice', 'api@new']);
    second.apply(rec('api', 'alice', 'running'));
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
