import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, suggest } from '../../src/config/suggest.js';

const KEYS = ['command', 'args', 'health', 'env', 'idle_timeout', 'startup_timeout', 'request_timeout', 'restart'];

describe('suggest', () => {
  it('finds the nearest key for typos', () => {
    assert.equal(suggest('idle_timout', KEYS), 'idle_timeout');
    assert.equal(suggest('comand', KEYS), 'command');
    assert.equal(suggest('restrat', KEYS), 'restart');
  });

  it('counts swapped neighbours as one slip', () => {
    assert.equal(suggest('prot', ['name', 'id', 'port', 'data_dir']), 'port');
    assert.equal(suggest('defualt', ['default', 'subdomain', 'path']), 'default');
  });

  it('treats case and - versus _ as the same key', () => {
    assert.equal(suggest('idle-timeout', KEYS), 'idle_timeout');
    assert.equal(suggest('Health', KEYS), 'health');
  });

  it('stays quiet when nothing is close', () => {
    assert.equal(suggest('healthcheck_url', KEYS), undefined);
    assert.equal(suggest('zzz', KEYS), undefined);
    assert.equal(suggest('x', []), undefined);
  });

  it('formats a hint only when there is a suggestion', () => {
    assert.equal(didYouMean('comand', KEYS), ' (did you mean `command`?)');
    assert.equal(didYouMean('nothing-like-it', KEYS), '');
    assert.equal(
      didYouMean('servics', ['service'], (s) => `[${s}]`),
      ' (did you mean [service]?)',
    );
  });
});
