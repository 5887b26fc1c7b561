// Records a mutation in the audit log in two steps: the intent before it runs (`"ok": null,
// "pending": true`), the outcome after (`"ok": true` or `"ok": false` with the error), so an
// operation cut short by a crash still has its entry, marked pending (issue 11 #10). Mutating
// requests refused before reaching an operation (403, 404, 409, 422 ...) are recorded too, by
// auditRefusals(): "who tried to stop my instance?" needs the attempts that failed.
import type { Context, MiddlewareHandler } from 'hono';
import { actor } from './access.js';
import type { ApiContext, ApiEnv } from './env.js';
import { statusOf } from './errors.js';

const encode = (detail: Record<string, unknown>) => (Object.keys(detail).length ? JSON.stringify(detail) : null);

export async function audited<T>(ctx: ApiContext, c: Context<ApiEnv>, action: string, target: string, detail: Record<string, unknown>, run: () => Promise<T>): Promise<T> {
  c.set('audited', true);
  let id: number | undefined;
  try {
    id = ctx.audit.record({ at: ctx.now(), actor: actor(c), action, target, detail: encode({ ...detail, ok: null, pending: true }) });
  } catch (err) {
    // Refusing every change while the audit cannot be written (a full disk) would also refuse
    // the stops that free space; the operation goes ahead, and the gap is logged loudly.
    ctx.log.error('cannot write audit entry', { action, target, error: (err as Error).message });
  }
  const finish = (extra: Record<string, unknown>) => {
    try {
      const all = encode({ ...detail, ...extra });
      if (id !== undefined) ctx.audit.finish(id, all);
      else ctx.audit.record({ at: ctx.now(), actor: actor(c), action, target, detail: all });
    } catch (err) {
      ctx.log.error('cannot write audit entry', { action, target, error: (err as Error).message });
    }
  };
  try {
    const result = await run();
    finish({ ok: true });
    return result;
  } catch (err) {
    finish({ ok: false, error: (err as Error).message });
    throw err;
  }
}

/** Records authenticated mutating requests that failed before any audited() operation ran. */
export function auditRefusals(ctx: ApiContext): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const record = (status: number, error: string) => {
      if (c.get('audited') || !c.get('principal') || status < 400 || status === 401) return;
      try {
        ctx.audit.record({
          at: ctx.now(),
          actor: actor(c),
          action: 'refused',
          target: `${c.req.method} ${c.req.path}`,
          detail: JSON.stringify({ ok: false, status, error }),
        });
      } catch (err) {
        ctx.log.error('cannot write audit entry', { action: 'refused', path: c.req.path, error: (err as Error).message });
      }
    };
    try {
      await next();
    } catch (err) {
      record(statusOf(err), (err as Error).message);
      throw err;
    }
    // Hono turns a handler's error into the response before outer middleware resumes.
    if (c.res.status >= 400) record(c.res.status, c.error?.message ?? `HTTP ${c.res.status}`);
  };
}
