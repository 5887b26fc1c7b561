// Test files run in parallel processes, each with its own supervisors allocating ports. Each
// process claims a slot of the range for itself (a file in the temp folder, created exclusively and
// removed at exit), so one file's "is this port free?" check never races another's, and a sleeping
// instance's port (free at the OS level) is not handed to another file's instance. Choosing the
// block by pid alone let two files share one about once in twenty runs.
// Within its slot a process rotates over a few blocks, one per call: consecutive tests of a file
// then start on different ports.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidRunning } from './processes.js';

const FIRST = 20_000;
const SLOTS = 4;
const SLOT_SIZE = 2_250;
const BLOCK = 450;
const BLOCKS_PER_SLOT = SLOT_SIZE / BLOCK;
const CLAIMS = path.join(os.tmpdir(), 'tenement-test-port-slots');

let slot: number | undefined;
let nextBlock = 0;

function tryClaim(file: string): boolean {
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    // Taken. A claim left by a process that is gone (a crashed run) is taken over.
    const owner = Number(fs.readFileSync(file, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && pidRunning(owner)) return false;
    fs.rmSync(file, { force: true });
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }
}

function claimSlot(): number {
  fs.mkdirSync(CLAIMS, { recursive: true });
  for (let i = 0; i < SLOTS; i++) {
    const s = (process.pid + i) % SLOTS;
    const file = path.join(CLAIMS, String(s));
    if (!tryClaim(file)) continue;
    process.once('exit', () => {
      try {
        if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file);
      } catch {
        // already gone
      }
    });
    return s;
  }
  // More test processes than slots (never with --test-concurrency=2): share one, as before.
  return process.pid % SLOTS;
}

export function portRange(): { start: number; end: number; toml: string } {
  slot ??= claimSlot();
  const start = FIRST + slot * SLOT_SIZE + nextBlock * BLOCK;
  nextBlock = (nextBlock + 1) % BLOCKS_PER_SLOT;
  const end = start + BLOCK - 1;
  return { start, end, toml: `port_range_start = ${start}\nport_range_end = ${end}\n` };
}
