// Request activity of instances from the kernel's TCP table, at no cost per request: a request to
// an instance is a connection to its port, which is listed in /proc/net/tcp while open and for 60 s
// after it closes (TIME_WAIT, with the time left). Caddy keeps idle connections to instances only a
// short while (UPSTREAM_IDLE_SEC in caddy/routes.ts), so an open connection means a request now or
// a moment ago, and a closed one tells when it ended. Reading the table costs in proportion to the
// connections the machine has, not to the number of instances.
import fs from 'node:fs';
import { isOwnConnection } from '../util/own-connections.js';

const CLOSE = '07';
const TIME_WAIT = '06';
const LISTEN = '0A';
/** TCP_TIMEWAIT_LEN: how long a closed connection stays listed. */
const TIME_WAIT_MS = 60_000;
/** /proc/net/tcp timer values are in USER_HZ ticks. */
const TICK_MS = 10;

export interface PortActivity {
  /** A connection to the port is open now (a request or stream in flight, or a kept-alive idle one). */
  open: boolean;
  /** When the latest closed connection to the port ended (epoch ms), if one is still listed. */
  lastClosedAt: number | undefined;
}

/**
 * Activity of one port from the text of /proc/net/tcp and /proc/net/tcp6. Both ends of a loopback
 * connection are listed: the instance's end (local port = the instance port) and the client's
 * (remote port = the instance port); connections the controller opened itself (health probes)
 * are left out.
 */
export function portActivity(tables: string[], port: number, now: number, own: (localPort: number) => boolean = isOwnConnection): PortActivity {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const result: PortActivity = { open: false, lastClosedAt: undefined };
  for (const table of tables) {
    // Cheap reject before splitting lines: most tables do not mention the port at all.
    if (!table.includes(`:${hex} `)) continue;
    for (const line of table.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 7) continue;
      const local = f[1]!;
      const remote = f[2]!;
      const state = f[3]!;
      if (state === LISTEN) continue;
      const localPort = local.slice(local.lastIndexOf(':') + 1);
      const remotePort = remote.slice(remote.lastIndexOf(':') + 1);
      let clientPort: number;
      if (localPort === hex) clientPort = parseInt(remotePort, 16);
      else if (remotePort === hex) clientPort = parseInt(localPort, 16);
      else continue;
      if (own(clientPort)) continue;
      if (state === TIME_WAIT) {
        const left = parseInt(f[5]!.split(':')[1] ?? '0', 16) * TICK_MS;
        const closedAt = now - Math.max(0, TIME_WAIT_MS - left);
        if (result.lastClosedAt === undefined || closedAt > result.lastClosedAt) result.lastClosedAt = closedAt;
      } else if (state !== CLOSE) {
        // ESTABLISHED, or opening or closing right now (SYN_*, FIN_WAIT, CLOSE_WAIT...): in use.
        result.open = true;
      }
    }
  }
  return result;
}

/** The TCP tables of this network namespace (IPv4 and IPv6). */
export async function readTcpTables(): Promise<string[]> {
  const read = (f: string) => fs.promises.readFile(f, 'utf8').catch(() => '');
  return Promise.all([read('/proc/net/tcp'), read('/proc/net/tcp6')]);
}
