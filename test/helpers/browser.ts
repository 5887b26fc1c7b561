// A real browser for dashboard tests: Debian's Chromium driven by playwright-core, headless, with a
// fresh profile in a temp dir (which also marks its processes, so clean-up can find them by pid).
import fs from 'node:fs';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from '../../src/util/wait.js';
import { killAllMentioning, pidsMentioning } from './processes.js';
import { tempDir } from './temp-dir.js';

export const CHROMIUM = process.env.TENEMENT_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots go: a folder CI keeps as an artifact (gitignored). */
export const ARTIFACTS = path.resolve(process.env.TENEMENT_TEST_ARTIFACTS ?? 'test-artifacts');

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions seen so far. */
  problems: string[];
}

export interface TestBrowser {
  newPage(): Promise<WatchedPage>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; scripts/test.sh does it) or set TENEMENT_CHROMIUM`);
  const { dir, cleanup } = tempDir('tenement-browser-');
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
        '--disable-quic',
        '--disable-dev-shm-usage',
      ],
      viewport: { width: 1360, height: 860 },
      timeout: 60_000,
    });
  } catch (err) {
    killAllMentioning(dir);
    cleanup();
    throw err;
  }
  context.setDefaultTimeout(30_000);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return {
    async newPage() {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
      return { page, problems };
    },
    async screenshot(page, name) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close().catch(() => undefined);
      // Chromium's helper processes exit just after the browser: give them a moment, then kill.
      await waitFor(() => pidsMentioning(dir).length === 0, { timeoutMs: 5000, what: 'browser processes to exit' }).catch(() => undefined);
      const left = killAllMentioning(dir);
      cleanup();
      assert.deepEqual(left, [], `browser processes left behind: ${left.join(', ')}`);
    },
  };
}
