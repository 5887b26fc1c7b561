// The launcher process (see launcher.ts): starts tenants for the controller and reports their exits.
// It does nothing else, so its own memory stays small, which is what makes its forks cheap. It
// exits when the controller's channel closes (the controller exited or is being replaced); the
// tenants it started are detached and keep running, to be adopted by the next controller.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { runHere } from '../../util/command-runner.js';
import { readProcStartTime } from '../../util/proc.js';
import type { LauncherReply, LauncherRequest, RunRequest, SpawnRequest } from './protocol.js';

function send(reply: LauncherReply): void {
  // After a disconnect there is nobody to tell; the process is about to exit.
  if (process.connected) process.send?.(reply);
}

function launch(req: SpawnRequest): void {
  let out: number | undefined;
  let err: number | undefined;
  try {
    out = fs.openSync(req.stdoutLog, 'a', 0o600);
    err = fs.openSync(req.stderrLog, 'a', 0o600);
    const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', out, err] });
    child.once('spawn', () => {
      const pid = child.pid!;
      send({ type: 'spawned', seq: req.seq, pid, startTime: readProcStartTime(pid) });
      child.once('exit', (code, signal) => send({ type: 'exited', pid, code, signal }));
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) send({ type: 'failed', seq: req.seq, code: e.code, message: e.message });
    });
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    send({ type: 'failed', seq: req.seq, code: x.code, message: x.message });
  } finally {
    if (out !== undefined) fs.closeSync(out);
    if (err !== undefined) fs.closeSync(err);
  }
}

function run(req: RunRequest): void {
  void runHere(req.file, req.args, req.input, req.timeoutMs).then((r) => send({ type: 'ran', seq: req.seq, ...r }));
}

process.on('message', (m: LauncherRequest) => {
  if (m?.type === 'spawn') launch(m);
  else if (m?.type === 'run') run(m);
});
process.on('disconnect', () => process.exit(0));
// It ends with its controller's channel, not with a signal sent to the controller's process group
// (Ctrl-C on `ten serve`): the controller may still be stopping tenants through it. Handlers, not
// SIG_IGN, so the tenants it starts get the default dispositions back at exec.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);
