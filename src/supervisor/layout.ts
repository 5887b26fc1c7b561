// Where things live under data_dir. Tenement's own folders start with '_', which no service name
// (a DNS label) can, so a service called "logs" can never collide with them.
import path from 'node:path';

export interface InstancePaths {
  /** The instance's own data directory (`{instance_dir}`, also `DATA_DIR` for the child). */
  instanceDir: string;
  stdoutLog: string;
  stderrLog: string;
}

export function instanceDir(dataDir: string, service: string, id: string): string {
  return path.join(dataDir, service, id);
}

export function logDir(dataDir: string): string {
  return path.join(dataDir, '_logs');
}

export function runDir(dataDir: string): string {
  return path.join(dataDir, '_run');
}

export function instancePaths(dataDir: string, service: string, id: string): InstancePaths {
  const logs = path.join(logDir(dataDir), service);
  return {
    instanceDir: instanceDir(dataDir, service, id),
    stdoutLog: path.join(logs, `${id}.stdout.log`),
    stderrLog: path.join(logs, `${id}.stderr.log`),
  };
}
