import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { starterConfig } from '../../src/config/starter.js';
import { load } from './helpers.js';

describe('starter config', () => {
  it('validates without warnings and runs the given command', () => {
    const text = starterConfig({ name: 'notes', command: 'node server.js --port {port}' });
    const { config, warnings } = load(text);
    assert.deepEqual(warnings, []);
    const notes = config.services.notes;
    assert.ok(notes);
    assert.equal(notes.command, 'node server.js --port {port}');
    assert.equal(notes.health, '/health');
    assert.equal(notes.idle_timeout, 300);
    assert.deepEqual(config.instances, {});
    assert.equal(config.settings.data_dir, '/srv/app/tenement-data');
  });

  it('keeps quotes and backslashes in the command intact', () => {
    const command = 'python -c "print(\'hi\')" C:\\\\tmp';
    assert.equal(load(starterConfig({ name: 'py', command })).config.services.py?.command, command);
  });

  it('still validates with its commented examples switched on', () => {
    const text = starterConfig({ name: 'notes', command: 'node server.js' });
    const uncommented = text
      .replace('# [service.notes.env]', '[service.notes.env]')
      .replace('# DATABASE_PATH', 'DATABASE_PATH')
      .replace('# [instances]', '[instances]')
      .replace('# notes = [', 'notes = [')
      .replace('# restart = "on-failure"', 'restart = "on-failure"');
    assert.notEqual(uncommented, text);
    const { config, warnings } = load(uncommented);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.instances, { notes: ['alice', 'bob'] });
    assert.equal(config.services.notes?.env.DATABASE_PATH, '{instance_dir}/app.db');
  });

  it('refuses a name that cannot be a service name', () => {
    assert.throws(() => starterConfig({ name: 'My App', command: 'x' }), /service name "My App" must be lower case/);
  });

  it('refuses a command that would make the file invalid', () => {
    assert.throws(() => starterConfig({ name: 'x', command: 'app {socket}' }), ConfigError);
    assert.throws(() => starterConfig({ name: 'x', command: '' }), ConfigError);
  });
});
