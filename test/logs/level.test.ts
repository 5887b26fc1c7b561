import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectLevel } from '../../src/logs/level.js';

describe('detectLevel', () => {
  it('reads JSON level fields, names and pino numbers', () => {
    assert.equal(detectLevel('{"level":"warning","msg":"x"}', 'stdout'), 'warn');
    assert.equal(detectLevel('{"level":50,"msg":"x"}', 'stdout'), 'error');
    assert.equal(detectLevel('{"level":20,"msg":"x"}', 'stderr'), 'debug');
    assert.equal(detectLevel('{"severity":"ERROR"}', 'stdout'), 'error');
    assert.equal(detectLevel('{"msg":"no level"}', 'stdout'), 'info');
  });

  it('reads level words at the start, after timestamps and in brackets', () => {
    const cases: [string, string][] = [
      ['ERROR something broke', 'error'],
      ['error: lower case at the start', 'error'],
      ['[WARN] disk at 90%', 'warn'],
      ['2024-01-01 12:00:00 INFO started', 'info'],
      ['[2024-01-01T12:00:00Z DEBUG app] details', 'debug'],
      ['ERROR:root:python logging', 'error'],
      ['FATAL out of memory', 'error'],
      ['GET /errors 200', 'info'],
      ['the error rate is fine', 'info'],
    ];
    for (const [text, level] of cases) assert.equal(detectLevel(text, 'stdout'), level, text);
  });

  it('stderr defaults to warn; continuation lines keep the previous level', () => {
    assert.equal(detectLevel('plain', 'stderr'), 'warn');
    assert.equal(detectLevel('plain', 'stdout'), 'info');
    assert.equal(detectLevel('    at foo (x.js:1:1)', 'stderr', 'error'), 'error');
    assert.equal(detectLevel('not indented', 'stderr', 'error'), 'warn');
  });
});
