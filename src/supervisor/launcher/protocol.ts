// Messages between the controller and its launcher process (see launcher.ts), over Node's IPC
// channel. Two requests: start a tenant (answered started or could not start, and later exited),
// and run a short command to its end (nft), answered with how it ended.

/** Start exactly this process detached (own session), output appended to the two files. */
export interface SpawnRequest {
  type: 'spawn';
  seq: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  stdoutLog: string;
  stderrLog: string;
}

/** Run a short command with `input` on stdin and wait for it (nothing of it outlives the answer). */
export interface RunRequest {
  type: 'run';
  seq: number;
  file: string;
  args: string[];
  input: string;
  timeoutMs: number;
}

export type LauncherRequest = SpawnRequest | RunRequest;

export interface SpawnedReply {
  type: 'spawned';
  seq: number;
  pid: number;
  /** Read by the launcher before it could reap the process: a start time even for one that died at once. */
  startTime: string | null;
}

export interface FailedReply {
  type: 'failed';
  seq: number;
  /** errno code of the failed spawn or open (ENOENT, EACCES, ...), when there was one. */
  code: string | undefined;
  message: string;
}

export interface ExitedReply {
  type: 'exited';
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RanReply {
  type: 'ran';
  seq: number;
  /** 0 on success; null when killed by a signal or when it could not run at all (see `error`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Why it did not run or was killed (ENOENT, the timeout), when it did not simply exit. */
  error: string | undefined;
}

export type LauncherReply = SpawnedReply | FailedReply | ExitedReply | RanReply;

/** The controller trusts only what has the shape it sent for: the channel is its own, but typed at a boundary. */
export function isLauncherReply(m: unknown): m is LauncherReply {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  if (r.type === 'spawned') return typeof r.seq === 'number' && typeof r.pid === 'number';
  if (r.type === 'failed') return typeof r.seq === 'number' && typeof r.message === 'string';
  if (r.type === 'exited') return typeof r.pid === 'number';
  if (r.type === 'ran') return typeof r.seq === 'number' && typeof r.stderr === 'string';
  return false;
}
