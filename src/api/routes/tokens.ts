// /api/tokens (admin only): list, create tenant tokens, revoke. Admin tokens are created only by
// `ten token-gen` on the server itself: holding an admin token is not enough to mint more.
import { Hono, type Context } from 'hono';
import { issueToken } from '../../auth/tokens.js';
import { requireAdmin } from '../access.js';
import { audited } from '../audit-trail.js';
import type { CreatedTokenJson } from '../contract.js';
import type { ApiContext, ApiEnv } from '../env.js';
import { HttpError } from '../errors.js';
import { labelField, optionalStringField, readJsonObject } from '../validate.js';
import { tokenJson } from '../wire.js';

const TOKEN_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function tokenRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  r.use('*', async (c: Context<ApiEnv>, next) => {
    requireAdmin(c, 'token management');
    await next();
  });

  r.get('/', (c) => {
    const include = c.req.query('include_revoked');
    if (include !== undefined && include !== 'true' && include !== 'false') {
      throw new HttpError(400, `query parameter "include_revoked" must be true or false, got ${JSON.stringify(include)}`);
    }
    return c.json(ctx.tokens.list({ includeRevoked: include !== 'false' }).map(tokenJson));
  });

  r.post('/', async (c) => {
    const body = await readJsonObject(c, ['tenant', 'label']);
    const tenant = labelField(body, 'tenant', 'tenant name: the instance id the token reaches');
    const label = optionalStringField(body, 'label', 200);
    const issued = await audited(ctx, c, 'token.create', `tenant:${tenant}`, label ? { label } : {}, async () =>
      issueToken(ctx.tokens, { tenant, label: label ?? null, now: ctx.now() }),
    );
    const res: CreatedTokenJson = { ...tokenJson(issued.record), token: issued.token };
    return c.json(res, 201);
  });

  r.delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!TOKEN_ID.test(id)) throw new HttpError(400, `"${id}" is not a token id (ids look like tok_0123456789ab; see GET /api/tokens)`);
    const record = ctx.tokens.get(id);
    if (!record) throw new HttpError(404, `token ${id} does not exist`);
    await audited(ctx, c, 'token.revoke', `token:${id}`, { tenant: record.tenant }, async () => {
      ctx.tokens.revoke(id, ctx.now());
    });
    return c.body(null, 204);
  });
  return r;
}
