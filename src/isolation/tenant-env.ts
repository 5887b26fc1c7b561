// The environment an instance gets: nothing of the controller's (its tokens, its listener fds, its
// config path), only what the instance needs and what its service asked for.

/** Searched for programs given without a path, inside and outside the sandbox. */
export const TENANT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface TenantEnvInput {
  port: number;
  dataDir: string;
  service: string;
  id: string;
  /** The service's `env`, already expanded; may override PATH, HOME and LANG, never PORT. */
  serviceEnv: Record<string, string>;
}

export function tenantEnv(i: TenantEnvInput): Record<string, string> {
  const env: Record<string, string> = {
    PATH: TENANT_PATH,
    HOME: i.dataDir,
    LANG: 'C.UTF-8',
    DATA_DIR: i.dataDir,
    ...i.serviceEnv,
  };
  env.PORT = String(i.port);
  env.TENEMENT_SERVICE = i.service;
  env.TENEMENT_INSTANCE = i.id;
  return env;
}
