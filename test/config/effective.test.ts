import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderEffectiveConfig } from '../../src/config/effective.js';
import { load } from './helpers.js';

const FULL = `
[settings]
data_dir = "data"
health_check_interval = 5
backoff_base_ms = 0
port_range_start = 20000
port_range_end = 20010

[service.api]
command = "node \\"my server.js\\" --port {port}"
health = "/health"
workdir = "./app"
runtime = "process"
idle_timeout = 300
restart = "always"
storage_persist = false
memory_limit_mb = 256
env = { "WEIRD KEY" = "a \\"quoted\\" value\\nwith newline", UNICODE = "héllo ✓", ESC = "{{literal}}" }

[service.worker]
command = "/usr/bin/worker"
args = ["--dir", "{instance_dir}", ""]

[instances]
api = ["prod", "staging"]
worker = ["w1"]

[routing]
default = "api"
[routing.subdomain]
jobs = "worker"
[routing.path]
"/api/v1" = "api"
`;

describe('effective config', () => {
  for (const comments of [true, false]) {
    it(`re-parses to the same config (comments: ${comments})`, () => {
      const { config } = load(FULL);
      const text = renderEffectiveConfig(config, { comments });
      assert.deepEqual(load(text, config.file).config, config);
    });
  }

  it('re-parses a minimal config, with no instances or routing', () => {
    const { config } = load('[service.api]\ncommand = "x"');
    const text = renderEffectiveConfig(config);
    assert.doesNotMatch(text, /\[instances\]|\[routing/);
    assert.deepEqual(load(text, config.file).config, config);
  });

  it('shows defaults, absolute paths and docs', () => {
    const text = renderEffectiveConfig(load(FULL).config);
    assert.match(text, /^data_dir = "\/srv\/app\/data"$/m);
    assert.match(text, /^workdir = "\/srv\/app\/app"$/m);
    assert.match(text, /^stop_timeout = 10$/m);
    assert.match(text, /^log_retention_mb = 256$/m);
    assert.match(text, /^request_timeout = 30$/m);
    assert.match(text, /^isolation = "process"$/m);
    assert.doesNotMatch(text, /^runtime/m);
    assert.match(text, /^# Seconds between SIGTERM and SIGKILL/m);
    assert.doesNotMatch(renderEffectiveConfig(load(FULL).config, { comments: false }), /^# Seconds/m);
  });
});
