// The Caddyfile `ten install --caddy` writes: Caddyfile.example (shipped in the package) with the
// domain and the controller port filled in and its header replaced. A pure function of the
// template, so tests can check what any template becomes.
import fs from 'node:fs';

const EXAMPLE_DOMAIN = 'example.com';
const ASK_URL = /http:\/\/127\.0\.0\.1:8080\/caddy\/ask/g;
const SITE_LINE = /^example\.com, \*\.example\.com, \*\.\*\.example\.com \{$/m;

/** Caddyfile.example of this package (dist/src/install -> package root). */
export function readCaddyfileExample(): string {
  return fs.readFileSync(new URL('../../../Caddyfile.example', import.meta.url), 'utf8');
}

/** A host name Caddy can serve: DNS labels, at least one (localhost works). Lowercased. */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
  if (d.length > 253 || !new RegExp(`^${label}(?:\\.${label})*$`).test(d)) {
    throw new Error(`--domain ${JSON.stringify(domain)} is not a domain name (like example.com: letters, digits, hyphens and dots)`);
  }
  return d;
}

export interface CaddyfileOptions {
  domain: string;
  /** The controller's port, for the on-demand TLS `ask` URL. */
  port: number;
  version: string;
  /** How the controller is started, for the header. */
  serveCommand: string;
}

export function renderCaddyfile(template: string, o: CaddyfileOptions): string {
  const domain = normalizeDomain(o.domain);
  const lines = template.split('\n');
  const globalStart = lines.findIndex((l) => l.trim() === '{');
  if (globalStart < 0) throw new Error('Caddyfile.example has no global options block; cannot make a Caddyfile from it');
  if (!SITE_LINE.test(template)) throw new Error(`Caddyfile.example has no site line for ${EXAMPLE_DOMAIN}; cannot make a Caddyfile from it`);
  if ((template.match(ASK_URL) ?? []).length !== 1) throw new Error('Caddyfile.example has no (or more than one) on-demand TLS ask URL for 127.0.0.1:8080');
  const body = lines
    .slice(globalStart)
    .join('\n')
    .replace(ASK_URL, `http://127.0.0.1:${o.port}/caddy/ask`)
    .replace(/\bexample\.com\b/g, domain);
  const head = [
    `# Caddyfile for tenement on ${domain}: written by \`ten install --caddy\` (tenement ${o.version}) from`,
    '# Caddyfile.example. `ten uninstall` removes it as long as it is unchanged.',
    '#',
    '# The controller (tenement.service) runs:',
    `#   ${o.serveCommand}`,
    '#',
    '# tenement adds ONE route (with "@id": "tenement") at the top of the server below, through Caddy\'s',
    '# admin API, and never edits anything else. `caddy reload` from this file wipes that route;',
    '# tenement notices within a second and puts it back. See docs/caddy.md.',
  ];
  return `${head.join('\n')}\n${body}`;
}
