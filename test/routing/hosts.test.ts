import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingConfig } from '../../src/config/types.js';
import { bareHost, resolveHost, tenantOfHost, type HostTarget } from '../../src/routing/hosts.js';

describe('hosts', () => {
  it('bareHost lower-cases and drops a port, IPv6 brackets kept', () => {
    const cases: [string, string][] = [
      ['Alice.Notes.Example.COM', 'alice.notes.example.com'],
      ['alice.notes.localhost:8000', 'alice.notes.localhost'],
      [' example.com ', 'example.com'],
      ['[::1]:8080', '[::1]'],
      ['[::1]', '[::1]'],
      ['host:notaport', 'host:notaport'],
    ];
    for (const [input, want] of cases) assert.equal(bareHost(input), want, input);
  });

  it('resolveHost maps instance, service, aliased service and root hosts; others are not ours', () => {
    const routing: RoutingConfig = { default: undefined, subdomain: { www: 'web' }, path: {} };
    const withDefault: RoutingConfig = { ...routing, default: 'web' };
    const cases: [string, RoutingConfig, HostTarget | undefined][] = [
      ['alice.notes.example.com', routing, { kind: 'instance', service: 'notes', id: 'alice' }],
      ['ALICE.notes.example.com:443', routing, { kind: 'instance', service: 'notes', id: 'alice' }],
      ['notes.example.com', routing, { kind: 'service', service: 'notes' }],
      ['www.example.com', routing, { kind: 'service', service: 'web' }],
      ['example.com', routing, { kind: 'root' }],
      ['example.com', withDefault, { kind: 'service', service: 'web' }],
      ['a.b.notes.example.com', routing, undefined],
      ['example.org', routing, undefined],
      ['evilexample.com', routing, undefined],
    ];
    for (const [host, r, want] of cases) assert.deepEqual(resolveHost(host, 'Example.com', r), want, host);
  });

  it('tenantOfHost names an instance or a service route, never the root domain or a name that is no DNS label', () => {
    const routing: RoutingConfig = { default: undefined, subdomain: { www: 'web' }, path: {} };
    assert.deepEqual(tenantOfHost('Alice.Notes.example.com', 'example.com', routing), { service: 'notes', id: 'alice' });
    assert.deepEqual(tenantOfHost('WWW.example.com', 'example.com', routing), { service: 'web', id: undefined });
    assert.equal(tenantOfHost('example.com', 'example.com', routing), undefined);
    assert.equal(tenantOfHost('al_ice.notes.example.com', 'example.com', routing), undefined);
    assert.equal(tenantOfHost('-x.example.com', 'example.com', routing), undefined);
  });
});
