// The level of a captured line. Tenants log in every format there is; this recognizes the common
// ones cheaply and never fails:
//  1. a JSON object with a `level` (or `severity`, `lvl`) field: names ("warning", "ERROR") or
//     pino/bunyan numbers (10 trace ... 60 fatal);
//  2. a level word near the start: "ERROR ...", "[WARN] ...", "2024-01-01 12:00:00 INFO ...",
//     "[2024-01-01T12:00:00Z DEBUG app] ..." (Rust env_logger), "ERROR:root:..." (Python);
//  3. an indented continuation line (stack trace frames) keeps the level of the line before it;
//  4. otherwise the stream decides: stdout -> info, stderr -> warn. Stderr is where programs put
//     diagnostics, so an unmarked stderr line deserves more attention than stdout, but calling it
//     "error" would bury real errors under every chatty logger that writes to stderr.
import type { LogLevel, LogStream } from '../store/log-store.js';

const NAMES: Record<string, LogLevel> = {
  trace: 'debug',
  debug: 'debug',
  dbg: 'debug',
  verbose: 'debug',
  info: 'info',
  information: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  wrn: 'warn',
  error: 'error',
  err: 'error',
  fatal: 'error',
  panic: 'error',
  crit: 'error',
  critical: 'error',
  alert: 'error',
  emerg: 'error',
  emergency: 'error',
};

function fromNumber(n: number): LogLevel | undefined {
  if (!Number.isFinite(n)) return undefined;
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  return 'debug';
}

function fromJson(text: string): LogLevel | undefined {
  if (!text.startsWith('{') || !text.endsWith('}')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  for (const key of ['level', 'severity', 'lvl', 'loglevel']) {
    const v = o[key];
    if (typeof v === 'string') {
      const level = NAMES[v.trim().toLowerCase()];
      if (level) return level;
    } else if (typeof v === 'number') {
      return fromNumber(v);
    }
  }
  return undefined;
}

// A level word at the very start (any case, followed by punctuation or space), or an upper-case
// level word within the first few tokens, optionally in brackets (after a timestamp, a pid...).
const AT_START = /^[[(<]?(trace|debug|dbg|info|notice|warn|warning|error|err|fatal|panic|crit|critical)\b[\])>]?[:\s|-]/i;
const NEAR_START = /^(?:\S+\s+){0,3}?[[(<]?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|PANIC|CRIT|CRITICAL)\b/;

function fromWords(text: string): LogLevel | undefined {
  const m = AT_START.exec(text) ?? NEAR_START.exec(text.slice(0, 120));
  return m ? NAMES[m[1]!.toLowerCase()] : undefined;
}

/**
 * Level of `text` (one line, no newline). `previous` is the level of the line before it in the
 * same file, for continuation lines.
 */
export function detectLevel(text: string, stream: LogStream, previous?: LogLevel): LogLevel {
  const trimmed = text.trim();
  const explicit = fromJson(trimmed) ?? fromWords(trimmed);
  if (explicit) return explicit;
  if (previous && trimmed !== '' && /^\s/.test(text)) return previous;
  return stream === 'stderr' ? 'warn' : 'info';
}
