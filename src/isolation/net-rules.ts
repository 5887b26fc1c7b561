// Kernel-enforced network limits per instance uid, with nftables: a table of tenement's own (one per
// data dir, so two controllers never edit each other's rules) whose output chain rejects, for every
// uid tenement gave an instance, TCP connections to local addresses on the controller's port, Caddy's
// admin port and every port of the instance range except the tenant's own. The outside world and
// Caddy's public listener stay reachable; Caddy (another uid) still reaches every tenant.
//
// One rule and two sets, so a start costs no rule change: the restricted uids (every allocated
// identity, whether its instance runs or not: a uid with no process connects to nothing, and a new
// one is added before its first start) and the (uid . own port) pairs of running instances. Only
// that pair changes per start, as one element, and it only *allows* (a tenant reaching its own port a
// moment late loses nothing), so a start need not wait for it. The kernel does one set lookup per
// outgoing connection attempt whatever the number of tenants.
import { runHere, type CommandRunner } from '../util/command-runner.js';
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
  /** Uids whose connections are restricted (never 0). */
  restricted: readonly number[];
  /** Running instances: each uid may connect to its own port. */
  own: readonly NetTenant[];
}

/** The table name for a data dir: stable, short, and distinct per data dir. */
export function tableName(dataDir: string): string {
  return `tenement_${createHash('sha256').update(dataDir).digest('hex').slice(0, 10)}`;
}

const pair = (t: NetTenant) => `${t.uid} . ${t.port}`;

/**
 * nft script that replaces the table in one transaction (declare, delete, recreate: a rule set is
 * never half applied, and the script works whether or not the table existed).
 */
export function renderRuleset(p: NetPolicy): string {
  const ports = [...new Set(p.protectedPorts)].sort((a, b) => a - b).map(String);
  ports.push(`${p.portRange[0]}-${p.portRange[1]}`);
  const uids = [...new Set(p.restricted)].filter((u) => u !== 0).sort((a, b) => a - b);
  const own = [...p.own].sort((a, b) => a.uid - b.uid || a.port - b.port).map(pair);
  const elements = (xs: string[]) => (xs.length ? ` elements = { ${xs.join(', ')} };` : '');
  return [
    `table inet ${p.table} {}`,
    `delete table inet ${p.table}`,
    `table inet ${p.table} {`,
    ...(p.dataDir ? [`  comment ${JSON.stringify(`tenement ${p.dataDir}`.replace(/"/g, ''))}`] : []),
    `  set tenants { type uid;${elements(uids.map(String))} }`,
    `  set own { type uid . inet_service;${elements(own)} }`,
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    // Only connection attempts (SYN without ACK): the tenant's answers to clients whose ephemeral
    // port happens to fall in the instance range must pass.
    `    meta skuid @tenants tcp flags & (syn | ack) == syn fib daddr type local meta skuid . tcp dport != @own tcp dport { ${ports.join(', ')} } counter reject with tcp reset`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * nft script that adds and removes own-port pairs in one transaction. A removal is preceded by an
 * add of the same element, so it succeeds whether or not the element is there.
 */
export function ownElementsScript(table: string, add: readonly NetTenant[], remove: readonly NetTenant[]): string {
  const lines: string[] = [];
  if (remove.length) {
    const xs = remove.map(pair).join(', ');
    lines.push(`add element inet ${table} own { ${xs} }`, `delete element inet ${table} own { ${xs} }`);
  }
  if (add.length) lines.push(`add element inet ${table} own { ${add.map(pair).join(', ')} }`);
  return lines.length ? `${lines.join('\n')}\n` : '';
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

/** Runs `nft -f -` with `script` on stdin (through the controller's launcher when it has one). */
export async function runNft(nft: string, script: string, run: CommandRunner = runHere): Promise<void> {
  const r = await run(nft, ['-f', '-'], script, 10_000);
  if (r.code !== 0) throw new NetRulesError(`nft failed: ${(r.stderr || r.error || `exit ${r.code ?? r.signal}`).trim()}`);
}
