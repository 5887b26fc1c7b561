import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled tests live in dist/test/helpers; the package root is three levels up.
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const TEN_BIN = path.join(ROOT, 'dist/src/cli/ten.js');
export const TENANT_APP = path.join(ROOT, 'test/fixtures/apps/tenant.mjs');

export function fixture(...parts: string[]): string {
  return path.join(ROOT, 'test/fixtures', ...parts);
}
