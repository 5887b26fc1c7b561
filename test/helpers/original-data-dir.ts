// A data dir as tenement v0.2.x (Rust) leaves it: tenement.db with the original's schema
// (test/fixtures/original/schema-v0.2.sql), real Argon2id hashes (the Rust `argon2` crate's
// defaults: m=19456, t=2, p=1, the same PHC string @node-rs/argon2 writes), logs, deploy log,
// instance state, config keys, and the plaintext admin token in {data_dir}/api_token as the
// original's `ten token-gen` wrote it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hash as argon2Hash } from '@node-rs/argon2';
import Database from 'better-sqlite3';
import { fixture } from './paths.js';

/** 32 random bytes, base64url without padding: what the original's generate_token() returns. */
export function originalToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export interface OriginalDataDir {
  dataDir: string;
  adminToken: string;
  /** tenant -> token */
  tenantTokens: Record<string, string>;
}

export interface OriginalDataDirOptions {
  /** Instances in instance_state: service:id -> pid/port/weight. */
  instances?: Array<{ service: string; id: string; pid?: number | null; port?: number | null; weight?: number }>;
  tenants?: string[];
  /** Time of the first imported log line (epoch ms); default an hour ago. */
  logsAt?: number;
  /** Extra log lines (process, instance_id, level, message). */
  logs?: Array<[string, string, 'stdout' | 'stderr', string]>;
}

export async function makeOriginalDataDir(dataDir: string, o: OriginalDataDirOptions = {}): Promise<OriginalDataDir> {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, 'tenement.db'));
  db.pragma('journal_mode = WAL');
  db.exec(fs.readFileSync(fixture('original', 'schema-v0.2.sql'), 'utf8'));
  const adminToken = originalToken();
  db.prepare('INSERT INTO config (key, value) VALUES (?, ?)').run('api_token_hash', await argon2Hash(adminToken));
  db.prepare('INSERT INTO config (key, value) VALUES (?, ?)').run('dashboard_theme', 'dark');
  const tenantTokens: Record<string, string> = {};
  const insertToken = db.prepare('INSERT INTO tenant_tokens (tenant_id, token_prefix, token_hash, description, created_at) VALUES (?, ?, ?, ?, ?)');
  for (const tenant of o.tenants ?? ['alice', 'bob']) {
    const token = originalToken();
    tenantTokens[tenant] = token;
    insertToken.run(tenant, token.slice(0, 8), await argon2Hash(token), `${tenant}'s CI`, '2025-03-01T09:00:00+00:00');
  }

  // Recent lines (an upgrade soon after the old server ran): log retention (7 days by default)
  // applies to imported lines like to any other. Written the way chrono's to_rfc3339 writes them.
  const base = o.logsAt ?? Date.now() - 3_600_000;
  const rfc3339 = (ms: number, nanos: string) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${String(ms % 1000).padStart(3, '0')}${nanos}+00:00`);
  const log = db.prepare('INSERT INTO logs (timestamp, level, process, instance_id, message) VALUES (?, ?, ?, ?, ?)');
  log.run(rfc3339(base, '456789'), 'stdout', 'notes', 'alice', 'listening on port 30001');
  log.run(new Date(base + 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00'), 'stderr', 'notes', 'alice', 'database connection refused by upstream');
  for (const [p, i, level, m] of o.logs ?? []) log.run(new Date().toISOString(), level, p, i, m);

  const deploy = db.prepare('INSERT INTO deploy_log (timestamp, action, process, instance_id, details, success) VALUES (?, ?, ?, ?, ?, ?)');
  deploy.run('2025-03-02T11:00:00+00:00', 'spawn', 'notes', 'alice', null, 1);
  deploy.run('2025-03-02T11:05:00+00:00', 'deploy', 'notes', 'v2', 'weight=10', 1);
  deploy.run('2025-03-02T11:06:00+00:00', 'route', 'notes', 'v1 -> v2', 'weight swap: 0/100', 0);

  const state = db.prepare('INSERT INTO instance_state (process, instance_id, pid, port, socket, weight, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (const i of o.instances ?? []) {
    state.run(i.service, i.id, i.pid ?? null, i.port ?? null, `/tmp/tenement/${i.service}-${i.id}.sock`, i.weight ?? 100, '2025-03-02T10:00:00+00:00');
  }
  db.close();
  // The original's CLI read its admin token from here (cli/src/client.rs TOKEN_FILE).
  fs.writeFileSync(path.join(dataDir, 'api_token'), adminToken, { mode: 0o600 });
  return { dataDir, adminToken, tenantTokens };
}
