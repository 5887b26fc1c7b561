import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import { TlsAsk } from '../../src/routing/tls-ask.js';

/** Calls handle with fakes of the two objects it touches; returns the status and body written. */
function ask(tls: TlsAsk, url: string, headers: http.IncomingHttpHeaders = {}): { status: number; body: string } {
  const out = { status: 0, body: '' };
  const req = { url, headers } as http.IncomingMessage;
  const res = {
    writeHead(status: number) {
      out.status = status;
      return this;
    },
    end(body: string) {
      out.body = body;
      return this;
    },
  } as unknown as http.ServerResponse;
  tls.handle(req, res);
  return out;
}

describe('TlsAsk', () => {
  it('approves exactly the hosts tenement serves, asking for them on every call', () => {
    let hosts = new Set(['alice.notes.example.com', 'example.com']);
    const tls = new TlsAsk(() => hosts);
    assert.equal(ask(tls, `${TlsAsk.PATH}?domain=alice.notes.example.com`).status, 200);
    // Caddy passes the name as the client sent it: case and port do not matter.
    assert.equal(ask(tls, `${TlsAsk.PATH}?domain=Example.COM:443`).status, 200);
    const refused = ask(tls, `${TlsAsk.PATH}?domain=evil.example.net`);
    assert.equal(refused.status, 404);
    assert.match(refused.body, /not a tenement host: evil\.example\.net/);
    assert.match(ask(tls, TlsAsk.PATH).body, /no \?domain=/);
    assert.equal(ask(tls, TlsAsk.PATH).status, 404);
    hosts = new Set(['bob.notes.example.com']);
    assert.equal(ask(tls, `${TlsAsk.PATH}?domain=alice.notes.example.com`).status, 404, 'a removed instance is no longer approved');
    assert.equal(ask(tls, `${TlsAsk.PATH}?domain=bob.notes.example.com`).status, 200);
  });

  it('refuses requests that came through a proxy: only Caddy itself asks', () => {
    const tls = new TlsAsk(() => new Set(['alice.notes.example.com']));
    for (const header of ['x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip']) {
      const res = ask(tls, `${TlsAsk.PATH}?domain=alice.notes.example.com`, { [header]: '203.0.113.7' });
      assert.equal(res.status, 403, header);
      assert.match(res.body, /answers Caddy's on-demand TLS only/);
    }
  });

  it('matches its exact path only, with or without a query string', () => {
    const at = (url: string) => TlsAsk.matches({ url } as http.IncomingMessage);
    assert.equal(at('/caddy/ask'), true);
    assert.equal(at('/caddy/ask?domain=x'), true);
    assert.equal(at('/caddy/ask/x'), false);
    assert.equal(at('/caddy/asking'), false);
    assert.equal(at('/api/caddy/ask'), false);
  });
});
