// Who is calling, once their token has been verified, and what that lets them reach.
import type { InstanceKey } from '../util/instance-key.js';

export interface Principal {
  /** The token's public id: recorded as the actor of audit entries. */
  tokenId: string;
  /** null = admin (everything); otherwise only instances whose id equals this tenant. */
  tenant: string | null;
}

export function isAdmin(p: Principal): boolean {
  return p.tenant === null;
}

/** The tenancy rule: a tenant token reaches `service:id` only when `id` is its tenant name. */
export function canAccessInstance(p: Principal, key: Pick<InstanceKey, 'id'>): boolean {
  return p.tenant === null || p.tenant === key.id;
}
