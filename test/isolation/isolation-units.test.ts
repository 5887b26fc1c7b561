// Unit tests of the isolation pieces: argv builders, rule sets, env, preflight, uid allocation, and
// (as root on a host with cgroups) one real cgroup created, limited, joined and removed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cgroupJoinWaits, detectCgroupHost, InstanceCgroup, joinCgroupArgv, weightToShares } from '../../src/isolation/cgroup.js';
import { describeHost, findTool } from '../../src/isolation/host.js';
import { hostUidFilter } from '../../src/isolation/host-ids.js';
import { deleteScript, ownElementsScript, renderRuleset, runNft, tableName } from '../../src/isolation/net-rules.js';
import { accessProblem, preflight, PreflightError } from '../../src/isolation/preflight.js';
import { bwrapArgs, readOnlyExtras, setprivArgs } from '../../src/isolation/sandbox-argv.js';
import { tenantEnv, TENANT_PATH } from '../../src/isolation/tenant-env.js';
import { openDatabase } from '../../src/store/database.js';
import { IdentityExhaustedError, IdentityStore } from '../../src/store/identity-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const isRoot = process.getuid?.() === 0;

describe('tenant environment', () => {
  it('has PORT, DATA_DIR, the service env and a minimal PATH/HOME/LANG, nothing else', () => {
    const env = tenantEnv({ port: 31000, dataDir: '/d/api/a', service: 'api', id: 'a', serviceEnv: { APP: 'x', PORT: '1' } });
    assert.deepEqual(env, {
      PATH: TENANT_PATH,
      HOME: '/d/api/a',
      LANG: 'C.UTF-8',
      DATA_DIR: '/d/api/a',
      APP: 'x',
      PORT: '31000',
      TENEMENT_SERVICE: 'api',
      TENEMENT_INSTANCE: 'a',
    });
  });
});

describe('bubblewrap argv', () => {
  const plan = {
    dataRoot: '/tmp/t1/data',
    instanceDir: '/tmp/t1/data/api/a',
    extraReadOnly: ['/tmp/app'],
    hiddenFiles: ['/etc/tenement.toml'],
    cwd: '/tmp/app',
    shareNet: true as const,
  };
  const argv = bwrapArgs(plan, { userNamespace: false });
  const at = (flag: string, value: string) => argv.findIndex((v, i) => v === flag && argv[i + 1] === value);

  it('unshares PID, IPC and UTS, never the network, and never dies with its parent', () => {
    for (const f of ['--unshare-pid', '--unshare-ipc', '--unshare-uts']) assert.ok(argv.includes(f), f);
    assert.ok(!argv.includes('--unshare-net') && !argv.includes('--unshare-all'));
    assert.ok(!argv.includes('--die-with-parent'), 'tenants must outlive the controller');
    assert.ok(!argv.includes('--unshare-user'), 'as root no user namespace: the host must see the instance uid');
    assert.equal(argv.at(-1), '--');
  });

  it('mounts the system read-only, private /tmp and /dev/shm, hides the data root and binds only the instance dir', () => {
    assert.ok(at('--ro-bind', '/') >= 0);
    assert.ok(at('--tmpfs', '/tmp') > at('--ro-bind', '/'));
    assert.ok(at('--tmpfs', '/dev/shm') > 0);
    assert.ok(at('--ro-bind', '/tmp/app') > at('--tmpfs', '/tmp'), 'the app shows through the private /tmp');
    assert.ok(at('--tmpfs', '/tmp/t1/data') > at('--ro-bind', '/tmp/app'), 'the data root is hidden');
    assert.ok(at('--bind', '/tmp/t1/data/api/a') > at('--tmpfs', '/tmp/t1/data'), 'then only its own directory');
    assert.equal(argv.filter((a) => a === '--bind').length, 1, 'exactly one writable bind');
    assert.ok(at('--ro-bind', '/dev/null') >= 0 && argv[at('--ro-bind', '/dev/null') + 2] === '/etc/tenement.toml', 'config reads as empty');
    // Parents bwrap must create are searchable, or the tenant could not walk to DATA_DIR.
    assert.ok(at('--dir', '/tmp/t1') > 0 && argv[at('--dir', '/tmp/t1') - 1] === '0755');
    assert.ok(at('--dir', '/tmp/t1/data/api') > 0 && argv[at('--dir', '/tmp/t1/data/api') - 1] === '0711');
  });

  it('as a non-root controller uses a user namespace and drops every capability', () => {
    const a = bwrapArgs(plan, { userNamespace: true });
    assert.ok(a.includes('--unshare-user'));
    assert.ok(a.includes('--cap-drop'));
  });

  it('setpriv drops to the uid with no groups, capabilities or new privileges', () => {
    assert.deepEqual(setprivArgs({ uid: 600001, gid: 600001 }), [
      '--reuid=600001',
      '--regid=600001',
      '--clear-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--',
    ]);
  });

  it('only paths under the private tmpfs need to show through', () => {
    assert.deepEqual(readOnlyExtras(['/srv/app', '/tmp/x/app', '/tmp/x/app/bin', '/tmp']), ['/tmp/x/app']);
  });
});

