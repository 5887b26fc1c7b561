// Gate files: one per instance that is not serving (asleep, starting, restarting, failed). Caddy's
// `file` matcher sends requests for a gated instance to the controller's wake endpoint, so the
// instance's routes never change when it sleeps or wakes. The files are derived from the store
// and can be rebuilt at any time.
//
// A service route has one gate file of its own, `{service}@{hash of its members}`, that exists
// while any member's does: a request to the service host costs Caddy one stat, not one per member
// (999 at a thousand instances). The router tracks the service gates of every tree that may be in
// Caddy (the one it holds and the one being pushed); each is kept right from a count of its
// closed members, so a member's change costs one file operation per service it is in.
import fs from 'node:fs';
import path from 'node:path';
import { gateFileName } from '../../caddy/routes.js';
import type { InstanceRecord } from '../store/types.js';

export function gateDir(dataDir: string): string {
  return path.join(dataDir, '_run', 'gates');
}

/** An instance is served directly only while it runs; in every other state its requests are held. */
export function isServing(record: Pick<InstanceRecord, 'observed'>): boolean {
  return record.observed === 'running';
}

const isServiceGate = (name: string) => name.includes('@');
const isTemporary = (name: string) => name.includes('.tmp-');

interface ServiceGate {
  members: readonly string[];
  closedMembers: number;
}

export class Gates {
  /** Names of the closed instance gates (the files that exist). */
  private readonly closed = new Set<string>();
  private readonly services = new Map<string, ServiceGate>();
  /** Instance gate -> the service gates it is a member of. */
  private readonly memberOf = new Map<string, Set<string>>();
  /** Service gates left by an earlier controller are removed once a tree that does not use them is in Caddy. */
  private swept = false;

  constructor(readonly dir: string) {
    // Caddy may run as another user (external mode): it must be able to stat these files.
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const name of fs.readdirSync(dir)) if (!isServiceGate(name) && !isTemporary(name)) this.closed.add(name);
  }

  isClosed(service: string, id: string): boolean {
    return this.closed.has(gateFileName(service, id));
  }

  /** Whether a service gate's file exists (tests and diagnostics). */
  isServiceGateClosed(name: string): boolean {
    return fs.existsSync(path.join(this.dir, name));
  }

  /** Makes the gate match the record: closed unless the instance is serving. */
  apply(record: Pick<InstanceRecord, 'service' | 'id' | 'observed'>): void {
    if (isServing(record)) this.open(record.service, record.id);
    else this.close(record.service, record.id);
  }

  close(service: string, id: string): void {
    const name = gateFileName(service, id);
    if (this.closed.has(name)) return;
    this.write(name);
    this.closed.add(name);
    for (const s of this.memberOf.get(name) ?? []) {
      const gate = this.services.get(s)!;
      if (gate.closedMembers++ === 0) this.write(s);
    }
  }

  open(service: string, id: string): void {
    const name = gateFileName(service, id);
    if (!this.closed.delete(name)) return;
    // The instance's gate first: while any service gate it is in stays closed, that is harmless.
    this.remove(name);
    for (const s of this.memberOf.get(name) ?? []) {
      const gate = this.services.get(s)!;
      if (--gate.closedMembers === 0) this.remove(s);
    }
  }

  /**
   * Starts keeping service gates right (before a tree that uses them is pushed): each exists from
   * now on exactly while one of its members' gates does.
   */
  track(services: ReadonlyMap<string, readonly string[]>): void {
    for (const [name, members] of services) {
      if (this.services.has(name)) continue;
      const gate = { members, closedMembers: members.filter((m) => this.closed.has(m)).length };
      this.services.set(name, gate);
      for (const m of members) {
        let of = this.memberOf.get(m);
        if (!of) this.memberOf.set(m, (of = new Set()));
        of.add(name);
      }
      if (gate.closedMembers > 0) this.write(name);
      else this.remove(name);
    }
  }

  /** Stops keeping (and removes) the service gates no tree in Caddy can use any longer. */
  retain(keep: ReadonlySet<string>): void {
    for (const [name, gate] of this.services) {
      if (keep.has(name)) continue;
      this.services.delete(name);
      for (const m of gate.members) {
        const of = this.memberOf.get(m);
        of?.delete(name);
        if (of?.size === 0) this.memberOf.delete(m);
      }
      this.remove(name);
    }
    if (this.swept) return;
    this.swept = true;
    for (const name of fs.readdirSync(this.dir)) if (isServiceGate(name) && !this.services.has(name)) this.remove(name);
  }

  /**
   * Makes every instance gate match the records; removes gates of instances that no longer exist.
   * Service gates are left to track/retain: one left by an earlier controller may still be in use
   * by the tree Caddy holds, and a closed one is always safe (the controller serves the request).
   */
  reconcile(records: ReadonlyArray<Pick<InstanceRecord, 'service' | 'id' | 'observed'>>): void {
    const wanted = new Set<string>();
    for (const r of records) {
      this.apply(r);
      wanted.add(gateFileName(r.service, r.id));
    }
    for (const name of fs.readdirSync(this.dir)) {
      if (wanted.has(name) || (isServiceGate(name) && !isTemporary(name))) continue;
      if (this.closed.has(name)) {
        const [service, id] = splitGate(name);
        this.open(service, id);
      } else fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  private write(name: string): void {
    const file = path.join(this.dir, name);
    // Written aside and renamed: Caddy sees the gate either absent or present, never half-made.
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, '');
    fs.renameSync(tmp, file);
  }

  private remove(name: string): void {
    fs.rmSync(path.join(this.dir, name), { force: true });
  }
}

function splitGate(name: string): [string, string] {
  const dot = name.indexOf('.');
  return [name.slice(0, dot), name.slice(dot + 1)];
}
