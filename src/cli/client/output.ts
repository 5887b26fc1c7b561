// How client commands talk to the user: results on stdout (tables, JSON: safe to pipe), progress
// and warnings on stderr through consola. Colours only on a terminal and never with NO_COLOR.
import { createConsola, type ConsolaInstance } from 'consola';
import { terminalSafe } from './terminal-safe.js';

export function colorsEnabled(stream: NodeJS.WriteStream = process.stderr): boolean {
  const noColor = process.env.NO_COLOR;
  return stream.isTTY === true && (noColor === undefined || noColor === '');
}

let ui: ConsolaInstance | undefined;

/** Progress, success and warning messages (stderr). */
export function say(): ConsolaInstance {
  ui ??= createConsola({
    stdout: process.stderr,
    stderr: process.stderr,
    formatOptions: { colors: colorsEnabled(), date: false, compact: true },
  });
  return ui;
}

/** A result line on stdout. */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns separated by two spaces, header first (like the original `ten ps`). */
export function table(header: readonly string[], unsafeRows: readonly (readonly string[])[]): string {
  // Cells carry labels and errors chosen by others: never raw control characters.
  const rows = unsafeRows.map((r) => r.map(terminalSafe));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** 42s, 5m 3s, 2h 5m, 3d 4h; "-" for null. */
export function duration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return '-';
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
