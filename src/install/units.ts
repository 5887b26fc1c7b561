// The systemd units `ten install` writes, rendered by pure functions. Every setting is chosen so
// that tenants (and the managed Caddy) outlive a stop, restart or crash of the controller; the
// comments say why, and docs/systemd.md repeats them at length.
import { CADDY_ADMIN_SOCKET, SERVICE_NAME, SOCKET_NAME } from './paths.js';
import { environmentAssignment, execLine, isValidAccountName, pathValue } from './systemd-syntax.js';

export interface ServiceUnitOptions {
  /** tenement version that wrote the unit (for the header). */
  version: string;
  /** The program that runs `ten`, e.g. ['/usr/bin/node', '/usr/local/bin/ten']. */
  ten: readonly string[];
  /** Arguments after `ten` (see serveArgs). */
  args: readonly string[];
  configFile: string;
  workingDirectory: string;
  user?: string | undefined;
  group?: string | undefined;
  socketActivation: boolean;
  /** Caddy runs as its own unit (caddy.service, from `--caddy`). */
  externalCaddy: boolean;
}

export interface ServeArgsOptions {
  port: number;
  domain?: string | undefined;
  externalCaddy: boolean;
  extra?: readonly string[];
}

/** `serve ...` as the unit runs it. The config comes from $TENEMENT_CONFIG (Environment=). */
export function serveArgs(opts: ServeArgsOptions): string[] {
  const args = ['serve', '--port', String(opts.port)];
  if (opts.domain) args.push('--domain', opts.domain);
  if (opts.externalCaddy) args.push('--caddy-admin', CADDY_ADMIN_SOCKET);
  args.push(...(opts.extra ?? []));
  return args;
}

function header(file: string, flags: string, version: string): string[] {
  return [
    `# ${file}: written by \`ten install${flags}\` (tenement ${version}).`,
    '# `ten uninstall` removes it as long as it is unchanged. For local changes use a drop-in',
    `# (\`systemctl edit ${file.replace(/\.service$/, '')}\`), which install and uninstall leave alone.`,
    '# Every setting is explained in docs/systemd.md of the tenement package.',
  ];
}

