// What the running Caddy can do. Baseline is 2.6.2 (Debian stable); newer releases add features
// tenement uses when present. Detected from `caddy version` of the binary.
import { execFile } from 'node:child_process';

export interface CaddyFeatures {
  version: string;
  /** `weighted_round_robin` selection policy (2.7.0). */
  weightedRoundRobin: boolean;
  /** `stream_close_delay`: reloads stop cutting WebSockets at once (2.7.0). */
  streamCloseDelay: boolean;
}

export const BASELINE: CaddyFeatures = { version: 'unknown (assuming 2.6)', weightedRoundRobin: false, streamCloseDelay: false };

export function featuresFromVersion(text: string): CaddyFeatures {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) return BASELINE;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const atLeast27 = major > 2 || (major === 2 && minor >= 7);
  return { version: `${m[1]}.${m[2]}.${m[3]}`, weightedRoundRobin: atLeast27, streamCloseDelay: atLeast27 };
}

/** Runs `<bin> version`; BASELINE when the binary cannot be run. */
export function detectFeatures(bin: string): Promise<CaddyFeatures> {
  return new Promise((resolve) => {
    execFile(bin, ['version'], { timeout: 5000 }, (err, stdout) => {
      resolve(err ? BASELINE : featuresFromVersion(stdout));
    });
  });
}
