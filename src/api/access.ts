// Authorization checks used by the routes, on top of authentication (middleware/auth.ts).
import type { Context } from 'hono';
import { canAccessInstance, isAdmin } from '../auth/principal.js';
import type { InstanceKey } from '../util/instance-key.js';
import type { ApiEnv } from './env.js';
import { HttpError } from './errors.js';

export function requireAdmin(c: Context<ApiEnv>, what: string): void {
  if (!isAdmin(c.get('principal'))) throw new HttpError(403, `${what} requires an admin token; this token belongs to tenant "${c.get('principal').tenant}"`);
}

/**
 * Checked on the name alone, before looking the instance up, so a tenant cannot learn which
 * other instances exist from 403-versus-404.
 */
export function requireInstanceAccess(c: Context<ApiEnv>, key: InstanceKey): void {
  const p = c.get('principal');
  if (!canAccessInstance(p, key)) {
    throw new HttpError(403, `this token belongs to tenant "${p.tenant}" and reaches only instances with id "${p.tenant}", not ${key.service}:${key.id}`);
  }
}

/** The actor recorded in audit entries. */
export function actor(c: Context<ApiEnv>): string {
  return c.get('principal').tokenId;
}
