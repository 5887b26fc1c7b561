// What `ten install` writes, as a list of files with their content: a pure function of the
// resolved options (and of Caddyfile.example's text), so it is easy to test and to print.
import path from 'node:path';
import { quote } from 'shell-quote';
import { renderCaddyfile } from './caddyfile.js';
import type { FileRole } from './manifest.js';
import { CADDY_DROP_IN_PATH, SERVICE_PATH, SOCKET_PATH } from './paths.js';
import { renderCaddyDropIn, renderServiceUnit, renderSocketUnit, serveArgs } from './units.js';

export interface InstallRequest {
  version: string;
  /** The program that runs `ten` (see bin.ts). */
  ten: string[];
  port: number;
  domain?: string | undefined;
  /** Config file on the target system. */
  configFile: string;
  user?: string | undefined;
  group?: string | undefined;
  socketActivation: boolean;
  caddy: boolean;
  caddyfilePath: string;
  /** Caddyfile.example's text; needed when `caddy` is set. */
  caddyfileTemplate?: string | undefined;
  /** More `ten serve` arguments (--serve-args). */
  serveExtra: string[];
}

export interface PlannedFile {
  /** Path on the target system. */
  path: string;
  content: string;
  role: FileRole;
}

/** `ten serve ...` for people to read (shell-quoted). */
export function serveCommandText(r: InstallRequest): string {
  return `ten ${quote(serveArgs({ port: r.port, domain: r.domain, externalCaddy: r.caddy, extra: r.serveExtra }))}`;
}

export function planInstall(r: InstallRequest): PlannedFile[] {
  if (r.caddy && !r.domain) throw new Error('--caddy needs --domain: the Caddyfile serves that domain and its subdomains');
  const args = serveArgs({ port: r.port, domain: r.domain, externalCaddy: r.caddy, extra: r.serveExtra });
  const files: PlannedFile[] = [
    {
      path: SERVICE_PATH,
      role: 'service',
      content: renderServiceUnit({
        version: r.version,
        ten: r.ten,
        args,
        configFile: r.configFile,
        workingDirectory: path.posix.dirname(r.configFile),
        user: r.user,
        group: r.group,
        socketActivation: r.socketActivation,
        externalCaddy: r.caddy,
      }),
    },
  ];
  if (r.socketActivation) files.push({ path: SOCKET_PATH, role: 'socket', content: renderSocketUnit({ version: r.version, port: r.port }) });
  if (r.caddy) {
    if (r.caddyfileTemplate === undefined) throw new Error('internal: --caddy without the Caddyfile.example text');
    files.push({ path: CADDY_DROP_IN_PATH, role: 'caddy-drop-in', content: renderCaddyDropIn({ version: r.version }) });
    files.push({
      path: r.caddyfilePath,
      role: 'caddyfile',
      content: renderCaddyfile(r.caddyfileTemplate, { domain: r.domain!, port: r.port, version: r.version, serveCommand: serveCommandText(r) }),
    });
  }
  return files;
}
