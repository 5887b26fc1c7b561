import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, statusClass } from '../../src/metrics/metrics.js';
import type { InstanceRecord } from '../../src/store/types.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';
import { boundedRequestLabels } from '../../src/metrics/request-labels.js';

function record(service: string, id: string, observed: InstanceRecord['observed'], health: InstanceRecord['health'] = 'healthy'): InstanceRecord {
  return {
    service,
    id,
    port: 1,
    pid: null,
    pidStartTime: null,
    desired: 'running',
    observed,
    health,
    weight: 100,
    healthFailures: 0,
    restartCount: 0,
    createdAt: 0,
    startedAt: null,
    lastActivityAt: null,
    lastError: null,
    lastExit: null,
  };
}

describe('Metrics', () => {
  it('renders valid Prometheus text with tenement_* names and service/instance labels', async () => {
    const instances = [record('api', 'alice', 'running'), record('api', 'bob', 'asleep', 'unknown'), record('notes', 'x', 'running')];
    const m = new Metrics({ instances: () => instances });
    m.observeRequest({ service: 'api', instance: 'alice', status: 200, durationMs: 12 });
    m.observeRequest({ service: 'api', instance: 'alice', status: 503, durationMs: 2500 });
    m.observeWake({ service: 'api', instance: 'bob' }, 140);
    m.observeRestart({ service: 'api', instance: 'alice' });
    m.observeHealthCheck({ service: 'api', instance: 'alice' }, false);
    m.observeCaddyPush(true, 4);
    m.observeCaddyPush(false, 30);
    m.observeLogLines({ service: 'api', instance: 'alice' }, 7);
    const text = await m.render();
    const samples = parsePrometheusText(text);
    for (const s of samples) assert.match(s.name, /^tenement_/);
    assert.equal(sampleValue(samples, 'tenement_requests_total', { service: 'api', instance: 'alice', code: '2xx' }), 1);
    assert.equal(sampleValue(samples, 'tenement_requests_total', { code: '5xx' }), 1);
    assert.equal(sampleValue(samples, 'tenement_request_duration_seconds_count', { instance: 'alice' }), 2);
    assert.equal(sampleValue(samples, 'tenement_request_duration_seconds_bucket', { instance: 'alice', le: '0.025' }), 1);
    assert.equal(sampleValue(samples, 'tenement_instance_wakes_total', { instance: 'bob' }), 1);
    assert.equal(sampleValue(samples, 'tenement_instance_cold_wake_duration_seconds_bucket', { instance: 'bob', le: '0.2' }), 1);
    assert.equal(sampleValue(samples, 'tenement_instance_restarts_total', { instance: 'alice' }), 1);
    assert.equal(sampleValue(samples, 'tenement_health_checks_total', { instance: 'alice', result: 'fail' }), 1);
    assert.equal(sampleValue(samples, 'tenement_caddy_config_pushes_total'), 2);
    assert.equal(sampleValue(samples, 'tenement_caddy_config_push_failures_total'), 1);
    assert.equal(sampleValue(samples, 'tenement_caddy_config_push_duration_seconds_count'), 2);
    assert.equal(sampleValue(samples, 'tenement_log_lines_indexed_total', { instance: 'alice' }), 7);
    assert.equal(sampleValue(samples, 'tenement_instances', { service: 'api', state: 'running' }), 1);
    assert.equal(sampleValue(samples, 'tenement_instances', { service: 'api', state: 'asleep' }), 1);
    assert.equal(sampleValue(samples, 'tenement_instances', { service: 'api', state: 'failed' }), 0);
    assert.equal(sampleValue(samples, 'tenement_instances_up'), 2);
    assert.equal(sampleValue(samples, 'tenement_instance_health', { instance: 'bob', state: 'unknown' }), 1);

    // State gauges follow the source at every scrape.
    instances.pop();
    const again = parsePrometheusText(await m.render());
    assert.equal(sampleValue(again, 'tenement_instances', { service: 'notes' }), undefined);
  });

  it('request counters move with observeRequest, and forgetInstance drops the series', async () => {
    const m = new Metrics();
    const count = async () => sampleValue(parsePrometheusText(await m.render()), 'tenement_requests_total', { service: 'api', instance: 'z', code: '4xx' }) ?? 0;
    assert.equal(await count(), 0);
    for (let i = 0; i < 3; i++) m.observeRequest({ service: 'api', instance: 'z', status: 404, durationMs: 1 });
    assert.equal(await count(), 3);
    m.forgetInstance({ service: 'api', instance: 'z' });
    assert.equal((await m.render()).includes('instance="z"'), false);
  });

  it('status classes', () => {
    assert.equal(statusClass(204), '2xx');
    assert.equal(statusClass(599), '5xx');
    assert.equal(statusClass(0), 'other');
  });
});

describe('request labels (hardening #1)', () => {
  it('only known services and instances become labels', () => {
    const known = { service: (s: string) => s === 'api', instance: (s: string, id: string) => s === 'api' && id === 'alice' };
    const o = (service: string, instance: string) => ({ service, instance, status: 200, durationMs: 1 });
    assert.deepEqual(boundedRequestLabels(o('api', 'alice'), known), o('api', 'alice'));
    assert.deepEqual(boundedRequestLabels(o('api', ''), known), o('api', ''));
    assert.deepEqual(boundedRequestLabels(o('api', 'zed'), known), o('_unknown', ''));
    assert.deepEqual(boundedRequestLabels(o('x'.repeat(5000), ''), known), o('_unknown', ''));
  });
});
