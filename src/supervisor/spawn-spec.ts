// Turning a service template plus one instance into the exact argv, env and cwd of its process.
import path from 'node:path';
import { splitCommand } from '../config/command.js';
import type { Config, ServiceConfig } from '../config/types.js';
import { expandTemplate } from '../config/template.js';
import { instancePaths } from './layout.js';
import type { LaunchSpec } from './runtime/runtime.js';

export interface InstanceTarget {
  service: string;
  id: string;
  port: number;
}

export function buildLaunchSpec(config: Config, service: ServiceConfig, target: InstanceTarget, baseEnv: NodeJS.ProcessEnv = process.env): LaunchSpec {
  const paths = instancePaths(config.settings.data_dir, target.service, target.id);
  const vars = {
    name: target.service,
    id: target.id,
    port: String(target.port),
    data_dir: config.settings.data_dir,
    instance_dir: paths.instanceDir,
  };
  const expand = (s: string) => expandTemplate(s, vars);
  let file: string;
  let args: string[];
  if (service.args !== undefined) {
    file = expand(service.command);
    args = service.args.map(expand);
  } else {
    [file, ...args] = splitCommand(service.command).map(expand) as [string, ...string[]];
  }
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  for (const [k, v] of Object.entries(service.env)) env[k] = expand(v);
  env.PORT = String(target.port);
  if (!('DATA_DIR' in service.env)) env.DATA_DIR = paths.instanceDir;
  env.TENEMENT_SERVICE = target.service;
  env.TENEMENT_INSTANCE = target.id;
  return {
    file,
    args,
    env,
    // Relative commands (`python app.py`) mean "next to tenement.toml", like every other path in it.
    cwd: service.workdir ?? path.dirname(config.file),
    stdoutLog: paths.stdoutLog,
    stderrLog: paths.stderrLog,
  };
}
