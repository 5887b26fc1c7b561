// The dashboard's static files (built by `npm run build` from web/ into dist/web): the page at `/`,
// its hashed assets under /assets/. The page is public (it holds no data); everything it shows
// comes from the token-protected API. A strict Content-Security-Policy lets the page load only its
// own files and talk only to this origin, so an injected log line can never become a script.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../env.js';

/** dist/src/api/routes/dashboard.js -> dist/web. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Vite names assets name-HASH.ext; nothing else is served from /assets. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.[A-Za-z0-9]+$/;

interface Asset {
  body: Buffer;
  /** Compressed once at first use: the script is ~30 KB, ~11 KB gzipped. */
  gzip: Buffer;
  type: string;
}

export function dashboardRoutes(dir: string = DEFAULT_DASHBOARD_DIR): Hono<ApiEnv> {
  const r = new Hono<ApiEnv>();
  // Hashed names never change content: read once, keep.
  const assets = new Map<string, Asset | null>();

  const index = (c: Context<ApiEnv>) => {
    let body: Buffer;
    try {
      body = fs.readFileSync(path.join(dir, 'index.html'));
    } catch {
      return c.json({ error: `the dashboard is not built (no ${path.join(dir, 'index.html')}); run \`npm run build\`` }, 404);
    }
    // no-cache = revalidate every time: a new version's page (naming new assets) shows at once.
    const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    const headers = { ...SECURITY_HEADERS, 'Cache-Control': 'no-cache', ETag: etag };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(body), 200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
  };
  r.get('/', index);
  r.get('/index.html', index);

  r.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    let asset = assets.get(name);
    if (asset === undefined) {
      asset = null;
      const type = TYPES[path.extname(name)];
      if (ASSET_NAME.test(name) && type) {
        try {
          const body = fs.readFileSync(path.join(dir, 'assets', name));
          asset = { body, gzip: zlib.gzipSync(body, { level: 9 }), type };
        } catch {
          asset = null;
        }
      }
      // Unknown names are not remembered: the map holds only what the build produced.
      if (asset) assets.set(name, asset);
    }
    if (!asset) return c.json({ error: `no such dashboard file: /assets/${name}` }, 404);
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
      Vary: 'Accept-Encoding',
    };
    const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '') && asset.gzip.length < asset.body.length;
    if (gzip) headers['Content-Encoding'] = 'gzip';
    return c.body(new Uint8Array(gzip ? asset.gzip : asset.body), 200, headers);
  });
  return r;
}
