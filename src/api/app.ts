// The controller's HTTP surface. Routes for each concern live in their own module and are mounted here.
import { Hono } from 'hono';
import type { Supervisor } from '../supervisor/supervisor.js';
import { VERSION } from '../version.js';

export interface ApiDeps {
  supervisor: Supervisor;
  startedAt: number;
}

export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get('/health', (c) =>
    c.json({
      status: 'ok',
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
      instances: deps.supervisor.list().length,
    }),
  );
  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}
