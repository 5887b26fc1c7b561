// Upgrading the controller in place without systemd: the running controller starts the new binary
// with its listening socket (fd 3) and an IPC channel, and they hand over in steps:
//   new: config valid, database readable by this version   -> "preflight"
//   old: stops accepting (the socket stays open in the new process: connections queue in its
//        backlog), finishes requests in flight, detaches from tenants, releases the data dir
//                                                          -> "released"
//   new: takes the data dir, adopts tenants and Caddy, accepts -> "ready"; old exits 0.
// If the new controller fails before "released", the old one simply keeps running; after it, the
// old one starts again on its own (binding the port anew).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { HANDOVER_FD_ENV, HANDOVER_FROM_ENV } from './inherited-listener.js';
import { CONTROLLER_NODE_FLAGS } from '../cli/node-flags.js';

export type HandoverMessage = { type: 'preflight'; version: string } | { type: 'released' } | { type: 'ready'; pid: number; version: string } | { type: 'failed'; error: string };

export interface UpgradeRequest {
  /** The `ten` to run; default: the running one (re-exec after an in-place install). */
  bin?: string;
  requestedAt: string;
}

export interface UpgradeResult {
  ok: boolean;
  from: { pid: number; version: string };
  to?: { pid: number; version: string };
  error?: string;
  at: string;
}

export function upgradeRequestFile(dataDir: string): string {
  return path.join(dataDir, '_run', 'upgrade-request.json');
}

export function upgradeResultFile(dataDir: string): string {
  return path.join(dataDir, '_run', 'upgrade-result.json');
}

/** argv to start `bin` with the same arguments this controller was started with. */
export function commandFor(bin: string, argv: string[] = process.argv): { file: string; args: string[] } {
  const rest = argv.slice(2);
  // A .js entry point (or this very script) runs under the current node; anything else is run as is.
  if (bin.endsWith('.js') || bin.endsWith('.mjs')) return { file: process.execPath, args: [...CONTROLLER_NODE_FLAGS, bin, ...rest] };
  return { file: bin, args: rest };
}

function waitMessage(child: ChildProcess, type: HandoverMessage['type'], timeoutMs: number): Promise<HandoverMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`the new controller did not report "${type}" within ${timeoutMs / 1000} s`)), timeoutMs);
    const onMessage = (m: HandoverMessage) => {
      if (m.type === 'failed') finish(new Error(`the new controller failed: ${m.error}`));
      else if (m.type === type) finish(undefined, m);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(new Error(`the new controller exited (${signal ?? `code ${code}`}) before "${type}"; see its output above`));
    const finish = (err?: Error, m?: HandoverMessage) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export interface OldSideOptions {
  bin: string;
  listenerFd: number;
  /** Stops accepting, drains, detaches from tenants and releases the data dir. */
  release: () => Promise<void>;
  log: Logger;
  timeoutMs?: number;
}

/** Runs the old side of a handover. Resolves with the new controller's pid once it is ready. */
export async function handOver(opts: OldSideOptions): Promise<{ pid: number; version: string; released: boolean }> {
  const { file, args } = commandFor(opts.bin);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  opts.log.info('upgrade: starting the new controller', { bin: opts.bin });
  const child = spawn(file, args, {
    // Its own session: it must outlive us, and a terminal's Ctrl-C for us is not for it.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', opts.listenerFd, 'ipc'],
    env: { ...process.env, [HANDOVER_FD_ENV]: '3', [HANDOVER_FROM_ENV]: String(process.pid) },
  });
  let released = false;
  try {
    const pre = await waitMessage(child, 'preflight', timeoutMs);
    opts.log.info('upgrade: new controller passed its checks; handing over', { pid: child.pid, version: (pre as { version: string }).version });
    await opts.release();
    released = true;
    child.send({ type: 'released' } satisfies HandoverMessage);
    const ready = (await waitMessage(child, 'ready', timeoutMs)) as { pid: number; version: string };
    child.disconnect();
    child.unref();
    return { pid: ready.pid, version: ready.version, released };
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    throw Object.assign(err as Error, { released });
  }
}

/** The new side: called by `ten serve` when started by a handover. */
export class HandoverClient {
  private released: Promise<void> | undefined;

  constructor(readonly fromPid: number) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): HandoverClient | undefined {
    const from = env[HANDOVER_FROM_ENV];
    delete env[HANDOVER_FROM_ENV];
    if (!from || typeof process.send !== 'function') return undefined;
    return new HandoverClient(Number(from));
  }

  private send(m: HandoverMessage): void {
    process.send?.(m);
  }

  /** Tells the old controller we are good to go, and resolves once it has let go of the data dir. */
  waitForRelease(version: string, timeoutMs = 60_000): Promise<void> {
    this.released ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the old controller (pid ${this.fromPid}) did not release the data dir within ${timeoutMs / 1000} s`)), timeoutMs);
      const onMessage = (m: HandoverMessage) => {
        if (m.type !== 'released') return;
        clearTimeout(timer);
        process.off('message', onMessage);
        resolve();
      };
      process.on('message', onMessage);
      this.send({ type: 'preflight', version });
    });
    return this.released;
  }

  ready(version: string): void {
    this.send({ type: 'ready', pid: process.pid, version });
    // Let the old controller exit; nothing more to say.
    process.disconnect?.();
  }

  failed(error: string): void {
    try {
      this.send({ type: 'failed', error });
    } catch {
      // the channel is gone: the old controller has noticed our exit anyway
    }
  }
}

export function readUpgradeRequest(dataDir: string): UpgradeRequest | undefined {
  const file = upgradeRequestFile(dataDir);
  try {
    const req = JSON.parse(fs.readFileSync(file, 'utf8')) as UpgradeRequest;
    fs.rmSync(file, { force: true });
    return req;
  } catch {
    return undefined;
  }
}

export function writeUpgradeResult(dataDir: string, result: UpgradeResult): void {
  fs.mkdirSync(path.dirname(upgradeResultFile(dataDir)), { recursive: true });
  fs.writeFileSync(upgradeResultFile(dataDir), JSON.stringify(result, null, 1));
}
