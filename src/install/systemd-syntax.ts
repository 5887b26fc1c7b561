// Writing values into systemd unit files safely (systemd.syntax(7), systemd.service(5) "Command
// lines"): specifiers (%) and, in command lines, environment references ($) must be doubled, and
// arguments with spaces or quotes must be quoted with C-style escapes.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

function refuseControlCharacters(value: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw new Error(`${what} contains a control character (newline, tab, ...): ${JSON.stringify(value)}`);
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** One argument of ExecStart=: % and $ doubled, quoted when it is not a plain word. */
export function execArg(value: string): string {
  refuseControlCharacters(value, 'command-line argument');
  if (value === '') return '""';
  const escaped = value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return SAFE_WORD.test(value) ? escaped : quote(escaped);
}

/** A whole command line for ExecStart=. */
export function execLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command line');
  const first = argv[0]!;
  if (!first.startsWith('/')) throw new Error(`the program must be an absolute path, found ${JSON.stringify(first)}`);
  return argv.map(execArg).join(' ');
}

/** One NAME=value assignment for Environment=, quoted when needed (specifiers doubled; no $ expansion there). */
export function environmentAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not an environment variable name: ${JSON.stringify(name)}`);
  refuseControlCharacters(value, `${name}`);
  const assignment = `${name}=${value.replace(/%/g, '%%')}`;
  return SAFE_WORD.test(value) ? assignment : quote(assignment);
}

/** An absolute path for settings such as WorkingDirectory= (specifiers doubled). */
export function pathValue(value: string, what: string): string {
  refuseControlCharacters(value, what);
  if (!value.startsWith('/')) throw new Error(`${what} must be an absolute path, found ${JSON.stringify(value)}`);
  return value.replace(/%/g, '%%');
}

/** A user or group name as systemd accepts it for User=/Group= (the portable subset). */
export function isValidAccountName(name: string): boolean {
  return /^[a-z_][a-z0-9_-]{0,30}$/i.test(name) || /^[0-9]+$/.test(name);
}
