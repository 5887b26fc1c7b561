// How tenement starts and stops the Caddy it manages: like a tenant process (detached, output to a
// file, the controller's listener not inherited), handed to caddy/ManagedCaddy, which cannot
// import src/ itself.
import type { CaddyProcessHost } from '../../caddy/managed-caddy.js';
import { ProcessRuntime } from '../supervisor/runtime/process.js';
import { isSameProcess } from '../util/proc.js';

export function caddyProcessHost(opts: { noInherit?: readonly number[] } = {}): CaddyProcessHost {
  const runtime = new ProcessRuntime(opts);
  return {
    launch: (spec) => runtime.launch(spec),
    isSame: isSameProcess,
    stop: (pid, timeoutMs) => runtime.stop(pid, timeoutMs),
  };
}
