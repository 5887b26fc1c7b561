// How `command` becomes argv when `args` is not given: split into words the way a shell would
// (quotes honoured) without running a shell. Shared by validation and the supervisor, so a command
// that validates is exactly a command that runs.
import { parse as shellParse } from 'shell-quote';

function unterminatedQuote(command: string): string | undefined {
  let open: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (open === "'") {
      if (c === "'") open = undefined;
    } else if (c === '\\') {
      i++;
    } else if (open === '"') {
      if (c === '"') open = undefined;
    } else if (c === '"' || c === "'") {
      open = c;
    }
  }
  return open;
}

/**
 * Splits a command line into words. `$VAR` stays literal (no shell expands it) and shell operators
 * (`&&`, `|`, `;`, redirections) are refused: without a shell they would silently become arguments.
 * Throws an Error whose message says what is wrong and what to write instead.
 */
export function splitCommand(command: string): string[] {
  const open = unterminatedQuote(command);
  if (open) throw new Error(`has an unterminated ${open} quote`);
  const words: string[] = [];
  for (const part of shellParse(command, (key: string) => `$${key}`)) {
    if (typeof part === 'string') words.push(part);
    else if ('op' in part && part.op === 'glob') words.push((part as { pattern: string }).pattern);
    else if ('comment' in part) break;
    else if ('op' in part) {
      throw new Error(`contains the shell operator "${part.op}", but commands are not run through a shell; ` + 'use command = "sh" and args = ["-c", "..."] for shell features');
    }
  }
  if (words.length === 0) throw new Error('contains no program to run');
  return words;
}
