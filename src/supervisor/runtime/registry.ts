// The one place where a service's `isolation` value becomes a Runtime. The factory table is keyed
// by the `Isolation` type, so adding a value to it without a runtime (or the reverse) does not
// compile.
import type { Isolation } from '../../config/types.js';
import type { TenantIsolation } from '../../isolation/tenant-isolation.js';
import type { Launcher } from '../launcher/launcher.js';
import { NamespaceRuntime } from './namespace.js';
import { ProcessRuntime } from './process.js';
import type { Runtime } from './runtime.js';

export interface RuntimeOptions {
  /** Descriptors of the controller that no launched process may inherit (its listening socket). */
  noInherit?: readonly number[];
  /** Gives instances their uid, clean env, limits and (namespace) sandbox; absent: plain processes. */
  isolation?: TenantIsolation;
  /** Starts processes for the controller (src/supervisor/launcher/launcher.ts); absent: spawned in-process. */
  launcher?: Launcher;
}

const FACTORIES: { [K in Isolation]: (opts: RuntimeOptions) => Runtime } = {
  process: (opts) => new ProcessRuntime(opts),
  namespace: (opts) => new NamespaceRuntime(opts),
};

export class RuntimeRegistry {
  private readonly made = new Map<Isolation, Runtime>();

  constructor(private readonly opts: RuntimeOptions = {}) {}

  /** The runtime for `isolation`, made once and shared by every instance that uses it. */
  for(isolation: Isolation): Runtime {
    let runtime = this.made.get(isolation);
    if (!runtime) {
      runtime = FACTORIES[isolation](this.opts);
      this.made.set(isolation, runtime);
    }
    return runtime;
  }
}
