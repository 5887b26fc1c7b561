import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser } from '../../src/cli/client/sse.js';

describe('SseParser', () => {
  it('returns events as chunks complete them, whatever the chunk boundaries and line endings', () => {
    // A CR at the very end of a chunk may be half of a CRLF, so a CR-ended event is complete only
    // once the next character arrives; the server ends lines with LF.
    const text = ': ready\n\nevent: log\nid: 7\ndata: {"a":1}\n\ndata: line one\ndata: line two\r\n\r\nid: 9\rdata: x\r\rdata: end\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      assert.deepEqual(
        events,
        [
          { event: 'log', data: '{"a":1}', id: '7' },
          { event: 'message', data: 'line one\nline two', id: undefined },
          { event: 'message', data: 'x', id: '9' },
          { event: 'message', data: 'end', id: undefined },
        ],
        `cut at ${cut}`,
      );
    }
  });

  it('holds an unfinished event until its blank line arrives', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: half'), []);
    assert.deepEqual(p.push('\n'), []);
    assert.deepEqual(p.push('\n'), [{ event: 'message', data: 'half', id: undefined }]);
  });
});
