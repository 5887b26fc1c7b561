// A Caddy "the user manages": started from a Caddyfile, reloaded and restarted like an operator would.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import got from 'got';
import { waitFor } from '../../src/util/wait.js';
import { stopGroup } from '../../src/supervisor/process-group.js';

export interface ExternalCaddy {
  adminAddress: string;
  caddyfile: string;
  accessLog: string;
  pid(): number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `caddy reload` from the Caddyfile: replaces the whole running config (wipes pushed routes). */
  reload(): Promise<void>;
}

export function externalCaddy(dir: string, opts: { adminPort: number; httpPort: number; domain: string }): ExternalCaddy {
  const accessLog = path.join(dir, 'user-access.log');
  const caddyfile = path.join(dir, 'Caddyfile');
  const d = opts.domain;
  const p = opts.httpPort;
  fs.writeFileSync(
    caddyfile,
    `{
	admin 127.0.0.1:${opts.adminPort}
}
http://${d}:${p}, http://*.${d}:${p}, http://*.*.${d}:${p} {
	bind 127.0.0.1
	log {
		output file ${accessLog}
		format json
	}
	respond "tenement is not connected" 503
}
http://www.localhost:${p} {
	bind 127.0.0.1
	respond "user site" 200
}
`,
  );
  const env = { ...process.env, XDG_DATA_HOME: path.join(dir, 'xdg-data'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config') };
  let pid: number | undefined;
  const adminAddress = `http://127.0.0.1:${opts.adminPort}`;
  const ready = () =>
    waitFor(
      async () => {
        try {
          await got(`${adminAddress}/config/`, { retry: { limit: 0 }, timeout: { request: 500 } });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, what: 'external Caddy admin' },
    );
  return {
    adminAddress,
    caddyfile,
    accessLog,
    pid: () => pid,
    async start() {
      const out = fs.openSync(path.join(dir, 'user-caddy.log'), 'a');
      const child = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { stdio: ['ignore', out, out], env, detached: true });
      fs.closeSync(out);
      pid = child.pid;
      child.unref();
      await ready();
    },
    async stop() {
      if (pid !== undefined) await stopGroup(pid, 5000);
      pid = undefined;
    },
    reload() {
      return new Promise((resolve, reject) =>
        execFile('caddy', ['reload', '--config', caddyfile, '--adapter', 'caddyfile', '--address', `127.0.0.1:${opts.adminPort}`, '--force'], { env }, (err, _o, stderr) =>
          err ? reject(new Error(`caddy reload failed: ${stderr}`)) : resolve(),
        ),
      );
    },
  };
}
