import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WAKE_HEADER, WAKE_KEY_HEADER } from '../../caddy/routes.js';
import { forward, forwardUpgrade } from '../../src/routing/forward.js';

/** A server on an ephemeral loopback port; closed (with its connections) by the returned function. */
async function listen(server: http.Server | net.Server): Promise<{ port: number; close: () => Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      if (server instanceof http.Server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  bytes: number;
}

describe('forward', () => {
  // The instance: records what reached it, answers with what it read.
  const seen: Seen[] = [];
  let hold: (() => void) | undefined;
  const instance = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, bytes });
      if (req.url === '/hang') return; // never answers: the request timeout must end it
      if (req.url === '/held') {
        res.writeHead(200, { 'x-app': 'held' });
        res.write('first ');
        hold = () => res.end('last');
        return;
      }
      res.writeHead(201, { 'x-app': 'yes', connection: 'close', 'content-type': 'text/plain' });
      res.end(`read ${bytes} bytes`);
    });
  });
  // The controller's side: every request is forwarded with forward().
  let instancePort = 0;
  let timeoutMs = 5000;
  const front = http.createServer((req, res) => void forward(req, res, Number(req.headers['x-port'] ?? instancePort), timeoutMs));
  let frontUrl = '';
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    const i = await listen(instance);
    instancePort = i.port;
    const f = await listen(front);
    frontUrl = `http://127.0.0.1:${f.port}`;
    closers.push(f.close, i.close);
  });
  after(async () => {
    for (const close of closers) await close();
  });

  it('streams a large body to the instance and its answer back; hop-by-hop and wake headers stop here', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 'x');
    const res = await fetch(`${frontUrl}/upload?q=1`, {
      method: 'POST',
      body,
      headers: { [WAKE_HEADER]: 'notes:alice', [WAKE_KEY_HEADER]: 'secret', 'x-custom': 'kept', te: 'trailers' },
    });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), `read ${body.length} bytes`);
    assert.equal(res.headers.get('x-app'), 'yes');
    assert.equal(res.headers.get('connection'), 'keep-alive', "the instance's connection header is not passed on");
    const got = seen.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/upload?q=1');
    assert.equal(got.headers['x-custom'], 'kept');
    for (const h of [WAKE_HEADER, WAKE_KEY_HEADER, 'te']) assert.equal(got.headers[h.toLowerCase()], undefined, h);
  });

  it('passes a response through as it is written, not when it ends', async () => {
    const res = await fetch(`${frontUrl}/held`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), 'first ');
    hold!();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.equal(rest, 'last');
  });

  it('answers 502 with the reason when the instance cannot be reached or does not answer in time', async () => {
    const closed = net.createServer();
    const c = await listen(closed);
    await c.close(); // a port nobody listens on
    const refused = await fetch(`${frontUrl}/`, { headers: { 'x-port': String(c.port) } });
    assert.equal(refused.status, 502);
    assert.match(await refused.text(), /forwarding to the instance failed: .*ECONNREFUSED/);

    timeoutMs = 200;
    try {
      const slow = await fetch(`${frontUrl}/hang`);
      assert.equal(slow.status, 502);
      assert.match(await slow.text(), /no answer within request_timeout \(0\.2 s\)/);
    } finally {
      timeoutMs = 5000;
    }
  });
});

describe('forwardUpgrade', () => {
  it('replays the request head without wake headers, then splices both ways until either side ends', async () => {
    let head = '';
    let serverSide: net.Socket | undefined;
    let headDone = () => {};
    const gotHead = new Promise<void>((resolve) => (headDone = resolve));
    const instance = net.createServer((s) => {
      serverSide = s;
      s.on('data', (c: Buffer) => {
        if (!head.includes('\r\n\r\n')) {
          head += c.toString('latin1');
          if (head.includes('\r\n\r\n')) headDone();
          return;
        }
        s.write(`echo:${c.toString()}`);
      });
    });
    const i = await listen(instance);
    const front = http.createServer();
    front.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, early: Buffer) => forwardUpgrade(req, socket, early, i.port));
    const f = await listen(front);
    try {
      const client = net.connect(f.port, '127.0.0.1');
      await once(client, 'connect');
      client.write(`GET /ws HTTP/1.1\r\nHost: alice.notes.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WAKE_HEADER}: notes:alice\r\n${WAKE_KEY_HEADER}: k\r\n\r\n`);
      await gotHead;
      assert.match(head, /^GET \/ws HTTP\/1\.1\r\n/);
      assert.match(head, /\r\nUpgrade: websocket\r\n/);
      assert.doesNotMatch(head, /X-Tenement/i);

      client.write('ping');
      const [echo] = (await once(client, 'data')) as [Buffer];
      assert.equal(echo.toString(), 'echo:ping');

      // The client goes away: the instance's side is closed too.
      const instanceClosed = once(serverSide!, 'close');
      client.end();
      await instanceClosed;
    } finally {
      await f.close();
      await i.close();
    }
  });
});
