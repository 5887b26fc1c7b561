import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandTemplate, findUnknownPlaceholders, type TemplateVars } from '../../src/config/template.js';

const VARS: TemplateVars = {
  name: 'notes',
  id: 'alice',
  port: 30001,
  data_dir: '/srv/data',
  instance_dir: '/srv/data/notes/alice',
};

describe('templates', () => {
  it('expands every placeholder', () => {
    assert.equal(expandTemplate('{name}:{id} on {port} in {data_dir} and {instance_dir}/db', VARS), 'notes:alice on 30001 in /srv/data and /srv/data/notes/alice/db');
    assert.equal(expandTemplate('{port}{port}', VARS), '3000130001');
  });

  it('unescapes {{ and }}', () => {
    assert.equal(expandTemplate('{{id}} is {id}', VARS), '{id} is alice');
    assert.equal(expandTemplate('{{{id}}}', VARS), '{alice}');
    assert.deepEqual(findUnknownPlaceholders('{{nope}}'), []);
  });

  it('leaves shell and JSON braces alone', () => {
    for (const text of ['find . -exec rm {} ;', 'f() { echo; }', '{"a": 1}', 'echo {1..5}', 'echo ${HOME} $USER']) {
      assert.deepEqual(findUnknownPlaceholders(text), [], text);
      assert.equal(expandTemplate(text, VARS), text);
    }
  });

  it('expands a placeholder written shell-style', () => {
    assert.equal(expandTemplate('${port}', VARS), '$30001');
  });

  it('reports unknown placeholders once each, in order', () => {
    assert.deepEqual(findUnknownPlaceholders('{socket} {Name} {data-dir} {socket} {id}'), ['socket', 'Name', 'data-dir']);
    assert.deepEqual(findUnknownPlaceholders('{name}{id}{port}{data_dir}{instance_dir}'), []);
  });

  it('keeps unknown placeholders as written when expanding', () => {
    assert.equal(expandTemplate('{foo}-{id}', VARS), '{foo}-alice');
  });
});