describe('network rules', () => {
  it('rejects, for restricted uids, local connections to protected ports and instance ports other than their own', () => {
    const script = renderRuleset({
      table: 'tenement_x',
      protectedPorts: [8080, 2019, 8080],
      portRange: [30000, 30100],
      restricted: [600002, 0, 600001, 600003],
      own: [
        { uid: 600002, port: 30002 },
        { uid: 600001, port: 30001 },
      ],
    });
    assert.match(script, /^table inet tenement_x \{\}\ndelete table inet tenement_x\n/);
    assert.match(script, /set tenants \{ type uid; elements = \{ 600001, 600002, 600003 \}; \}/, 'uid 0 is never restricted');
    assert.match(script, /set own \{ type uid \. inet_service; elements = \{ 600001 \. 30001, 600002 \. 30002 \}; \}/);
    assert.match(
      script,
      /meta skuid @tenants tcp flags & \(syn \| ack\) == syn fib daddr type local meta skuid \. tcp dport != @own tcp dport \{ 2019, 8080, 30000-30100 \} counter reject with tcp reset/,
    );
    assert.equal(script.match(/reject/g)?.length, 1, 'one rule whatever the number of tenants');
    assert.match(renderRuleset({ table: 't', protectedPorts: [], portRange: [1, 2], restricted: [5], own: [] }), /set own \{ type uid \. inet_service; \}/);
    assert.equal(deleteScript('t'), 'table inet t {}\ndelete table inet t\n');
    assert.match(tableName('/var/lib/tenement'), /^tenement_[0-9a-f]{10}$/);
    assert.notEqual(tableName('/a'), tableName('/b'));
  });

  it('changes own-port pairs as elements; a removal works whether or not the pair is there', () => {
    assert.equal(ownElementsScript('t', [], []), '');
    assert.equal(
      ownElementsScript('t', [{ uid: 7, port: 30007 }], [{ uid: 8, port: 30008 }]),
      'add element inet t own { 8 . 30008 }\ndelete element inet t own { 8 . 30008 }\nadd element inet t own { 7 . 30007 }\n',
    );
  });

  it('is accepted by the kernel, changed by element, and removed again (root with nft only)', { skip: !(isRoot && findTool('nft')) }, async () => {
    const nft = findTool('nft')!;
    const table = `tenement_unit${process.pid}`;
    const list = () => spawnSync(nft, ['list', 'table', 'inet', table], { encoding: 'utf8' }).stdout;
    try {
      await runNft(nft, renderRuleset({ table, protectedPorts: [9], portRange: [30000, 30010], restricted: [600999, 600998], own: [{ uid: 600999, port: 30001 }] }));
      assert.match(list(), /600998, 600999/);
      assert.match(list(), /600999 \. 30001/);
      await runNft(nft, ownElementsScript(table, [{ uid: 600998, port: 30002 }], [{ uid: 600999, port: 30001 }]));
      await runNft(nft, ownElementsScript(table, [], [{ uid: 600999, port: 30001 }]));
      assert.match(list(), /600998 \. 30002/);
      assert.doesNotMatch(list(), /600999 \. 30001/);
    } finally {
      await runNft(nft, deleteScript(table));
    }
    assert.notEqual(spawnSync(nft, ['list', 'table', 'inet', table]).status, 0, 'table removed');
  });
});

