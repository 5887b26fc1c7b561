// Everything an instance gets besides its command: its own uid/gid and data directory, a clean
// environment, a cgroup with its limits, (namespace isolation) a bubblewrap sandbox, and per-uid
// network rules. The supervisor asks for a prepared launch before every start and tells this
// module when a process is gone; nothing here decides *when* instances run.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Config, ServiceConfig } from '../config/types.js';
import type { IdentityStore } from '../store/identity-store.js';
import type { Logger } from '../util/logger.js';
import type { LaunchSpec } from '../supervisor/runtime/runtime.js';
import { CgroupError, InstanceCgroup, joinCgroupArgv, type CgroupLimits } from './cgroup.js';
import { describeHost, detectHost, type HostIsolation, type IsolationReport } from './host.js';
import { hostUidFilter } from './host-ids.js';
import { runHere, type CommandRunner } from '../util/command-runner.js';
import { deleteScript, ownElementsScript, renderRuleset, runNft, tableName, type NetTenant } from './net-rules.js';
import { preflight, PreflightError } from './preflight.js';
import { bwrapArgs, PRIVATE_TMPFS, readOnlyExtras, setprivArgs, type Identity } from './sandbox-argv.js';
import { tenantEnv, TENANT_PATH } from './tenant-env.js';

/** coreutils env: resets SIGTERM to its default inside the sandbox (ignored signals survive exec). */
const ENV_BIN = '/usr/bin/env';

export class IsolationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IsolationError';
  }
}

export interface InstanceRef {
  service: string;
  id: string;
}

export interface TenantIsolationOptions {
  config: Config;
  identities: IdentityStore;
  log: Logger;
  host?: HostIsolation;
  /** Called once per exit that the OOM killer caused (metrics). */
  onOomKill?: (ref: InstanceRef) => void;
  /** Runs nft (the controller passes its launcher's, so the fork does not block its event loop). */
  runCommand?: CommandRunner;
}

/** The isolation an instance actually gets on this host. */
export type EffectiveIsolation = 'namespace' | 'process';

const key = (r: InstanceRef) => `${r.service}:${r.id}`;

export class TenantIsolation {
  private config: Config;
  readonly host: HostIsolation;
  private readonly onOomKill: ((ref: InstanceRef) => void) | undefined;
  private readonly log: Logger;
  private readonly identities: IdentityStore;
  private readonly runCommand: CommandRunner;
  private readonly oomBaseline = new Map<string, number>();
  private readonly net = new Map<string, NetTenant>();
  private protectedPorts: number[] = [];
  /** What the kernel has: the table without its own-port pairs (undefined: unknown), and the pairs. */
  private appliedBase: string | undefined;
  private appliedRestricted = new Set<number>();
  private appliedOwn = new Map<string, NetTenant>();
  /** Every uid the store gave an instance (read once, then kept up to date by identity()). */
  private allocatedUids: Set<number> | undefined;
  private netQueue: Promise<void> = Promise.resolve();
  /** A sync queued but not started yet: later changes join it (it reads the state when it runs). */
  private pendingSync: Promise<void> | undefined;
  private warned = new Set<string>();
  /** Releases in progress: a new start of the same instance waits for its predecessor's clean-up. */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(opts: TenantIsolationOptions) {
    this.config = opts.config;
    this.identities = opts.identities;
    this.log = opts.log;
    this.host = opts.host ?? detectHost();
    this.onOomKill = opts.onOomKill;
    this.runCommand = opts.runCommand ?? runHere;
  }

  private detached = false;

  /** From now on another controller owns the instances: cgroups and rules are left as they are. */
  detach(): void {
    this.detached = true;
  }

  updateConfig(config: Config): void {
    this.config = config;
  }

  report(): IsolationReport {
    return describeHost(this.host);
  }

  /** Ports tenants must never connect to (the controller's listener, Caddy's admin endpoint). */
  setProtectedPorts(ports: number[]): void {
    this.protectedPorts = [...new Set(ports.filter((p) => Number.isInteger(p) && p > 0))];
    // Every allocated uid is restricted from now on, before anything is started or adopted.
    void this.syncNet().catch((err: Error) => this.log.warn('could not apply network rules', { error: err.message }));
  }

  /** Resolves once every network rule change asked for so far is applied (or has failed). */
  async settled(): Promise<void> {
    // An own-port change is asked for one turn after the start that needs it (see arm).
    await new Promise((r) => setImmediate(r));
    return this.netQueue;
  }

  private usesUids(): boolean {
    return this.host.root && this.host.setpriv !== null;
  }

