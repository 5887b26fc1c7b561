import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatKeyPath, indexSource, locateKey, parseKeyPath } from '../../src/config/locate.js';

const SOURCE = [
  '# comment [not.a.table]', //                     1
  'title = "x" # trailing', //                      2
  '', //                                             3
  '[settings]', //                                   4
  'data_dir = "./d"', //                             5
  '  health_check_interval   =  5', //               6
  '', //                                             7
  '[service."my-svc"]', //                           8
  'command = """', //                                9
  'multi [line] = "string"', //                     10
  'idle_timeout = 4"""', //                         11
  'env.A = "1"', //                                 12
  '# env = "x" here would redefine env: not TOML', // 13
  '', //                                            14
  "[ service . 'lit.key' ]", //                     15
  'args = ["a", "b",', //                           16
  '  "c", # comment, with [brackets]', //           17
  '  "d"', //                                       18
  ']', //                                           19
  'inline = { x = 1, y = [1, 2] }', //              20
  '', //                                            21
  '[instances]', //                                 22
  'api = ["prod", "staging"]', //                   23
  '', //                                            24
  '[routing.subdomain]', //                         25
  'admin = "api"', //                               26
  '[routing.path]', //                              27
  '"/api" = "api"', //                              28
  '[[fruit]]', //                                   29
  'name = "apple"', //                              30
  '[fruit.variety]', //                             31
  'kind = "red"', //                                32
  '[[fruit]]', //                                   33
  'name = "pear"', //                               34
  'dt = 1979-05-27 07:32:00Z', //                   35
  'ml = { a = 1,', //                               36
  '       b = 2 }', //                              37
].join('\n');

describe('locate', () => {
  const index = indexSource(SOURCE);
  const cases: [string | (string | number)[], number | undefined][] = [
    ['title', 2],
    ['settings', 4],
    ['settings.data_dir', 5],
    ['settings.health_check_interval', 6],
    [['service', 'my-svc'], 8],
    ['service."my-svc".command', 9],
    // Text inside the multi-line string is not a key; the key after it is.
    ['service."my-svc".idle_timeout', 8],
    ['service."my-svc".env.A', 12],
    ['service."my-svc".env', 12],
    [['service', 'lit.key'], 15],
    ["service.'lit.key'.args", 16],
    ['service."lit.key".args[0]', 16],
    ['service."lit.key".args[2]', 17],
    ['service."lit.key".args[3]', 18],
    ['service."lit.key".inline.y[1]', 20],
    ['instances', 22],
    ['instances.api', 23],
    ['instances.api[1]', 23],
    ['routing.subdomain.admin', 26],
    ['routing.path."/api"', 28],
    ['fruit[0].name', 30],
    ['fruit[0].variety.kind', 32],
    ['fruit[1].name', 34],
    ['fruit[1].dt', 35],
    ['fruit[1].ml.b', 37],
  ];
  for (const [path, line] of cases) {
    it(`finds ${typeof path === 'string' ? path : JSON.stringify(path)} on line ${line}`, () => {
      assert.equal(index.line(path), line);
    });
  }

  it('falls back to the enclosing table, then to undefined', () => {
    assert.equal(index.exact('settings.max_restarts'), undefined);
    assert.equal(index.line('settings.max_restarts'), 4);
    assert.equal(index.line('instances.api[7]'), 23);
    assert.equal(index.line('nowhere.at.all'), undefined);
    assert.equal(locateKey(SOURCE, 'routing.default'), 25);
  });

  it('counts CRLF line endings correctly', () => {
    assert.equal(locateKey('[a]\r\nb = 1\r\n\r\n[c]\r\nd = [\r\n 1,\r\n 2]\r\n', 'c.d[1]'), 7);
  });

  it('formats and parses key paths both ways', () => {
    const paths: (string | number)[][] = [
      ['service', 'api', 'idle_timeout'],
      ['routing', 'path', '/api'],
      ['instances', 'api', 1],
      ['service', '../x'],
      ['service', 'a.b', 'env', 'X'],
    ];
    for (const p of paths) assert.deepEqual(parseKeyPath(formatKeyPath(p)), p);
    assert.equal(formatKeyPath(['routing', 'path', '/api']), 'routing.path."/api"');
    assert.equal(formatKeyPath(['instances', 'api', 1]), 'instances.api[1]');
  });
});
