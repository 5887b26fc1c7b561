// `[settings.tls]` and `ten serve --tls/--email/--staging` -> what the managed Caddy is told, or a
// clear refusal at start (a server that had HTTPS must not silently come up without it).
import { execFile } from 'node:child_process';
import type { ManagedTls } from '../../caddy/managed-config.js';
import type { TlsStatusJson } from '../api/contract.js';
import type { TlsSettings } from '../config/types.js';

export interface TlsOverrides {
  enabled?: boolean | undefined;
  email?: string | undefined;
  staging?: boolean | undefined;
}

export interface ResolvedTls {
  domain: string;
  email: string | undefined;
  staging: boolean;
  httpsPort: number;
  httpPort: number;
  issuer: 'internal' | 'acme';
  dnsProvider: string | undefined;
}

/** Names no public CA will certify: Caddy's internal CA signs these. */
export function isLocalDomain(domain: string): boolean {
  const d = domain.toLowerCase().replace(/\.$/, '');
  return d === 'localhost' || /\.(localhost|local|internal|test|home\.arpa)$/.test(d) || /^[\d.]+$/.test(d) || d.includes(':');
}

/** Undefined when TLS is off. Throws when it is on but cannot work as configured. */
export function resolveTls(settings: TlsSettings, overrides: TlsOverrides, serveDomain: string, caddyMode: 'managed' | 'external' | 'none'): ResolvedTls | undefined {
  const enabled = overrides.enabled ?? settings.enabled;
  if (!enabled) return undefined;
  if (caddyMode !== 'managed') {
    throw new Error(
      caddyMode === 'external'
        ? '[settings.tls] / --tls configure the Caddy tenement runs; with --caddy-admin your Caddy serves HTTPS (`ten caddy` prints a Caddyfile that does). Remove one of them'
        : '[settings.tls] / --tls need the managed Caddy; remove --no-caddy or disable TLS',
    );
  }
  const domain = settings.domain ?? serveDomain;
  const email = overrides.email ?? settings.acme_email;
  const issuer = isLocalDomain(domain) ? 'internal' : 'acme';
  if (issuer === 'acme' && !email) {
    throw new Error(`HTTPS for ${domain} uses Let's Encrypt, which needs an account email: set acme_email in [settings.tls] or pass --email`);
  }
  if (settings.https_port === settings.http_port) throw new Error(`[settings.tls] https_port and http_port are both ${settings.https_port}; they must differ`);
  return {
    domain,
    email,
    staging: overrides.staging ?? settings.staging,
    httpsPort: settings.https_port,
    httpPort: settings.http_port,
    issuer,
    dnsProvider: settings.dns_provider,
  };
}

/** Refuses a DNS provider the Caddy binary was not built with (`caddy list-modules`). */
export function checkDnsProvider(bin: string, provider: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['list-modules'], { timeout: 10_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(new Error(`cannot list the modules of ${bin} to check dns_provider "${provider}": ${err.message}`));
      const module = `dns.providers.${provider}`;
      if (stdout.split('\n').some((l) => l.trim() === module)) return resolve();
      const have = stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('dns.providers.'))
        .map((l) => l.slice('dns.providers.'.length));
      reject(
        new Error(
          `[settings.tls] dns_provider = "${provider}" needs the Caddy module ${module}, which ${bin} does not have ` +
            `(${have.length ? `it has: ${have.join(', ')}` : 'it has no DNS provider modules'}). Build Caddy with it (xcaddy build --with github.com/caddy-dns/${provider}) ` +
            'and pass --caddy-bin, or remove dns_provider to use the HTTP/TLS-ALPN challenges',
        ),
      );
    });
  });
}

export function managedTls(t: ResolvedTls, host: string, askUrl: string): ManagedTls {
  return {
    httpsListen: [`${host}:${t.httpsPort}`],
    httpsPort: t.httpsPort,
    ask: askUrl,
    issuer: t.issuer,
    email: t.email,
    staging: t.staging,
    dnsProvider: t.dnsProvider,
  };
}

export function tlsStatus(t: ResolvedTls | undefined, caddyMode: 'managed' | 'external' | 'none'): TlsStatusJson {
  if (!t) {
    return {
      enabled: false,
      domain: null,
      staging: false,
      https_port: 443,
      http_port: 80,
      recommendation:
        caddyMode === 'external'
          ? 'your Caddy (--caddy-admin) terminates TLS; `ten caddy` prints a Caddyfile with on-demand certificates'
          : 'enable [settings.tls] (or `ten serve --tls --email you@example.com`) for HTTPS in the managed Caddy',
      mode: caddyMode === 'external' ? 'external' : 'off',
    };
  }
  return { enabled: true, domain: t.domain, staging: t.staging, https_port: t.httpsPort, http_port: t.httpPort, recommendation: null, mode: 'managed' };
}
