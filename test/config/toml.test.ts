import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { parseToml, TomlSyntaxError } from '../../src/config/toml.js';

// smol-toml parsed tenement.toml before: the values the validator sees must not change.
const DOCUMENTS = [
  'title = "x"\n[settings]\ndata_dir = "./d"\nhealth_check_interval = 5\n',
  '[service.api]\ncommand = """\nmulti\nline"""\nargs = ["a", \'b\', "c\\td"]\nenv.A = "1"\nenv."B.C" = "2"\n',
  '[[fruit]]\nname = "apple"\n[fruit.variety]\nkind = "red"\n[[fruit]]\nname = "pear"\n[[fruit.seeds]]\nn = 1\n',
  'a = { x = 1, y = [1, 2.5, -0.0], z = { deep = true } }\nb = [[1, 2], ["x"], []]\n',
  'dt = 1979-05-27 07:32:00Z\nldt = 1979-05-27T07:32:00\nld = 1979-05-27\nlt = 07:32:00\n',
  'hex = 0xff\noct = 0o17\nbin = 0b11\nunder = 1_000\nexp = 1e3\ninf = -inf\n',
  '[a.b.c]\nd = 1\n[a]\ne = 2\n',
  '\'quoted key\' = 1\n"\\u00e9" = 2\n',
  'x = { a = 1,\n  b = 2 }\ne = "\\e"\n', // TOML 1.1, which smol-toml accepts too
];

describe('toml', () => {
  for (const doc of DOCUMENTS) {
    it(`gives the same values as smol-toml for ${JSON.stringify(doc.slice(0, 40))}...`, () => {
      assert.deepEqual(parseToml(doc).value, parse(doc));
    });
  }

  it('keeps keys that name Object.prototype members as plain data', () => {
    const { value } = parseToml('[service.constructor]\ncommand = "x"\n[service.__proto__]\ncommand = "y"\n[toString]\n');
    const service = value.service as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), null);
    assert.deepEqual(Object.keys(service), ['constructor', '__proto__']);
    assert.equal(Object.getPrototypeOf(service), null);
    assert.deepEqual(Object.keys(value), ['service', 'toString'], 'a [toString] table is a key like any other');
    assert.equal(({} as Record<string, unknown>).command, undefined, 'nothing leaked onto Object.prototype');
  });

  it('keeps integers beyond 2^53 exact, as bigints', () => {
    assert.equal(parseToml('n = 9223372036854775807').value.n, 9223372036854775807n);
    assert.equal(parseToml('n = 9007199254740991').value.n, 9007199254740991);
  });

  it('reports a syntax error at the mistake, with a one-line message', () => {
    const cases: [string, number][] = [
      ['[settings]\nstop_timeout = 3\n\n[service.api\ncommand = "x"', 4],
      ['a = 1\nb = "unterminated\nc = 2', 2],
      ['[a]\nx = 1\n[a]\n', 3],
      ['a = [1, 2\nb = 3', 2],
    ];
    for (const [text, line] of cases) {
      assert.throws(
        () => parseToml(text),
        (err: unknown) => err instanceof TomlSyntaxError && err.line === line && err.column >= 1 && !err.message.includes('\n') && err.message.length > 0,
        JSON.stringify(text),
      );
    }
  });

  it('indexes the lines of the same parse', () => {
    const { index } = parseToml('[service.api]\ncommand = "x"\n\nargs = [\n  "a",\n  "b",\n]\n');
    assert.equal(index.line('service.api'), 1);
    assert.equal(index.line('service.api.args[1]'), 6);
    assert.equal(index.exact('service.api.idle_timeout'), undefined);
  });
});
