// `ten token-gen` (offline, on the server: opens the data dir's database directly; SQLite's WAL
// mode allows that while a controller runs) and `ten token list|create|revoke` (through the API).
import os from 'node:os';
import type { Command } from 'commander';
import { adminTokenPath, readAdminTokenFile, writeAdminTokenFile } from '../../auth/admin-token-file.js';
import { hashToken, issueToken } from '../../auth/tokens.js';
import { AuditStore } from '../../store/audit-store.js';
import { openDatabase } from '../../store/database.js';
import { TokenStore } from '../../store/token-store.js';
import { dnsLabelProblem } from '../../util/instance-key.js';
import { VERSION } from '../../version.js';
import { ApiClient } from '../client/api-client.js';
import { connectionOptions, resolveConnection, resolveDataDir, type ConnectionFlags } from '../client/connection.js';
import { print, printJson, say, table } from '../client/output.js';

interface TokenGenFlags {
  tenant?: string;
  label?: string;
  dataDir?: string;
  config?: string;
  json?: boolean;
}

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

export function registerTokenGen(program: Command): void {
  program
    .command('token-gen')
    .description('create an API token (admin, or --tenant T) directly in the data dir; run it on the server. The token is shown once.')
    .option('--tenant <name>', 'a tenant token: reaches only instances whose id is this name')
    .option('--label <text>', 'a note shown in `ten token list`')
    .option('--data-dir <dir>', 'data dir (default: settings.data_dir of the config)')
    .option('-c, --config <file>', 'config file (default: $TENEMENT_CONFIG, else tenement.toml found upwards from the cwd)')
    .option('--json', 'print the token and its id as JSON')
    .action((opts: TokenGenFlags) => {
      if (opts.tenant !== undefined) {
        const problem = dnsLabelProblem(opts.tenant);
        if (problem) throw new Error(`tenant "${opts.tenant}" ${problem}`);
      }
      const dataDir = resolveDataDir({ ...opts, config: opts.config ?? undefined });
      if (!dataDir) throw new Error('no data dir: run this next to tenement.toml, or pass --config FILE or --data-dir DIR');
      const { db } = openDatabase(dataDir, { appVersion: VERSION });
      try {
        const store = new TokenStore(db);
        const tenant = opts.tenant ?? null;
        const previous = tenant === null ? readAdminTokenFile(dataDir) : undefined;
        // Audited like POST /api/tokens, in the same transaction as the token itself: a token that
        // exists has its entry. The actor is the local user (this runs on the server, no API token).
        const issued = db.transaction(() => {
          const t = issueToken(store, { tenant, label: opts.label ?? null });
          new AuditStore(db).record({
            at: Date.now(),
            actor: `local:${localUser()}`,
            action: 'token.create',
            target: tenant === null ? 'admin' : `tenant:${tenant}`,
            detail: JSON.stringify({ id: t.record.id, via: 'ten token-gen', ...(opts.label ? { label: opts.label } : {}), ok: true }),
          });
          return t;
        })();
        let file: string | undefined;
        if (tenant === null) file = writeAdminTokenFile(dataDir, issued.token);
        if (opts.json) printJson({ id: issued.record.id, tenant, token: issued.token, file: file ?? null });
        else print(issued.token);
        const what = tenant === null ? 'admin token' : `token for tenant "${tenant}"`;
        say().success(`${what} ${issued.record.id} created; it is shown only this once${file ? ` (also saved to ${file}, mode 0600, for local ten commands)` : ''}`);
        if (previous) {
          const old = store.findByHash(hashToken(previous));
          if (old && old.revokedAt === null) say().info(`the replaced ${adminTokenPath(dataDir)} held token ${old.id}, which stays valid until \`ten token revoke ${old.id}\``);
        }
      } finally {
        db.close();
      }
    });
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('list, create and revoke API tokens (through the API; needs an admin token)');
  connectionOptions(token.command('list').description('list tokens (never their secrets)').option('--json', 'print as JSON')).action(
    async (opts: ConnectionFlags & { json?: boolean }) => {
      const list = await new ApiClient(resolveConnection(opts)).tokens();
      if (opts.json) return printJson(list);
      if (list.length === 0) return print('no tokens');
      print(
        table(
          ['ID', 'TENANT', 'LABEL', 'CREATED', 'LAST USED', 'REVOKED'],
          list.map((t) => [t.id, t.tenant ?? '(admin)', t.label ?? '-', t.created_at, t.last_used_at ?? '-', t.revoked_at ?? '-']),
        ),
      );
    },
  );
  connectionOptions(
    token
      .command('create')
      .description('create a tenant token through the API (admin tokens: `ten token-gen` on the server)')
      .requiredOption('--tenant <name>', 'the instance id the token reaches')
      .option('--label <text>', 'a note shown in `ten token list`')
      .option('--json', 'print as JSON'),
  ).action(async (opts: ConnectionFlags & { tenant: string; label?: string; json?: boolean }) => {
    const problem = dnsLabelProblem(opts.tenant);
    if (problem) throw new Error(`tenant "${opts.tenant}" ${problem}`);
    const created = await new ApiClient(resolveConnection(opts)).createToken(opts.tenant, opts.label);
    if (opts.json) return printJson(created);
    print(created.token);
    say().success(`token ${created.id} for tenant "${created.tenant}" created; it is shown only this once`);
  });
  connectionOptions(token.command('revoke').description('revoke a token by id (see `ten token list`)').argument('<id>', 'token id, e.g. tok_0123456789ab')).action(
    async (id: string, opts: ConnectionFlags) => {
      await new ApiClient(resolveConnection(opts)).revokeToken(id);
      say().success(`token ${id} revoked`);
    },
  );
}