  /** The identity an instance runs as, or null when it runs as the controller's own user. */
  identity(ref: InstanceRef, service: ServiceConfig): Identity | null {
    if (!this.usesUids()) return null;
    if (service.user !== undefined) return resolveUser(service.user);
    const s = this.config.settings;
    const existing = this.identities.get(ref.service, ref.id);
    if (existing) return existing;
    const allocated = this.identities.ensure(ref.service, ref.id, { start: s.uid_range_start, end: s.uid_range_end }, hostUidFilter());
    this.allocatedUids?.add(allocated.uid);
    return allocated;
  }

  cgroupFor(ref: InstanceRef): InstanceCgroup | null {
    if (!this.host.cgroup) return null;
    const hash = createHash('sha256').update(this.config.settings.data_dir).digest('hex').slice(0, 8);
    return new InstanceCgroup(this.host.cgroup, `tenement/${hash}/${ref.service}.${ref.id}`);
  }

  /**
   * Turns the service's launch into the isolated one. Throws IsolationError/PreflightError (with the
   * instance, what blocks and what to do) when the instance cannot be given what its config asks.
   */
  async prepare(spec: LaunchSpec, mode: EffectiveIsolation): Promise<LaunchSpec> {
    if (!spec.instance) return spec;
    const i = { ...spec.instance, spec };
    const service = i.config;
    const name = key(i);
    await this.releasing.get(name);
    if (mode === 'namespace' && !this.host.bwrap) {
      throw new IsolationError(
        `${name} cannot start: isolation = "namespace" needs bubblewrap, and bwrap was not found ` +
          `(install it: apt-get install bubblewrap), or set isolation = "process" for service ${i.service}`,
      );
    }
    const id = this.identity(i, service);
    this.prepareDataDir(i.instanceDir, id, mode);

    const serviceEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(i.spec.env)) if (v !== undefined && k in service.env) serviceEnv[k] = v;
    const env = tenantEnv({ port: i.port, dataDir: i.spec.env.DATA_DIR ?? i.instanceDir, service: i.service, id: i.id, serviceEnv });
    const searchPath = env.PATH ?? TENANT_PATH;

    let program = i.spec.file;
    // The app may live in a place the sandbox makes private (/tmp): its folders show through, read-only.
    const fileArgs = i.spec.args.filter((a) => !a.startsWith('-') && isFile(path.resolve(i.spec.cwd, a))).map((a) => path.dirname(path.resolve(i.spec.cwd, a)));
    const extras = readOnlyExtras([i.spec.cwd, ...(path.isAbsolute(program) ? [path.dirname(program)] : []), ...fileArgs]);
    if (id) {
      const trusted = new Set<string>();
      if (mode === 'namespace') {
        for (const t of PRIVATE_TMPFS) trusted.add(t);
        for (const ro of extras) for (let d = path.dirname(ro); d !== '/' && !PRIVATE_TMPFS.includes(d as never); d = path.dirname(d)) trusted.add(d);
      }
      program = preflight({
        instance: name,
        id,
        program: i.spec.file,
        args: i.spec.args,
        cwd: i.spec.cwd,
        checkCwd: service.workdir !== undefined,
        searchPath,
        ...(mode === 'process' ? { dataDir: i.instanceDir } : {}),
        trusted,
        configFix: `set user = "root" (with isolation = "process" to run it as the original did, unisolated) for service ${i.service}`,
      });
    } else if (!path.isAbsolute(program) && !program.includes('/')) {
      program = resolveOnPath(program, searchPath) ?? program;
    }

    const cgroup = this.applyLimits(i, service);
    await this.arm(i, id, i.port);

