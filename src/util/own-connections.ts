// Local ports of connections the controller itself opens to instances (health probes). Activity is
// judged from connections to an instance's port (src/routing/connections.ts); without this list
// every health check would look like a request and no instance would ever go idle.
const LINGER_MS = 70_000; // a closed connection stays in TIME_WAIT for 60 s on Linux

const until = new Map<number, number>();
let pruneAt = 0;

export function noteOwnConnection(localPort: number | undefined, now = Date.now()): void {
  if (!localPort) return;
  until.set(localPort, now + LINGER_MS);
  if (now >= pruneAt) {
    for (const [port, t] of until) if (t < now) until.delete(port);
    pruneAt = now + LINGER_MS;
  }
}

export function isOwnConnection(localPort: number, now = Date.now()): boolean {
  const t = until.get(localPort);
  return t !== undefined && t >= now;
}
