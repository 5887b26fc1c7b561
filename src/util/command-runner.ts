// Running a short command to its end with input on stdin (nft). The controller hands these to its
// launcher process (src/supervisor/launcher/launcher.ts) so that the fork does not block its event
// loop; without one (tests, tools) they run here.
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** 0 on success; null when killed by a signal or when it could not run at all (see `error`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Why it did not run or was killed (ENOENT, the timeout), when it did not simply exit. */
  error: string | undefined;
}

export type CommandRunner = (file: string, args: string[], input: string, timeoutMs: number) => Promise<CommandResult>;

export const runHere: CommandRunner = (file, args, input, timeoutMs) =>
  new Promise((resolve) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number; signal?: NodeJS.Signals | null; killed?: boolean }) | null;
      const code = !e ? 0 : typeof e.code === 'number' ? e.code : null;
      const error = e && (typeof e.code === 'string' || e.killed) ? e.message : undefined;
      resolve({ code, signal: e?.signal ?? null, stderr: String(stderr), error });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
