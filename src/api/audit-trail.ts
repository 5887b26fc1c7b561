// Runs a mutation and records it in the audit log, whether it succeeded or failed: "who tried to
// stop my instance, and did it work?" needs both. Requests refused by validation or
// authorization never reach here (they changed nothing).
import type { Context } from 'hono';
import { actor } from './access.js';
import type { ApiContext, ApiEnv } from './env.js';

export async function audited<T>(
  ctx: ApiContext,
  c: Context<ApiEnv>,
  action: string,
  target: string,
  detail: Record<string, unknown>,
  run: () => Promise<T>,
): Promise<T> {
  const write = (extra: Record<string, unknown>) => {
    try {
      const all = { ...detail, ...extra };
      ctx.audit.record({ at: ctx.now(), actor: actor(c), action, target, detail: Object.keys(all).length ? JSON.stringify(all) : null });
    } catch (err) {
      // The change itself happened (or failed) already; a lost audit row must not turn it into
      // an error for the caller, but it must be visible.
      ctx.log.error('cannot write audit entry', { action, target, error: (err as Error).message });
    }
  };
  try {
    const result = await run();
    write({ ok: true });
    return result;
  } catch (err) {
    write({ ok: false, error: (err as Error).message });
    throw err;
  }
}
