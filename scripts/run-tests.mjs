// Runs the compiled test files with node's test runner. Files run two at a time (the machine has
// two cores); each file manages its own processes and ports.
//
// A hung test (a child that never answers, a promise never settled) must not eat CI's 90 minutes:
// --test-timeout fails it and ends the run. On Node 20 the runner applies it to each test file as a
// whole (later Node versions also to each test in it), so it is sized for the longest file, not the
// longest test: the slowest files (e2e/upgrade, e2e/wake) take about 2-3 minutes on a busy two-core
// machine, the whole suite about 5. Ten minutes is far from any healthy file and still leaves CI
// most of its budget to report the hang.
const TEST_TIMEOUT_MS = 10 * 60 * 1000;
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);

function collect(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'bench' ? [] : collect(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

let files = collect(path.join(root, 'dist/test')).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files found (did the build run?)');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NO_COLOR: '1' },
});
process.exit(res.status ?? 1);
