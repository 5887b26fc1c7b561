// Kernel-enforced network limits per instance uid, with nftables: a table of tenement's own (one per
// data dir, so two controllers never edit each other's rules) whose output chain rejects, for each
// tenant uid, TCP connections to local addresses on the controller's port, Caddy's admin port and
// every port of the instance range except the tenant's own. The outside world and Caddy's public
// listener stay reachable; Caddy (another uid) still reaches every tenant.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';

export interface NetTenant {
  uid: number;
  port: number;
}

export interface NetPolicy {
  table: string;
  /** Names the data dir in the table's comment, so an operator (or a test) can tell whose it is. */
  dataDir?: string;
  /** Ports no tenant may connect to on a local address (controller listener, Caddy admin). */
  protectedPorts: readonly number[];
  /** The instance port range: a tenant may connect to its own port in it only. */
  portRange: readonly [number, number];
  tenants: readonly NetTenant[];
}

/** The table name for a data dir: stable, short, and distinct per data dir. */
export function tableName(dataDir: string): string {
  return `tenement_${createHash('sha256').update(dataDir).digest('hex').slice(0, 10)}`;
}

/**
 * nft script that replaces the table in one transaction (declare, delete, recreate: a rule set is
 * never half applied, and the script works whether or not the table existed).
 */
export function renderRuleset(p: NetPolicy): string {
  const ports = [...new Set(p.protectedPorts)].sort((a, b) => a - b).map(String);
  ports.push(`${p.portRange[0]}-${p.portRange[1]}`);
  const set = `{ ${ports.join(', ')} }`;
  const rules = [...p.tenants]
    .sort((a, b) => a.uid - b.uid)
    // Only connection attempts (SYN without ACK): the tenant's answers to clients whose ephemeral
    // port happens to fall in the instance range must pass.
    .map((t) => `    meta skuid ${t.uid} fib daddr type local tcp flags & (syn | ack) == syn tcp dport != ${t.port} tcp dport ${set} counter reject with tcp reset`);
  return [
    `table inet ${p.table} {}`,
    `delete table inet ${p.table}`,
    `table inet ${p.table} {`,
    ...(p.dataDir ? [`  comment ${JSON.stringify(`tenement ${p.dataDir}`.replace(/"/g, ''))}`] : []),
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    ...rules,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function deleteScript(table: string): string {
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}

export class NetRulesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetRulesError';
  }
}

/** Runs `nft -f -` with `script` on stdin. */
export function runNft(nft: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(nft, ['-f', '-'], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new NetRulesError(`nft failed: ${(stderr || err.message).trim()}`));
      else resolve();
    });
    child.stdin?.end(script);
  });
}
