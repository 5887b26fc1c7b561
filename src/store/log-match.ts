// The log search syntax (FTS5's query language, the subset tenement documents: words, "phrases",
// prefix*, AND, OR, NOT, parentheses) evaluated on one line of text in JavaScript.
//
// Why not always ask the FTS index: a search scoped to one tenant ran the MATCH over every
// tenant's rows before filtering (issue 11 #5), so its time told alice's searcher how often a
// word appears in bob's logs, and a prefix search over everything stalled the controller. A
// scoped search reads only the scope's rows (by index) and matches them here instead, so its cost
// depends on the scope alone and is cut into bounded batches.
//
// Tokens follow FTS5's default unicode61 tokenizer: runs of letters and digits, case-folded,
// diacritics removed.

export type MatchNode = { kind: 'phrase'; tokens: string[]; prefix: boolean } | { kind: 'and' | 'or'; items: MatchNode[] } | { kind: 'not'; left: MatchNode; right: MatchNode };

const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;

export function tokenize(text: string): string[] {
  const folded = text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  return folded.match(TOKEN) ?? [];
}

export class MatchSyntaxError extends Error {}

type Lexeme = { t: 'word'; v: string; prefix: boolean } | { t: 'phrase'; v: string; prefix: boolean } | { t: 'and' | 'or' | 'not' | '(' | ')' };

function lex(q: string): Lexeme[] {
  const out: Lexeme[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      out.push({ t: ch });
      i++;
    } else if (ch === '"') {
      let j = i + 1;
      let v = '';
      for (;;) {
        if (j >= q.length) throw new MatchSyntaxError('unterminated string');
        if (q[j] === '"') {
          if (q[j + 1] === '"') {
            v += '"';
            j += 2;
            continue;
          }
          break;
        }
        v += q[j++];
      }
      i = j + 1;
      const prefix = q[i] === '*';
      if (prefix) i++;
      out.push({ t: 'phrase', v, prefix });
    } else {
      const m = /^[\p{L}\p{N}\p{Co}_\u0080-\uffff]+/u.exec(q.slice(i));
      if (!m) throw new MatchSyntaxError(`syntax error near "${q.slice(i, i + 10)}"`);
      const v = m[0];
      i += v.length;
      const prefix = q[i] === '*';
      if (prefix) i++;
      if (!prefix && (v === 'AND' || v === 'OR' || v === 'NOT')) out.push({ t: v.toLowerCase() as 'and' | 'or' | 'not' });
      else if (q[i] === ':') throw new MatchSyntaxError(`no such column: ${v}`);
      else out.push({ t: 'word', v, prefix });
    }
  }
  return out;
}

/** Parses a search; throws MatchSyntaxError where FTS5 would refuse it. Precedence: NOT, AND, OR. */
export function parseSearch(q: string): MatchNode {
  const lx = lex(q);
  let pos = 0;
  const peek = () => lx[pos];
  const primary = (): MatchNode => {
    const l = lx[pos++];
    if (!l) throw new MatchSyntaxError('syntax error at the end of the search');
    if (l.t === '(') {
      const n = orExpr();
      if (lx[pos++]?.t !== ')') throw new MatchSyntaxError('missing ")"');
      return n;
    }
    if (l.t === 'word' || l.t === 'phrase') {
      const tokens = tokenize(l.v);
      return { kind: 'phrase', tokens, prefix: l.prefix };
    }
    throw new MatchSyntaxError(`syntax error near "${l.t.toUpperCase()}"`);
  };
  const notExpr = (): MatchNode => {
    let left = primary();
    while (peek()?.t === 'not') {
      pos++;
      left = { kind: 'not', left, right: primary() };
    }
    return left;
  };
  const andExpr = (): MatchNode => {
    const items = [notExpr()];
    for (;;) {
      const p = peek();
      if (p?.t === 'and') {
        pos++;
        items.push(notExpr());
      } else if (p && (p.t === 'word' || p.t === 'phrase' || p.t === '(')) {
        items.push(notExpr());
      } else break;
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  const orExpr = (): MatchNode => {
    const items = [andExpr()];
    while (peek()?.t === 'or') {
      pos++;
      items.push(andExpr());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  };
  const root = orExpr();
  if (pos < lx.length) throw new MatchSyntaxError(`syntax error near "${String((lx[pos] as { v?: string }).v ?? lx[pos]!.t)}"`);
  return root;
}

function phraseAt(tokens: readonly string[], start: number, phrase: readonly string[], prefix: boolean): boolean {
  for (let k = 0; k < phrase.length; k++) {
    const t = tokens[start + k];
    if (t === undefined) return false;
    const last = k === phrase.length - 1;
    if (last && prefix ? !t.startsWith(phrase[k]!) : t !== phrase[k]) return false;
  }
  return true;
}

export function matches(node: MatchNode, tokens: readonly string[]): boolean {
  switch (node.kind) {
    case 'phrase':
      if (node.tokens.length === 0) return false;
      for (let i = 0; i < tokens.length; i++) if (phraseAt(tokens, i, node.tokens, node.prefix)) return true;
      return false;
    case 'and':
      return node.items.every((n) => matches(n, tokens));
    case 'or':
      return node.items.some((n) => matches(n, tokens));
    case 'not':
      return matches(node.left, tokens) && !matches(node.right, tokens);
  }
}
