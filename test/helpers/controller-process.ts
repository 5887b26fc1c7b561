// Runs `ten serve` as a real process, the way an operator would, for end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import got from 'got';
import { TEN_BIN } from './paths.js';
import { waitFor } from '../../src/util/wait.js';

export interface ControllerProcess {
  pid: number;
  port: number;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  log(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  config: string;
  port?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  logFile: string;
  /** Wait for /health; false for starts expected to fail. */
  waitReady?: boolean;
  timeoutMs?: number;
}

export async function startController(opts: StartOptions): Promise<ControllerProcess> {
  const port = opts.port ?? (await freePort());
  const out = fs.openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [TEN_BIN, 'serve', '--config', opts.config, '--port', String(port), ...(opts.args ?? ['--no-caddy'])], {
    stdio: ['ignore', out, out],
    env: { ...process.env, TENEMENT_LOG_FORMAT: 'json', ...opts.env },
  });
  fs.closeSync(out);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const proc: ControllerProcess = {
    pid: child.pid!,
    port,
    child,
    logFile: opts.logFile,
    exited,
    log: () => fs.readFileSync(opts.logFile, 'utf8'),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (hasExited) return;
      child.kill(signal);
      await exited;
    },
  };
  if (opts.waitReady ?? true) {
    await waitFor(
      async () => {
        if (hasExited) throw new Error(`controller exited during start:\n${proc.log()}`);
        try {
          const res = await got(`http://127.0.0.1:${port}/health`, { retry: { limit: 0 }, throwHttpErrors: false, timeout: { request: 1000 } });
          return res.statusCode === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: opts.timeoutMs ?? 20_000, what: 'controller /health' },
    );
  }
  return proc;
}

/** Runs `ten ...` to completion and returns its output. */
export function runTen(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TEN_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', TENEMENT_LOG_FORMAT: 'json', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ten ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