describe('cgroups', () => {
  it('maps cpu weight to v1 shares', () => {
    assert.equal(weightToShares(100), 1024);
    assert.equal(weightToShares(1), 10);
    assert.equal(weightToShares(10000), 102400);
  });

  it('detects v1 and v2 layouts from a mounts table', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = path.join(dir, 'mounts');
      fs.writeFileSync(
        f,
        'cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,memory 0 0\ncgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\ncgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n',
      );
      assert.deepEqual(detectCgroupHost(f), { version: 1, mounts: { memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids', cpu: '/sys/fs/cgroup/cpu,cpuacct' } });
      fs.writeFileSync(f, 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
      assert.deepEqual(detectCgroupHost(f), { version: 2, mounts: { unified: '/sys/fs/cgroup' } });
    } finally {
      cleanup();
    }
  });

  it('knows whether a cgroup join waits for the kernel: not with a favordynmods mount or boot option', () => {
    const { dir, cleanup } = tempDir();
    try {
      const mounts = path.join(dir, 'mounts');
      const cmdline = path.join(dir, 'cmdline');
      fs.writeFileSync(cmdline, 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n');
      fs.writeFileSync(mounts, 'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nsdelegate,memory_recursiveprot 0 0\n');
      assert.equal(cgroupJoinWaits(mounts, cmdline), true);
      fs.writeFileSync(mounts, 'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate,favordynmods 0 0\n');
      assert.equal(cgroupJoinWaits(mounts, cmdline), false, 'one favordynmods mount is enough (the lock is global)');
      fs.writeFileSync(mounts, 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
      fs.writeFileSync(cmdline, 'root=/dev/sda1 cgroup_favordynmods=true quiet\n');
      assert.equal(cgroupJoinWaits(mounts, cmdline), false);
      fs.writeFileSync(cmdline, 'root=/dev/sda1 cgroup_favordynmods=false\n');
      assert.equal(cgroupJoinWaits(mounts, cmdline), true);
    } finally {
      cleanup();
    }
  });

  it('reads memory and CPU time from the cgroup files of v2 and v1, null where they are missing', () => {
    const { dir, cleanup } = tempDir();
    try {
      const leaf = (root: string) => {
        const d = path.join(dir, root, 'tenement/h/api.a');
        fs.mkdirSync(d, { recursive: true });
        return d;
      };
      const v2 = leaf('unified');
      fs.writeFileSync(path.join(v2, 'memory.current'), '5242880\n');
      fs.writeFileSync(path.join(v2, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n');
      const cg2 = new InstanceCgroup({ version: 2, mounts: { unified: path.join(dir, 'unified') } }, 'tenement/h/api.a');
      assert.equal(cg2.memoryBytes(), 5 * 1024 * 1024);
      assert.equal(cg2.cpuSeconds(), 2.5);

      // v1 with cpu and cpuacct mounted together: the group's own accounting (nanoseconds).
      const mem = leaf('memory');
      fs.writeFileSync(path.join(mem, 'memory.usage_in_bytes'), '1048576\n');
      fs.writeFileSync(path.join(leaf('cpu,cpuacct'), 'cpuacct.usage'), '1500000000\n');
      const v1 = (cpu: string) => new InstanceCgroup({ version: 1, mounts: { memory: path.join(dir, 'memory'), cpu: path.join(dir, cpu) } }, 'tenement/h/api.a');
      assert.equal(v1('cpu,cpuacct').memoryBytes(), 1024 * 1024);
      assert.equal(v1('cpu,cpuacct').cpuSeconds(), 1.5);

      // cpuacct on a hierarchy of its own: the sum over the processes in the group, from /proc.
      leaf('cpu');
      fs.writeFileSync(path.join(mem, 'cgroup.procs'), `${process.pid}\n`);
      const own = v1('cpu').cpuSeconds();
      assert.ok(own !== null && own > 0, `this process has used CPU time: ${own}`);
      fs.writeFileSync(path.join(mem, 'cgroup.procs'), '');
      assert.equal(v1('cpu').cpuSeconds(), null, 'no process, nothing to read');

      // An instance without a cgroup directory (never started, or not root): unknown, not zero.
      const none = new InstanceCgroup({ version: 2, mounts: { unified: path.join(dir, 'unified') } }, 'tenement/h/api.none');
      assert.equal(none.memoryBytes(), null);
      assert.equal(none.cpuSeconds(), null);
    } finally {
      cleanup();
    }
  });

  it('creates a limited cgroup, a process joins it through the shim, OOM kills are counted, and it is removed', { skip: !(isRoot && detectCgroupHost()) }, () => {
    const host = detectCgroupHost()!;
    const cg = new InstanceCgroup(host, `tenement/unit-${process.pid}/api.a`);
    try {
      cg.apply({ memoryBytes: 64 * 1024 * 1024, cpuWeight: 50, pidsMax: 16 });
      const dirs = cg.dirs();
      if (host.version === 1) {
        const mem = dirs.find((d) => d.startsWith(host.mounts.memory!))!;
        assert.equal(Number(fs.readFileSync(path.join(mem, 'memory.limit_in_bytes'), 'utf8')), 64 * 1024 * 1024);
        const pids = dirs.find((d) => d.startsWith(host.mounts.pids!))!;
        assert.equal(fs.readFileSync(path.join(pids, 'pids.max'), 'utf8').trim(), '16');
      } else {
        assert.equal(fs.readFileSync(path.join(dirs[0]!, 'memory.max'), 'utf8').trim(), String(64 * 1024 * 1024));
      }
      const r = spawnSync(
        joinCgroupArgv(cg.procsFiles())[0]!,
        [...joinCgroupArgv(cg.procsFiles()).slice(1), '/bin/sh', '-c', 'cat /proc/self/cgroup; echo host=$TENEMENT_HOST_PID'],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`tenement/unit-${process.pid}/api.a`));
      // Past its memory limit the process is killed by the OOM killer, and the kill is counted.
      const before = cg.oomKills();
      const hog = spawnSync(
        joinCgroupArgv(cg.procsFiles())[0]!,
        [...joinCgroupArgv(cg.procsFiles()).slice(1), process.execPath, '-e', 'const a=[]; for(;;) a.push(Buffer.alloc(1<<20, 1))'],
        { encoding: 'utf8' },
      );
      assert.equal(hog.signal, 'SIGKILL');
      assert.ok(cg.oomKills() > before, 'oom kill counted');
    } finally {
      cg.killAll();
      assert.ok(cg.remove(), 'removed');
      for (const d of cg.dirs()) fs.rmdirSync(path.dirname(d));
    }
  });
});

describe('preflight', () => {
  it('names the directory that blocks the uid and the fixes', { skip: !isRoot }, () => {
    const { dir, cleanup } = tempDir(); // mode 0700, root
    try {
      const app = path.join(dir, 'app.js');
      fs.writeFileSync(app, 'console.log(1)');
      assert.deepEqual(accessProblem(app, { uid: 600500, gid: 600500 }, 'r')?.blocking, dir);
      assert.throws(
        () =>
          preflight({
            instance: 'api:a',
            id: { uid: 600500, gid: 600500 },
            program: process.execPath,
            args: [app],
            cwd: dir,
            checkCwd: false,
            searchPath: TENANT_PATH,
            configFix: 'set user',
          }),
        (err: Error) =>
          err instanceof PreflightError &&
          err.message.includes(`${dir} is not searchable by uid 600500 (mode 0700, owner uid 0)`) &&
          /move it/.test(err.message) &&
          /set user/.test(err.message),
      );
      fs.chmodSync(dir, 0o711);
      const resolved = preflight({
        instance: 'api:a',
        id: { uid: 600500, gid: 600500 },
        program: 'node',
        args: [app],
        cwd: dir,
        checkCwd: true,
        searchPath: TENANT_PATH,
        configFix: '',
      });
      assert.match(resolved, /^\/usr\/(local\/)?s?bin\/node$|^\/s?bin\/node$/, 'resolved on the tenant PATH');
      assert.throws(
        () =>
          preflight({
            instance: 'api:a',
            id: { uid: 600500, gid: 600500 },
            program: 'no-such-program-x',
            args: [],
            cwd: dir,
            checkCwd: false,
            searchPath: TENANT_PATH,
            configFix: '',
          }),
        /not found on the instance's PATH/,
      );
    } finally {
      cleanup();
    }
  });
});

describe('instance identities', () => {
  it('allocates the lowest usable uid once per instance, keeps it, and never hands it to another', () => {
    const { dir, cleanup } = tempDir();
    const opened = openDatabase(path.join(dir, 'data'));
    try {
      const ids = new IdentityStore(opened.db);
      const range = { start: 700000, end: 700002 };
      const a = ids.ensure('api', 'a', range, (u) => u !== 700000);
      assert.deepEqual(a, { service: 'api', id: 'a', uid: 700001, gid: 700001 });
      assert.deepEqual(
        ids.ensure('api', 'a', range, () => true),
        a,
        'stable',
      );
      assert.equal(ids.ensure('api', 'b', range, () => true).uid, 700000);
      assert.equal(ids.ensure('web', 'a', range, () => true).uid, 700002);
      assert.throws(() => ids.ensure('web', 'b', range, () => true), IdentityExhaustedError);
    } finally {
      opened.db.close();
      cleanup();
    }
  });

  it('treats uids of /etc/passwd and of running processes as taken', () => {
    const usable = hostUidFilter();
    assert.equal(usable(0), false);
    assert.equal(usable(process.getuid!()), false);
  });
});

describe('host report', () => {
  it('says what is and is not given', () => {
    const r = describeHost({ root: false, bwrap: null, setpriv: '/usr/bin/setpriv', nft: null, cgroup: null });
    assert.ok(r.missing.some((m) => /not root/.test(m)));
    assert.ok(r.missing.some((m) => /bubblewrap/.test(m)));
    assert.ok(r.missing.some((m) => /network rules/.test(m)));
    const full = describeHost({
      root: true,
      bwrap: '/usr/bin/bwrap',
      setpriv: '/usr/bin/setpriv',
      nft: '/usr/sbin/nft',
      cgroup: { version: 2, mounts: { unified: '/sys/fs/cgroup' } },
    });
    assert.deepEqual(full.missing, []);
  });
});

describe('ten config isolation check', () => {
  it('names services that would not start under their own uid, and a missing bwrap', { skip: !isRoot }, async () => {
    const { parseConfigText } = await import('../../src/config/load.js');
    const { checkIsolation } = await import('../../src/isolation/config-check.js');
    const { dir, cleanup } = tempDir(); // 0700, root
    try {
      fs.writeFileSync(path.join(dir, 'app.js'), '');
      const file = path.join(dir, 'tenement.toml');
      const text = `[service.hidden]\ncommand = "node ${path.join(dir, 'app.js')}"\n[service.ok]\ncommand = "node -e 1"\n[service.compat]\ncommand = "node ${path.join(dir, 'app.js')}"\nisolation = "process"\nuser = "root"\n`;
      const { config } = parseConfigText(text, file);
      const host = { root: true, bwrap: null, setpriv: '/usr/bin/setpriv', nft: '/usr/sbin/nft', cgroup: null };
      const check = checkIsolation(config, host);
      assert.ok(
        check.problems.some((p) => p.startsWith('service hidden cannot start') && p.includes(`${dir} is not searchable`)),
        check.problems.join('\n'),
      );
      assert.ok(!check.problems.some((p) => p.startsWith('service ok cannot start')));
      assert.ok(!check.problems.some((p) => p.startsWith('service compat cannot start')), 'user = "root" is not checked');
      assert.ok(check.problems.some((p) => p.startsWith('service ok: isolation = "namespace" needs bubblewrap')));
    } finally {
      cleanup();
    }
  });
});
