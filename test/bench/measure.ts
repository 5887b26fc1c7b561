// Small measuring tools shared by the benchmarks: CPU time of a process from /proc, wrk runs, and
// a bare Caddy started from a config file (no controller), for side-by-side reference figures.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../src/util/wait.js';

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Share of one core a process uses over `ms` (0.05 = 5 %). */
export async function cpuShare(pid: number, ms: number): Promise<number> {
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (cpuMs(pid) - c0) / (performance.now() - t0);
}

export interface WrkResult {
  rps: number;
  requests: number;
  errors: number;
  /** CPU the watched process used per request, in microseconds. */
  cpuUsPerReq: number;
}

export function hasWrk(): boolean {
  return ['/usr/bin/wrk', '/usr/local/bin/wrk'].some((p) => fs.existsSync(p)) || (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, 'wrk')));
}

/** Runs wrk (keep-alive, `connections` at once) against url with a Host header; watches `pid`'s CPU. */
export function wrk(url: string, host: string, opts: { seconds: number; connections?: number; pid: number }): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const c0 = cpuMs(opts.pid);
    execFile('wrk', ['-t1', `-c${opts.connections ?? 8}`, `-d${opts.seconds}s`, '-H', `Host: ${host}`, url], { timeout: (opts.seconds + 30) * 1000 }, (err, out) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}`));
      const c1 = cpuMs(opts.pid);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
      resolve({ rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), requests, errors, cpuUsPerReq: requests ? ((c1 - c0) * 1000) / requests : NaN });
    });
  });
}

/** A Caddy run from a JSON config file, for reference measurements. */
export async function bareCaddy(dir: string, config: unknown, probeUrl: string): Promise<{ pid: number; stop: () => Promise<void>; child: ChildProcess }> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'caddy.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const child = spawn('caddy', ['run', '--config', file], { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'caddy.log'), 'a')] });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`caddy exited; see ${dir}/caddy.log`);
      return fetch(probeUrl).then(
        () => true,
        () => false,
      );
    },
    { timeoutMs: 15_000, what: 'bare Caddy' },
  );
  return {
    pid: child.pid!,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
export const median = (xs: number[]): number => pct(xs, 50);
