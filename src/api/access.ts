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

/**
 * Creating and removing instances is the operator's decision: a tenant token may do it for its own
 * id only in services that opt in with `tenant_spawn = true` (issue 11 #12: a tenant could start
 * `<any service>:alice` and delete instances the admin made for it).
 */
export function requireSpawnRight(c: Context<ApiEnv>, key: InstanceKey, selfService: readonly string[], what: 'spawn' | 'stop'): void {
  requireInstanceAccess(c, key);
  const p = c.get('principal');
  if (isAdmin(p) || selfService.includes(key.service)) return;
  throw new HttpError(
    403,
    `${what === 'spawn' ? 'spawning' : 'stopping'} instances of "${key.service}" requires an admin token (tenant "${p.tenant}" may only use the instances it has), unless the service sets tenant_spawn = true`,
  );
}
