// Activity from the kernel's TCP table: open connections mean busy, TIME_WAIT entries tell when the
// last connection ended, the controller's own probes are not requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { portActivity } from '../../src/routing/connections.js';

const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
// Instance port 30001 = 0x7531; Caddy's side uses 45000 (0xAFC8), a probe 45100 (0xB02C).
const row = (local: string, remote: string, st: string, timer = '00:00000000') =>
  `   0: ${local} ${remote} ${st} 00000000:00000000 ${timer} 00000000  1000        0 0 1 0000000000000000`;
const listen = row('0100007F:7531', '00000000:0000', '0A');
const none = (_: number) => false;
const NOW = 1_000_000;

test('a listening socket alone is no activity', () => {
  assert.deepEqual(portActivity([[HEAD, listen].join('\n')], 30001, NOW, none), { open: false, lastClosedAt: undefined });
});

test('an established connection (either end listed) is open', () => {
  const t = [HEAD, listen, row('0100007F:7531', '0100007F:AFC8', '01'), row('0100007F:AFC8', '0100007F:7531', '01')].join('\n');
  assert.equal(portActivity([t], 30001, NOW, none).open, true);
  assert.equal(portActivity([t], 30002, NOW, none).open, false, 'another port');
});

test('TIME_WAIT tells when the connection ended: 60 s minus the time left', () => {
  // 0x0BB8 = 3000 ticks of 10 ms = 30 s left, so it closed 30 s ago; the newer of two wins.
  const t = [HEAD, row('0100007F:AFC8', '0100007F:7531', '06', '03:00000BB8'), row('0100007F:AFC9', '0100007F:7531', '06', '03:00000100')].join('\n');
  assert.deepEqual(portActivity([t], 30001, NOW, none), { open: false, lastClosedAt: NOW - 30_000 });
});

test("the controller's own connections (health probes) are left out", () => {
  const t = [HEAD, row('0100007F:B02C', '0100007F:7531', '01'), row('0100007F:7531', '0100007F:B02C', '01'), row('0100007F:B02C', '0100007F:7531', '06', '03:00001700')].join('\n');
  assert.deepEqual(
    portActivity([t], 30001, NOW, (p) => p === 45100),
    { open: false, lastClosedAt: undefined },
  );
});

test('IPv6 tables (an app bound to ::) count the same', () => {
  const t6 = [HEAD, row('0000000000000000FFFF00000100007F:7531', '0000000000000000FFFF00000100007F:AFC8', '01')].join('\n');
  assert.equal(portActivity(['', t6], 30001, NOW, none).open, true);
});
