// Structured logging: JSON lines when output is not a terminal (journald, files, tests),
// readable consola lines on a terminal. Every entry carries fields, never pre-formatted context.
import { createConsola, type ConsolaInstance } from 'consola';

export type LogFields = Record<string, string | number | boolean | null | undefined>;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry. */
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  format?: 'json' | 'pretty';
  level?: LogLevel;
  /** Where JSON lines go; defaults to stderr so command output on stdout stays clean. */
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? (process.env.TENEMENT_LOG_FORMAT === 'json' || !process.stderr.isTTY ? 'json' : 'pretty');
  const min = LEVELS[opts.level ?? (process.env.TENEMENT_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? LEVELS.info;
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const pretty: ConsolaInstance | undefined = format === 'pretty' ? createConsola({ stdout: process.stderr, stderr: process.stderr }) : undefined;

  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (LEVELS[level] < min) return;
      const all = { ...base, ...fields };
      if (pretty) {
        const extra = Object.entries(all)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
          .join(' ');
        pretty[level](extra ? `${msg}  ${extra}` : msg);
      } else {
        write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...all }));
      }
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make({});
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
