// Maps key paths to 1-based source lines so every config message can say `file:line`.
// smol-toml returns plain values without positions, so this re-reads the text with a small,
// forgiving TOML scanner. It only runs on text smol-toml already accepted, so it can skip
// validation and concentrate on where keys, tables and array elements start.

/** Segments of a key; numbers index arrays (`instances.api[1]` is ['instances', 'api', 1]). */
export type KeyPath = readonly (string | number)[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** `service.api.env`, `routing.path."/api"`, `instances.api[1]`: the form issues carry in `key`. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out ? '.' : '') + (BARE_KEY.test(seg) ? seg : JSON.stringify(seg));
  }
  return out;
}

/** Inverse of formatKeyPath; also accepts TOML literal-quoted segments ('a.b'). */
export function parseKeyPath(text: string): (string | number)[] {
  const out: (string | number)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      i++;
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      const stop = end < 0 ? text.length : end;
      out.push(Number(text.slice(i + 1, stop)));
      i = stop + 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += c === '"' && text[j] === '\\' ? 2 : 1;
      out.push(decodeQuoted(text.slice(i, j + 1), c));
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && text[j] !== '.' && text[j] !== '[') j++;
      out.push(text.slice(i, j).trim());
      i = j;
    }
  }
  return out;
}

function decodeQuoted(raw: string, quote: string): string {
  if (quote === "'") return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    // TOML escapes JSON lacks (\e, \UXXXXXXXX): a near miss still locates nothing worse than the table.
    return raw.slice(1, -1);
  }
}

export interface SourceIndex {
  /** Line where this exact key, table or array element starts, if it appears in the text. */
  exact(path: KeyPath | string): number | undefined;
  /** Like exact, but falls back to the nearest enclosing key or table that does appear. */
  line(path: KeyPath | string): number | undefined;
}

