// Gate files: one per instance that is not serving (asleep, starting, restarting, failed). Caddy's
// `file` matcher sends requests for a gated instance to the controller's wake endpoint, so the
// instance's routes never change when it sleeps or wakes. The files are derived from the store
// and can be rebuilt at any time.
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

export class Gates {
  constructor(readonly dir: string) {
    // Caddy may run as another user (external mode): it must be able to stat these files.
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  }

  private file(service: string, id: string): string {
    return path.join(this.dir, gateFileName(service, id));
  }

  isClosed(service: string, id: string): boolean {
    return fs.existsSync(this.file(service, id));
  }

  /** Makes the gate match the record: closed unless the instance is serving. */
  apply(record: Pick<InstanceRecord, 'service' | 'id' | 'observed'>): void {
    if (isServing(record)) this.open(record.service, record.id);
    else this.close(record.service, record.id);
  }

  close(service: string, id: string): void {
    const file = this.file(service, id);
    if (fs.existsSync(file)) return;
    // Written aside and renamed: Caddy sees the gate either absent or present, never half-made.
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, '');
    fs.renameSync(tmp, file);
  }

  open(service: string, id: string): void {
    fs.rmSync(this.file(service, id), { force: true });
  }

  /** Makes every gate match the records; removes gates of instances that no longer exist. */
  reconcile(records: ReadonlyArray<Pick<InstanceRecord, 'service' | 'id' | 'observed'>>): void {
    const wanted = new Set<string>();
    for (const r of records) {
      this.apply(r);
      wanted.add(gateFileName(r.service, r.id));
    }
    for (const name of fs.readdirSync(this.dir)) {
      if (!wanted.has(name)) fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }
}
