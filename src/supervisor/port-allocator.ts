import net from 'node:net';
import { DomainError } from '../util/domain-error.js';

/** True when nothing listens on 127.0.0.1:port (checked by binding it for a moment). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

export class PortRangeExhaustedError extends DomainError<'port_range_exhausted'> {
  constructor(start: number, end: number) {
    super('port_range_exhausted', `no free port left in ${start}-${end}: widen settings.port_range_start/port_range_end or stop unused instances`);
    this.name = 'PortRangeExhaustedError';
  }
}

/**
 * Picks a port in [start, end] that no instance holds and the OS reports free. Starts at a
 * rotating offset so a just-released port is not handed straight to the next instance.
 */
export class PortAllocator {
  private next: number;
  constructor(
    private readonly start: number,
    private readonly end: number,
    private readonly probe: (port: number) => Promise<boolean> = isPortFree,
  ) {
    this.next = start;
  }

  async allocate(taken: ReadonlySet<number>): Promise<number> {
    const size = this.end - this.start + 1;
    for (let i = 0; i < size; i++) {
      const port = this.start + ((this.next - this.start + i) % size);
      if (taken.has(port)) continue;
      if (await this.probe(port)) {
        this.next = port + 1 > this.end ? this.start : port + 1;
        return port;
      }
    }
    throw new PortRangeExhaustedError(this.start, this.end);
  }
}
