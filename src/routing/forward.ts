// Forwarding one request the controller holds (a wake) to the instance, streaming both ways:
// the body of any size is piped, never buffered.
import http from 'node:http';
import { WAKE_HEADER, WAKE_KEY_HEADER } from '../../caddy/routes.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 16 });

function requestHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    if (k === WAKE_HEADER.toLowerCase() || k === WAKE_KEY_HEADER.toLowerCase()) continue;
    out[k] = v;
  }
  return out;
}

/** Streams `req` to 127.0.0.1:port and the answer back to `res`. Resolves when the response ends. */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const upstream = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: requestHeaders(req), agent, timeout: timeoutMs },
      (up) => {
        const headers: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
        res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
        up.pipe(res);
        up.once('end', resolve);
        up.once('error', () => {
          res.destroy();
          resolve();
        });
      },
    );
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
