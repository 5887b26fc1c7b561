// The one place where a service's `isolation` value becomes a Runtime. The factory table is keyed
// by the `Isolation` type, so adding a value to it without a runtime (or the reverse) does not
// compile.
import type { Isolation } from '../../config/types.js';
import { ProcessRuntime } from './process.js';
import type { Runtime } from './runtime.js';

export interface RuntimeOptions {
  /** Descriptors of the controller that no launched process may inherit (its listening socket). */
  noInherit?: readonly number[];
}

const FACTORIES: { [K in Isolation]: (opts: RuntimeOptions) => Runtime } = {
  process: (opts) => new ProcessRuntime(opts),
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
