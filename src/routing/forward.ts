// Forwarding one request the controller holds (a wake) to the instance, streaming both ways:
// the body of any size is piped, never buffered.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WAKE_HEADER, WAKE_KEY_HEADER } from '../../caddy/routes.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 16 });

/** Headers only Caddy's wake routes set: they stop at the controller. */
const TENEMENT_HEADERS = new Set([WAKE_HEADER.toLowerCase(), WAKE_KEY_HEADER.toLowerCase()]);

function requestHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || TENEMENT_HEADERS.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Streams `req` to 127.0.0.1:port and the answer back to `res`. Resolves when the response ends. */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: requestHeaders(req), agent, timeout: timeoutMs }, (up) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
      up.pipe(res);
      up.once('end', resolve);
      up.once('error', () => {
        res.destroy();
        resolve();
      });
    });
    upstream.once('timeout', () => upstream.destroy(new Error(`no answer within request_timeout (${timeoutMs / 1000} s)`)));
    upstream.once('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`tenement: forwarding to the instance failed: ${err.message}\n`);
      } else {
        res.destroy();
      }
      resolve();
    });
    req.pipe(upstream);
  });
}

/**
 * Hands an Upgrade request (WebSocket) to the instance: the request head is replayed on a new
 * connection and the two sockets are spliced; the instance answers the handshake itself.
 */
export function forwardUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, port: number): void {
  const upstream = net.connect({ host: '127.0.0.1', port }, () => {
    let raw = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!TENEMENT_HEADERS.has(req.rawHeaders[i]!.toLowerCase())) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    }
    upstream.write(`${raw}\r\n`);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.once('error', close);
  socket.once('error', close);
  upstream.once('close', () => socket.destroy());
  socket.once('close', () => upstream.destroy());
  // Caddy ends its side when the client is gone; servers may not close a half-closed socket
  // (http.Server allows half-open), so the end of the client side ends the whole stream.
  socket.once('end', close);
}
