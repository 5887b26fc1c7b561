// Where `ten install` writes, as paths on the target system. `--root DIR` prefixes all of them
// (tests, image builds); the manifest always records the target paths, without the root.
import path from 'node:path';

export const UNIT_DIR = '/etc/systemd/system';
export const SERVICE_NAME = 'tenement.service';
export const SOCKET_NAME = 'tenement.socket';
export const SERVICE_PATH = `${UNIT_DIR}/${SERVICE_NAME}`;
export const SOCKET_PATH = `${UNIT_DIR}/${SOCKET_NAME}`;
/** Drop-in for Debian's caddy.service: creates /run/caddy for the admin socket of our Caddyfile. */
export const CADDY_DROP_IN_PATH = `${UNIT_DIR}/caddy.service.d/tenement.conf`;
export const DEFAULT_CADDYFILE_PATH = '/etc/caddy/Caddyfile';
/** Next to the config that install does not touch, and removed with the last file it lists. */
export const MANIFEST_PATH = '/etc/tenement/install-manifest.json';
export const DEFAULT_CONFIG_PATH = '/etc/tenement/tenement.toml';
/** The admin socket named in Caddyfile.example; `ten serve --caddy-admin` must use the same. */
export const CADDY_ADMIN_SOCKET = 'unix//run/caddy/admin.sock';

/** The host path of a target path under `root` ("/" = the running system). */
export function underRoot(root: string, target: string): string {
  if (!path.isAbsolute(target)) throw new Error(`not an absolute path: ${target}`);
  return root === '/' ? path.normalize(target) : path.join(root, target);
}

/** The target path of a host path under `root` (inverse of underRoot), or undefined when outside it. */
export function targetPath(root: string, hostPath: string): string | undefined {
  if (root === '/') return path.normalize(hostPath);
  const rel = path.relative(root, hostPath);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return `/${rel}`;
}