    const argv: string[] = [];
    // Under "namespace" the pid tenement tracks is bubblewrap's, which must outlive the app's
    // graceful stop: bwrap ignores SIGTERM (sent to the whole group) and the app gets it back.
    if (cgroup || id || mode === 'namespace') argv.push(...joinCgroupArgv(cgroup ? cgroup.procsFiles() : [], { ignoreTerm: mode === 'namespace' }));
    if (mode === 'namespace') {
      argv.push(
        this.host.bwrap!,
        ...bwrapArgs(
          {
            dataRoot: this.config.settings.data_dir,
            instanceDir: i.instanceDir,
            extraReadOnly: extras,
            hiddenFiles: [this.config.file],
            cwd: i.spec.cwd,
            shareNet: true,
          },
          { userNamespace: !this.host.root },
        ),
      );
    }
    if (mode === 'namespace') argv.push(ENV_BIN, '--default-signal=TERM');
    if (id) argv.push(this.host.setpriv!, ...setprivArgs(id));
    argv.push(program, ...i.spec.args);
    const [file, ...args] = argv as [string, ...string[]];
    return { ...i.spec, file, args, env };
  }

  private prepareDataDir(instanceDir: string, id: Identity | null, mode: EffectiveIsolation): void {
    const dataRoot = this.config.settings.data_dir;
    fs.mkdirSync(instanceDir, { recursive: true, mode: 0o700 });
    if (!id) return;
    // Process isolation walks the real tree to DATA_DIR: the data root and the service folder are
    // searchable (0711) but not listable; everything of the controller's inside them is 0600/0700.
    if (mode === 'process') {
      chmodIf(dataRoot, 0o711);
      chmodIf(path.dirname(instanceDir), 0o711);
    }
    const st = fs.statSync(instanceDir);
    if (st.uid !== id.uid || st.gid !== id.gid) chownTree(instanceDir, id);
    fs.chmodSync(instanceDir, 0o700);
  }

  private applyLimits(ref: InstanceRef, service: ServiceConfig): InstanceCgroup | null {
    const required = service.memory_limit_mb !== undefined || service.cpu_shares !== undefined;
    const limits: CgroupLimits = {
      memoryBytes: service.memory_limit_mb === undefined ? undefined : service.memory_limit_mb * 1024 * 1024,
      cpuWeight: service.cpu_shares,
      pidsMax: service.pids_limit,
    };
    const cgroup = this.cgroupFor(ref);
    const fail = (why: string): null => {
      if (required) {
        throw new IsolationError(
          `${key(ref)} cannot start: its limits (memory_limit_mb/cpu_shares) cannot be applied: ${why}. ` +
            'Run the controller as root on a host with cgroups, or remove the limits from the service',
        );
      }
      if (!this.warned.has(why)) {
        this.warned.add(why);
        this.log.warn('pids_limit is not applied: instances run without a cgroup', { reason: why });
      }
      return null;
    };
    if (!cgroup) return fail('no cgroup hierarchy found');
    if (!this.host.root) return fail('cgroups need root');
    // A fresh cgroup per start when it is empty, so its OOM counter belongs to this run only. A
    // non-empty one is left alone: during a handover the other controller may be starting it.
    if (cgroup.pids().length === 0) cgroup.remove();
    try {
      cgroup.apply(limits);
    } catch (err) {
      if (err instanceof CgroupError) return fail(err.message);
      throw err;
    }
    this.oomBaseline.set(key(ref), cgroup.oomKills());
    return cgroup;
  }

  /** `oom-killed` when the OOM killer killed in the instance's cgroup during this run. */
  exitReason(ref: InstanceRef): 'oom-killed' | undefined {
    const cgroup = this.cgroupFor(ref);
    if (!cgroup || !this.host.root) return undefined;
    const kills = cgroup.oomKills();
    if (kills <= (this.oomBaseline.get(key(ref)) ?? 0)) return undefined;
    // Counted once: the next exit of this run compares with what is known now.
    this.oomBaseline.set(key(ref), kills);
    this.onOomKill?.({ service: ref.service, id: ref.id });
    return 'oom-killed';
  }

  /** Memory the instance's cgroup uses now (bytes), when known. */
  memoryBytes(ref: InstanceRef): number | null {
    return this.cgroupFor(ref)?.memoryBytes() ?? null;
  }

  /** CPU time the instance's cgroup has used (seconds), when known. */
  cpuSeconds(ref: InstanceRef): number | null {
    return this.cgroupFor(ref)?.cpuSeconds() ?? null;
  }

  /**
   * The process is gone (stopped, exited): whatever escaped its process group is killed, the cgroup
   * removed, and its network rule dropped.
   */
  released(ref: InstanceRef): Promise<void> {
    const k = key(ref);
    const run = (this.releasing.get(k) ?? Promise.resolve()).then(() => this.release(ref));
    const settled = run.catch(() => undefined);
    this.releasing.set(k, settled);
    void settled.then(() => {
      if (this.releasing.get(k) === settled) this.releasing.delete(k);
    });
    return run;
  }

  private async release(ref: InstanceRef): Promise<void> {
    if (this.detached) return;
    const cgroup = this.host.root ? this.cgroupFor(ref) : null;
    if (cgroup) {
      const deadline = Date.now() + 5000;
      for (;;) {
        cgroup.killAll();
        if (cgroup.pids().length === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      cgroup.remove();
      removeEmptyParent(cgroup);
    }
    this.net.delete(key(ref));
    await this.syncNet().catch((err: Error) => this.log.warn('could not update network rules', { instance: key(ref), error: err.message }));
  }

  /** An adopted running instance: its rule goes back into the table. */
  async adopted(ref: InstanceRef, port: number): Promise<void> {
    const service = this.config.services[ref.service];
    if (!service || !this.usesUids()) return;
    const id = service.user !== undefined ? resolveUser(service.user) : this.identities.get(ref.service, ref.id);
    if (id) await this.arm(ref, id, port).catch((err: Error) => this.log.warn('could not restore network rules', { instance: key(ref), error: err.message }));
  }

  private async arm(ref: InstanceRef, id: Identity | null, port: number): Promise<void> {
    if (!id || !this.host.nft || !this.host.root || id.uid === 0) return;
    this.net.set(key(ref), { uid: id.uid, port });
    // A uid already restricted only gains its own port: the start need not wait for that, and the
    // nft child is forked after the tenant's (forking is synchronous, a few ms in a big process).
    if (this.appliedRestricted.has(id.uid)) {
      setImmediate(() => void this.syncNet().catch((err: Error) => this.log.warn('could not allow an instance its own port', { instance: key(ref), error: err.message })));
      return;
    }
    try {
      await this.syncNet();
    } catch (err) {
      throw new IsolationError(`${key(ref)} cannot start: its network rules could not be applied (${(err as Error).message})`);
    }
    if (!this.appliedRestricted.has(id.uid)) throw new IsolationError(`${key(ref)} cannot start: its network rules could not be applied`);
  }

  /**
   * Every instance was stopped (`ten down`): tenement's table is removed, leaving nothing of it in
   * the host's rules. While any instance runs the table stays; the next start writes it whole.
   */
  removeNetRulesIfIdle(): Promise<void> {
    const run = this.netQueue.then(async () => {
      if (!this.host.nft || !this.host.root || this.detached || this.net.size > 0) return;
      const script = deleteScript(tableName(this.config.settings.data_dir));
      await runNft(this.host.nft, script, this.runCommand);
      this.appliedBase = script;
      this.appliedRestricted = new Set();
      this.appliedOwn = new Map();
    });
    this.netQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * Makes the nftables table equal to the wanted state: the whole table when the restricted uids or
   * ports changed (or what the kernel has is unknown), else only the own-port pairs that changed.
   * Calls made while a sync waits its turn share it.
   */
  private syncNet(): Promise<void> {
    if (this.pendingSync) return this.pendingSync;
    const run = this.netQueue.then(async () => {
      this.pendingSync = undefined;
      if (!this.host.nft || !this.host.root || this.detached) return;
      const table = tableName(this.config.settings.data_dir);
      const own = new Map([...this.net.values()].filter((t) => t.uid !== 0).map((t) => [`${t.uid}.${t.port}`, t]));
      this.allocatedUids ??= new Set(this.identities.list().map((i) => i.uid));
      const restricted = [...new Set([...this.allocatedUids, ...[...own.values()].map((t) => t.uid)])].filter((u) => u !== 0).sort((a, b) => a - b);
      const policy = {
        table,
        dataDir: this.config.settings.data_dir,
        protectedPorts: this.protectedPorts,
        portRange: [this.config.settings.port_range_start, this.config.settings.port_range_end] as const,
        restricted,
      };
      const base = restricted.length === 0 && own.size === 0 ? deleteScript(table) : renderRuleset({ ...policy, own: [] });
      if (base !== this.appliedBase) {
        // Unknown (a fresh controller, `ten down`): a table left by an earlier one is replaced or removed.
        await runNft(this.host.nft, base === deleteScript(table) ? base : renderRuleset({ ...policy, own: [...own.values()] }), this.runCommand);
        this.appliedBase = base;
        this.appliedRestricted = new Set(restricted);
        this.appliedOwn = own;
        return;
      }
      const add = [...own].filter(([k]) => !this.appliedOwn.has(k)).map(([, t]) => t);
      const remove = [...this.appliedOwn].filter(([k]) => !own.has(k)).map(([, t]) => t);
      const script = ownElementsScript(table, add, remove);
      if (!script) return;
      try {
        await runNft(this.host.nft, script, this.runCommand);
      } catch (err) {
        // The table was changed behind our back (deleted by hand?): the next sync rewrites it whole.
        this.appliedBase = undefined;
        throw err;
      }
      this.appliedOwn = own;
    });
    this.pendingSync = run;
    this.netQueue = run.catch(() => undefined);
    return run;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function chmodIf(dir: string, mode: number): void {
  try {
    if ((fs.statSync(dir).mode & 0o7777) !== mode) fs.chmodSync(dir, mode);
  } catch {
    // created later by mkdir with the right mode
  }
}

/** Hands an instance directory (from an older version, or a changed user) to its uid. */
function chownTree(dir: string, id: Identity): void {
  fs.lchownSync(dir, id.uid, id.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, id);
    else fs.lchownSync(p, id.uid, id.gid);
  }
}

function removeEmptyParent(cgroup: InstanceCgroup): void {
  for (const dir of cgroup.dirs()) {
    try {
      fs.rmdirSync(path.dirname(dir));
    } catch {
      // other instances still have theirs
    }
  }
}

function resolveOnPath(program: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(':')) {
    const p = path.join(dir, program);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** `user` of a service: a uid number or a name from /etc/passwd. */
export function resolveUser(user: string): Identity {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === user);
  if (!line) throw new PreflightError(`user "${user}" is not in /etc/passwd; give a user name that exists or a uid number`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
