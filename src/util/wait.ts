// Waiting on a condition with a deadline: the only way tenement (and its tests) wait for readiness.
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from './domain-error.js';

export class TimeoutError extends DomainError<'timeout'> {
  constructor(message: string) {
    super('timeout', message);
    this.name = 'TimeoutError';
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** First poll interval; grows by half each round up to maxIntervalMs. */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** What was being waited for, for the timeout message. */
  what?: string;
  /** Aborting it rejects the wait with an AbortError. */
  signal?: AbortSignal;
}

/** Polls `check` until it returns a value other than undefined/false, or throws TimeoutError. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let interval = opts.intervalMs ?? 10;
  const maxInterval = opts.maxIntervalMs ?? 50;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? 'a condition'}`);
    await sleep(Math.min(interval, left), undefined, opts.signal ? { signal: opts.signal } : {});
    interval = Math.min(Math.ceil(interval * 1.5), maxInterval);
  }
}