export function renderServiceUnit(o: ServiceUnitOptions): string {
  for (const [what, name] of [
    ['user', o.user],
    ['group', o.group],
  ] as const) {
    if (name !== undefined && !isValidAccountName(name)) throw new Error(`--${what} ${JSON.stringify(name)} is not a valid ${what} name`);
  }
  const after = ['network-online.target'];
  const wants = ['network-online.target'];
  if (o.socketActivation) after.push(SOCKET_NAME);
  if (o.externalCaddy) {
    after.push('caddy.service');
    wants.push('caddy.service');
  }
  const flags = `${o.socketActivation ? ' --socket-activation' : ''}${o.externalCaddy ? ' --caddy' : ''}`;
  const lines: string[] = [
    ...header(SERVICE_NAME, flags, o.version),
    '',
    '[Unit]',
    'Description=tenement controller: one process per customer, with Caddy in front',
    '# Tenants listen on 127.0.0.1, but Caddy, on-demand TLS and the tenants themselves want the network.',
  ];
  if (o.externalCaddy) {
    lines.push('# caddy.service: Wants, not Requires; a restart of Caddy must not restart the controller (it re-adds its route).');
  }
  lines.push(`Wants=${wants.join(' ')}`, `After=${after.join(' ')}`);
  if (o.socketActivation) {
    lines.push(
      `# systemd holds the listening socket (${SOCKET_NAME}) and passes it in (LISTEN_FDS): the socket`,
      '# outlives this process, so connections queue instead of being refused while it restarts.',
      `Requires=${SOCKET_NAME}`,
    );
  }
  lines.push(
    '# Never give up restarting (see Restart= below): a controller that gave up leaves sleeping tenants',
    '# and the API unreachable, and an attempt costs little.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    '# `ten serve` does not call sd_notify(), so not `notify`. `exec` rather than `simple`: `systemctl start`',
    '# fails at once when the program cannot be executed, instead of reporting a start that never was.',
    'Type=exec',
    `Environment=${environmentAssignment('TENEMENT_CONFIG', o.configFile)}`,
    '# The folder of the config: relative paths mean what they mean when you run `ten serve` next to it.',
    `WorkingDirectory=${pathValue(o.workingDirectory, 'working directory')}`,
  );
  if (o.user !== undefined) {
    lines.push('# Not root: tenants run as this user too (no uid of their own, no cgroup limits; docs/isolation.md). It must own data_dir.', `User=${o.user}`);
  } else {
    lines.push('# Runs as root so that each tenant gets a uid of its own, its sandbox and its limits; tenants never run as root.');
  }
  if (o.group !== undefined) lines.push(`Group=${o.group}`);
  lines.push(
    `ExecStart=${execLine([...o.ten, ...o.args])}`,
    '# SIGHUP: reload tenement.toml and apply the difference; nothing is restarted.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '',
    '# Tenants run in their own session so that they outlive the controller, but they stay in this',
    "# unit's cgroup. The default KillMode=control-group would signal every process in it on stop and",
    '# restart: all tenants and the managed Caddy. With KillMode=process only `ten serve` is signalled;',
    '# it exits without touching tenants, and the next start adopts them (pid + start time).',
    '# To stop tenants use `ten down`. `systemctl kill tenement` needs --kill-whom=main for the same reason.',
    'KillMode=process',
    '# SIGTERM: stop accepting, let requests in flight finish (up to 10 s), exit. Tenants keep running.',
    'KillSignal=SIGTERM',
    '# Then SIGKILL, to `ten serve` only (KillMode=process). Harmless to tenants; the next start adopts them.',
    'TimeoutStopSec=30s',
    '',
    '# Restart after a crash or a SIGKILL, not after a clean exit: `ten down` stops the controller with',
    '# SIGTERM and means it. Exit status 2 is an invalid config, which retrying cannot fix.',
    'Restart=on-failure',
    'RestartSec=2s',
    'RestartPreventExitStatus=2',
    '',
    '# Resource settings are inherited by every tenant process or cover all of them (the cgroup):',
    '# generous per-process file limit; no unit-wide task cap, which would block spawns fleet-wide.',
    'LimitNOFILE=65536',
    'TasksMax=infinity',
    '# The default (stop) would stop this unit when the kernel OOM-kills one tenant; the supervisor',
    '# restarts that tenant by its restart policy instead.',
    'OOMPolicy=continue',
    '',
    '# No sandboxing here, on purpose: tenants inherit all of it. PrivateTmp=, ProtectSystem=,',
    '# ProtectHome= and friends make one mount namespace per start of this unit, which tenants of an',
    "# earlier start keep (PrivateTmp's directory is even deleted at stop while they still use it);",
    '# NoNewPrivileges= breaks tenants that run setuid programs or rely on file capabilities.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  );
  if (o.socketActivation) lines.push(`# \`systemctl enable tenement\` enables the socket too.`, `Also=${SOCKET_NAME}`);
  return `${lines.join('\n')}\n`;
}

export interface SocketUnitOptions {
  version: string;
  port: number;
  /** The controller's listen address; `ten serve` listens on 127.0.0.1 by default. */
  host?: string;
}

export function renderSocketUnit(o: SocketUnitOptions): string {
  const host = o.host ?? '127.0.0.1';
  const address = host.includes(':') ? `[${host}]:${o.port}` : `${host}:${o.port}`;
  const lines = [
    ...header(SOCKET_NAME, ' --socket-activation', o.version),
    '',
    '[Unit]',
    "Description=tenement controller's listening socket (socket activation)",
    `# Not PartOf=${SERVICE_NAME}: the socket must stay open while the controller restarts; that is its point.`,
    '',
    '[Socket]',
    `# The controller's own listener (API, /health, wake endpoint, TLS ask): the same as \`ten serve --port ${o.port}\`.`,
    `ListenStream=${address}`,
    '# One listening socket handed to `ten serve` (LISTEN_FDS), not one service per connection.',
    'Accept=no',
    '# Connections wait in this queue while the controller restarts (capped by net.core.somaxconn).',
    'Backlog=4096',
    'NoDelay=true',
    '',
    '[Install]',
    'WantedBy=sockets.target',
  ];
  return `${lines.join('\n')}\n`;
}

/** Drop-in for Debian's caddy.service, which does not create the folder of our admin socket. */
export function renderCaddyDropIn(o: { version: string }): string {
  const lines = [
    `# caddy.service.d/tenement.conf: written by \`ten install --caddy\` (tenement ${o.version}).`,
    '# `ten uninstall` removes it as long as it is unchanged.',
    `# The Caddyfile written with it puts Caddy's admin API on ${CADDY_ADMIN_SOCKET.replace('unix/', '')}, so that only root and`,
    "# Caddy's user can change routes. Debian's caddy.service does not create /run/caddy; this does",
    '# (owned by User=caddy, removed when Caddy stops). Harmless for a caddy.service from elsewhere.',
    '[Service]',
    'RuntimeDirectory=caddy',
    'RuntimeDirectoryMode=0750',
  ];
  return `${lines.join('\n')}\n`;
}
