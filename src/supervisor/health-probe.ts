// One health probe of an instance: HTTP GET of its `health` path (2xx = healthy), or a TCP connect
// when the service has no `health`. Never "any 200 substring" or "the port accepts" for HTTP apps.
import net from 'node:net';
import http from 'node:http';
import got from 'got';
import { noteOwnConnection } from '../util/own-connections.js';

export interface ProbeResult {
  ok: boolean;
  /** Why it failed (or the status when it passed), for logs and `ten health`. */
  detail: string;
}

// A fresh connection per probe: a keep-alive socket to a process that was just replaced would lie.
const agent = new http.Agent({ keepAlive: false });

export async function probeHttp(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  try {
    const res = await got(`http://127.0.0.1:${port}${path}`, {
      agent: { http: agent },
      retry: { limit: 0 },
      timeout: { request: timeoutMs },
      throwHttpErrors: false,
      followRedirect: false,
      headers: { 'user-agent': 'tenement-health' },
    }).on('request', (req) => req.once('socket', (s: net.Socket) => s.once('connect', () => noteOwnConnection(s.localPort))));
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    return { ok, detail: `GET ${path} -> ${res.statusCode}` };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { ok: false, detail: `GET ${path} failed: ${e.code ?? e.message}` };
  }
}

export function probeTcp(port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (r: ProbeResult) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, detail: `TCP connect timed out after ${timeoutMs} ms` }));
    socket.once('connect', () => {
      noteOwnConnection(socket.localPort);
      done({ ok: true, detail: 'TCP connect ok' });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `TCP connect failed: ${err.code ?? err.message}` }));
  });
}

export function probe(port: number, healthPath: string | undefined, timeoutMs: number): Promise<ProbeResult> {
  return healthPath ? probeHttp(port, healthPath, timeoutMs) : probeTcp(port, timeoutMs);
}
