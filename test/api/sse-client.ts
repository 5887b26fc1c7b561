// A test client for GET /api/logs/stream: collects events so tests can wait for them.
import http from 'node:http';
import { SseParser, type SseEvent } from '../../src/cli/client/sse.js';
import { waitFor } from '../../src/util/wait.js';

export interface TestStream {
  status: number;
  events: SseEvent[];
  /** Raw text received so far (comments included). */
  raw(): string;
  waitForEvents(n: number, what?: string): Promise<SseEvent[]>;
  /** True once the server ended the response. */
  ended(): boolean;
  close(): void;
}

export function openStream(baseUrl: string, path: string, headers: Record<string, string>): Promise<TestStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}/${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const parser = new SseParser();
      const events: SseEvent[] = [];
      let raw = '';
      let ended = false;
      res.on('close', () => {
        ended = true;
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        events.push(...parser.push(chunk));
      });
      res.on('error', () => undefined);
      const stream: TestStream = {
        status: res.statusCode ?? 0,
        events,
        raw: () => raw,
        ended: () => ended,
        waitForEvents: (n, what) =>
          waitFor(() => (events.length >= n ? events.slice() : undefined), { timeoutMs: 5000, what: what ?? `${n} SSE events (got ${events.length}: ${raw})` }),
        close: () => req.destroy(),
      };
      if (res.statusCode !== 200) {
        res.on('end', () => resolve(stream));
        return;
      }
      // The server writes ": ready" once it has subscribed: from then on nothing published is missed.
      waitFor(() => raw.includes(': ready'), { timeoutMs: 5000, what: 'the stream to be ready' }).then(() => resolve(stream), reject);
    });
    req.on('error', reject);
  });
}
