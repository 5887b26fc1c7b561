// `ten caddy`: the Caddyfile for a Caddy you run in front of tenement, printed or written to
// --output, as tenement 0.2's `ten caddy` did. It is now Caddyfile.example filled in (the
// controller pushes its routes into that Caddy; on-demand TLS asks the controller's /caddy/ask),
// not a catch-all `reverse_proxy localhost:PORT`, which would send every tenant request through
// the controller (that still works, see docs/upgrading.md, but is the slow path).
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { readCaddyfileExample, renderCaddyfile } from '../../install/caddyfile.js';
import { VERSION } from '../../version.js';
import { print, say } from '../client/output.js';
import { parsePort } from '../parse.js';

interface CaddyFlags {
  domain: string;
  port: number;
  output?: string;
  install?: boolean;
  systemd?: boolean;
}

export function registerCaddy(program: Command): void {
  program
    .command('caddy')
    .description('print (or --output FILE) the Caddyfile for running tenement behind a Caddy you manage')
    .requiredOption('-d, --domain <domain>', 'your domain: serves it, *.domain and *.*.domain')
    .option('-p, --port <port>', "the controller's port (`ten serve --port`), for the on-demand TLS ask URL", parsePort, 8080)
    .option('-o, --output <file>', 'write the Caddyfile there instead of printing it')
    .option('--install', 'tenement 0.2 installed Caddy here; now: install it with your package manager (Debian: apt-get install caddy)')
    .option('--systemd', 'tenement 0.2 wrote /etc/caddy/Caddyfile and restarted caddy.service here; now: `ten install --caddy --domain D`')
    .action((opts: CaddyFlags) => {
      if (opts.install || opts.systemd) {
        throw new Error(
          `ten caddy ${opts.install ? '--install' : '--systemd'} is no longer supported: install Caddy with your package manager (Debian/Ubuntu: apt-get install caddy), ` +
            'then `ten install --caddy --domain D` writes the Caddyfile and the systemd unit that uses it (see docs/systemd.md)',
        );
      }
      const serveCommand = `ten serve --domain ${opts.domain} --port ${opts.port} --caddy-admin unix//run/caddy/admin.sock`;
      const text = renderCaddyfile(readCaddyfileExample(), { domain: opts.domain, port: opts.port, version: VERSION, serveCommand })
        .replace('written by `ten install --caddy`', 'written by `ten caddy`')
        .replace('`ten uninstall` removes it as long as it is unchanged.', 'Start the controller with --caddy-admin pointing at the admin socket below.');
      if (opts.output) {
        const file = path.resolve(opts.output);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        say().success(`Caddyfile written to ${file}; run the controller with: ${serveCommand}`);
        return;
      }
      print(text.replace(/\n$/, ''));
    });
}
