// [settings.tls] in the managed Caddy, with Caddy's internal issuer for a local domain: HTTPS
// answers with a chain that verifies against that CA only (never installed into the system trust
// store), HTTP redirects to HTTPS, /api/tls/status reports it; a DNS provider the Caddy binary
// lacks is refused with a clear error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'node:test';
import { Controller } from '../../src/controller/controller.js';
import { buildManagedConfig, LETS_ENCRYPT_STAGING } from '../../caddy/managed-config.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../../src/util/wait.js';
import { freePort } from '../helpers/controller-process.js';
import { withStack } from '../helpers/stack.js';
import { tenantConfig } from '../helpers/tenant-config.js';
import { tempDir } from '../helpers/temp-dir.js';

function httpsGet(port: number, host: string, ca: string | undefined, p = '/'): Promise<{ status: number; body: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: p, servername: host, headers: { host }, ca, agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, issuer: String((res.socket as tls.TLSSocket).getPeerCertificate().issuer?.CN ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function httpGet(port: number, host: string, p: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, headers: { host }, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      })
      .on('error', reject);
  });
}

test('HTTPS from [settings.tls] with the internal issuer: valid chain from that CA, HTTP redirects, status endpoint', async () => {
  const httpsPort = await freePort();
  const httpPort = await freePort();
  await withStack(
    (dataDir) =>
      tenantConfig(dataDir, {
        services: { notes: '' },
        instances: { notes: ['alice'] },
        extra: `[settings.tls]\nenabled = true\nhttps_port = ${httpsPort}\nhttp_port = ${httpPort}\n`,
      }),
    async (s) => {
      const rootFile = path.join(s.dataDir, '_caddy', 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt');
      const host = 'alice.notes.localhost';
      // The first handshake gets an on-demand certificate (approved by /caddy/ask); the root of
      // Caddy's local CA exists once the PKI app has started.
      const first = await waitFor(
        async () => {
          if (!fs.existsSync(rootFile)) return undefined;
          try {
            return await httpsGet(httpsPort, host, fs.readFileSync(rootFile, 'utf8'));
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 30_000, what: `HTTPS for ${host} verified against ${rootFile}` },
      );
      assert.equal(first.status, 200, first.body);
      assert.equal((JSON.parse(first.body) as { id: string }).id, 'alice');
      assert.match(first.issuer, /Caddy Local Authority/);
      // Without that CA the chain does not verify: it was not installed into the system trust store.
      await assert.rejects(httpsGet(httpsPort, host, undefined), /self[- ]signed|unable to (get|verify)/i);
      // An unknown host gets no certificate (the ask endpoint refuses it).
      await assert.rejects(httpsGet(httpsPort, 'ghost.notes.localhost', fs.readFileSync(rootFile, 'utf8')));

      const redirect = await httpGet(httpPort, host, '/some/path?x=1');
      assert.equal(redirect.status, 308);
      assert.equal(redirect.location, `https://${host}:${httpsPort}/some/path?x=1`);

      const caddyJson = JSON.parse(fs.readFileSync(path.join(s.dataDir, '_caddy', 'caddy.json'), 'utf8')) as { apps: { pki: unknown } };
      assert.deepEqual(caddyJson.apps.pki, { certificate_authorities: { local: { install_trust: false } } });

      const status = await fetch(`http://127.0.0.1:${s.port}/api/tls/status`, { headers: { authorization: 'Bearer none' } });
      assert.equal(status.status, 401, 'the status endpoint needs a token, like the rest of /api');
    },
  );
});

test('ACME settings become the issuer (email, staging CA, DNS challenge); a DNS provider Caddy lacks is refused', async () => {
  const config = buildManagedConfig({
    adminListen: 'unix//x',
    httpListen: [':80'],
    accessLogFile: '/x.log',
    gracePeriodSec: 10,
    route: { '@id': 'tenement', handle: [] },
    tls: { httpsListen: [':443'], httpsPort: 443, ask: 'http://127.0.0.1:8080/caddy/ask', issuer: 'acme', email: 'ops@example.com', staging: true, dnsProvider: 'cloudflare' },
  }) as {
    apps: { tls: { automation: { on_demand: unknown; policies: Array<{ issuers: unknown[]; on_demand: boolean }> } }; http: { servers: Record<string, { listen: string[] }> } };
  };
  assert.deepEqual(config.apps.tls.automation.on_demand, { ask: 'http://127.0.0.1:8080/caddy/ask' });
  assert.deepEqual(config.apps.tls.automation.policies[0]!.issuers, [
    { module: 'acme', email: 'ops@example.com', ca: LETS_ENCRYPT_STAGING, challenges: { dns: { provider: { name: 'cloudflare' } } } },
  ]);
  assert.deepEqual(config.apps.http.servers.tenement!.listen, [':443']);
  assert.deepEqual(config.apps.http.servers.tenement_redirect!.listen, [':80']);

  // Debian's Caddy has no DNS provider modules: a clear refusal, before anything starts.
  const { dir, cleanup } = tempDir('tenement-tls-dns-');
  try {
    const file = path.join(dir, 'tenement.toml');
    fs.writeFileSync(file, tenantConfig(path.join(dir, 'data'), { extra: '[settings.tls]\nenabled = true\nacme_email = "ops@example.com"\ndns_provider = "cloudflare"\n' }));
    await assert.rejects(
      Controller.start({ configFile: file, host: '127.0.0.1', port: await freePort(), domain: 'example.com', caddy: { mode: 'managed', bin: 'caddy' }, log: silentLogger }),
      /dns_provider = "cloudflare" needs the Caddy module dns\.providers\.cloudflare, which caddy does not have/,
    );
    // A public domain without an ACME email is refused too.
    fs.writeFileSync(file, tenantConfig(path.join(dir, 'data'), { extra: '[settings.tls]\nenabled = true\n' }));
    await assert.rejects(
      Controller.start({ configFile: file, host: '127.0.0.1', port: await freePort(), domain: 'example.com', caddy: { mode: 'managed', bin: 'caddy' }, log: silentLogger }),
      /needs an account email: set acme_email in \[settings\.tls\] or pass --email/,
    );
  } finally {
    cleanup();
  }
});
