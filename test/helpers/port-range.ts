// Test files run in parallel processes, each with its own supervisor allocating ports. Giving each
// process its own block keeps one file's "is this port free?" check from racing another's.
const BLOCK = 400;
const blocks = Math.floor((29_000 - 20_000) / BLOCK);
let nextBlock = process.pid % blocks;

export function portRange(): { start: number; end: number; toml: string } {
  const start = 20_000 + nextBlock * BLOCK;
  nextBlock = (nextBlock + 1) % blocks;
  const end = start + BLOCK - 1;
  return { start, end, toml: `port_range_start = ${start}\nport_range_end = ${end}\n` };
}