/** Scans the source once; use the result for many look-ups. */
export function indexSource(source: string): SourceIndex {
  const lines = new Scanner(source).run();
  const toPath = (p: KeyPath | string): KeyPath => (typeof p === 'string' ? parseKeyPath(p) : p);
  const exact = (p: KeyPath | string): number | undefined => lines.get(pathId(toPath(p)));
  return {
    exact,
    line(p) {
      const path = toPath(p);
      for (let n = path.length; n > 0; n--) {
        const found = lines.get(pathId(path.slice(0, n)));
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}

/** One-off look-up; see indexSource. */
export function locateKey(source: string, path: KeyPath | string): number | undefined {
  return indexSource(source).line(path);
}

function pathId(path: KeyPath): string {
  return JSON.stringify(path);
}

class Scanner {
  private pos = 0;
  private lineNo = 1;
  private readonly found = new Map<string, number>();
  /** Current index of each array of tables, so `[a.b]` after `[[a]]` lands under a[n]. */
  private readonly arrayTables = new Map<string, number>();

  constructor(private readonly src: string) {}

  run(): Map<string, number> {
    let current: (string | number)[] = [];
    while (this.skipBlank()) {
      const start = this.pos;
      const line = this.lineNo;
      if (this.src.startsWith('[[', this.pos)) {
        this.advance(2);
        const key = this.resolveTablePath(this.readKey());
        const id = pathId(key);
        const n = (this.arrayTables.get(id) ?? -1) + 1;
        this.arrayTables.set(id, n);
        this.recordWithParents(key, line);
        current = [...key, n];
        this.record(current, line);
      } else if (this.peek() === '[') {
        this.advance(1);
        current = this.resolveTablePath(this.readKey());
        this.recordWithParents(current, line);
      } else {
        const key = this.readKey();
        if (key.length > 0) {
          this.skipSpaces();
          if (this.peek() === '=') {
            this.advance(1);
            const full = [...current, ...key];
            this.recordWithParents(full, line, current.length);
            this.readValue(full);
          }
        }
      }
      this.skipToEol();
      if (this.pos === start) this.advance(1);
    }
    return this.found;
  }

  private record(path: KeyPath, line: number): void {
    const id = pathId(path);
    // First appearance wins: that is where the reader should look first.
    if (!this.found.has(id)) this.found.set(id, line);
  }

  private recordWithParents(path: KeyPath, line: number, from = 0): void {
    for (let n = Math.max(from, 0) + 1; n <= path.length; n++) this.record(path.slice(0, n), line);
  }

  private resolveTablePath(key: string[]): (string | number)[] {
    const out: (string | number)[] = [];
    for (const seg of key) {
      out.push(seg);
      const n = this.arrayTables.get(pathId(out));
      if (n !== undefined) out.push(n);
    }
    // The header names the array itself, not its latest element.
    if (typeof out[out.length - 1] === 'number') out.pop();
    return out;
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private advance(n: number): void {
    for (let i = 0; i < n && this.pos < this.src.length; i++) {
      if (this.src[this.pos] === '\n') this.lineNo++;
      this.pos++;
    }
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.advance(1);
  }

  private skipComment(): void {
    if (this.peek() === '#') while (this.pos < this.src.length && this.peek() !== '\n') this.advance(1);
  }

  /** Skips spaces, comments and newlines; false at the end of the text. */
  private skipBlank(): boolean {
    for (;;) {
      this.skipSpaces();
      this.skipComment();
      const c = this.peek();
      if (c === '\n' || c === '\r' || c === '\uFEFF') this.advance(1);
      else return this.pos < this.src.length;
    }
  }

  private skipToEol(): void {
    while (this.pos < this.src.length && this.peek() !== '\n') this.advance(1);
  }

  /** A possibly dotted, possibly quoted key; stops before `=`, `]` or `]]`. */
  private readKey(): string[] {
    const segs: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      if (c === '"' || c === "'") {
        const start = this.pos;
        this.skipSingleLineString(c);
        segs.push(decodeQuoted(this.src.slice(start, this.pos), c));
      } else {
        const start = this.pos;
        while (this.pos < this.src.length && /[^\s.=\][#"',{}]/.test(this.src[this.pos] as string)) this.advance(1);
        if (this.pos === start) break;
        segs.push(this.src.slice(start, this.pos));
      }
      this.skipSpaces();
      if (this.peek() !== '.') break;
      this.advance(1);
    }
    return segs;
  }

  private skipSingleLineString(quote: string): void {
    this.advance(1);
    while (this.pos < this.src.length) {
      const c = this.peek();
      if (c === '\n') return;
      if (c === '\\' && quote === '"') {
        this.advance(2);
        continue;
      }
      this.advance(1);
      if (c === quote) return;
    }
  }

  private skipMultiLineString(quote: string): void {
    const fence = quote.repeat(3);
    this.advance(3);
    while (this.pos < this.src.length) {
      if (quote === '"' && this.peek() === '\\') {
        this.advance(2);
      } else if (this.src.startsWith(fence, this.pos)) {
        this.advance(3);
        // Up to two quotes may end the content right before the fence: `""""`.
        while (this.peek() === quote) this.advance(1);
        return;
      } else {
        this.advance(1);
      }
    }
  }

  private readValue(path: (string | number)[]): void {
    this.skipSpaces();
    const c = this.peek();
    if (c === '"' || c === "'") {
      if (this.src.startsWith(c.repeat(3), this.pos)) this.skipMultiLineString(c);
      else this.skipSingleLineString(c);
    } else if (c === '[') {
      this.advance(1);
      for (let index = 0; ; index++) {
        if (!this.skipBlank()) return;
        if (this.peek() === ']') {
          this.advance(1);
          return;
        }
        const before = this.pos;
        const element = [...path, index];
        this.record(element, this.lineNo);
        this.readValue(element);
        if (!this.skipBlank()) return;
        if (this.peek() === ',') this.advance(1);
        if (this.pos === before) this.advance(1);
      }
    } else if (c === '{') {
      this.advance(1);
      for (;;) {
        if (!this.skipBlank()) return;
        if (this.peek() === '}') {
          this.advance(1);
          return;
        }
        const before = this.pos;
        const line = this.lineNo;
        const key = this.readKey();
        this.skipSpaces();
        if (key.length > 0 && this.peek() === '=') {
          this.advance(1);
          const full = [...path, ...key];
          this.recordWithParents(full, line, path.length);
          this.readValue(full);
        }
        if (!this.skipBlank()) return;
        if (this.peek() === ',') this.advance(1);
        if (this.pos === before) this.advance(1);
      }
    } else {
      // Numbers, booleans, dates (which may contain a space): up to the next delimiter.
      while (this.pos < this.src.length && !/[,\]}#\r\n]/.test(this.src[this.pos] as string)) this.advance(1);
    }
  }
}
