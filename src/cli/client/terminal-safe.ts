// Text that came from tenants or API clients (log lines, token labels, error details) must not
// drive the operator's terminal (issue 11 #9): `\e[2J` clears it, `\e]0;...\a` retitles it, a
// mid-line `\r` overwrites the prefix so a line seems to come from another instance, and bidi
// overrides reorder what is shown. Every such character is shown as a visible escape instead.
// JSON output needs none of this: JSON.stringify already escapes control characters.

// C0 controls except tab, DEL, C1 controls, and the Unicode bidi embedding/override/isolate marks.
// eslint-disable-next-line no-control-regex -- matching them is the point
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\x1b': '\\e' };

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
