// Keeping the controller's own descriptors out of what it starts. A descriptor that is not
// close-on-exec (an inherited listening socket) would otherwise be inherited by every child: a
// tenant holding the controller's socket keeps it open after the controller died, so connections
// queue unanswered. Each such descriptor is covered with /dev/null in the child instead.
import fs from 'node:fs';

/** stdio entries (from fd 3 up) that cover each descriptor in `fds` with /dev/null in the child. */
export function maskedStdio(fds: readonly number[]): Array<number | 'ignore'> {
  if (fds.length === 0) return [];
  const top = Math.max(...fds);
  const devNull = fs.openSync('/dev/null', 'r');
  const extra: Array<number | 'ignore'> = [];
  for (let fd = 3; fd <= top; fd++) extra.push(fds.includes(fd) ? devNull : 'ignore');
  return extra;
}

/** Closes the parent's copies of what maskedStdio opened. */
export function closeMasked(stdio: Array<number | 'ignore'>): void {
  const seen = new Set<number>();
  for (const s of stdio) {
    if (typeof s === 'number' && !seen.has(s)) {
      seen.add(s);
      fs.closeSync(s);
    }
  }
}
