import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue } from '../../src/config/errors.js';
import { SERVICE_SCHEMA, SETTINGS_SCHEMA, TLS_SCHEMA } from '../../src/config/schema.js';
import type { ServiceConfig, Settings } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { expectIssue, FILE, issuesOf, load, service } from './helpers.js';

describe('defaults', () => {
  it('fills in every setting', () => {
    const { config, warnings } = load(service());
    const expected: Settings = {
      data_dir: '/srv/app/tenement-data',
      health_check_interval: 10,
      max_restarts: 3,
      restart_window: 300,
      backoff_base_ms: 1000,
      backoff_max_ms: 60000,
      port_range_start: 30000,
      port_range_end: 40000,
      stop_timeout: 10,
      log_retention_days: 7,
      log_retention_mb: 256,
      log_file_max_mb: 64,
      log_file_max_age_days: 7,
      disk_min_free_mb: 256,
      trusted_proxies: [],
      metrics_token: undefined,
      tls: { enabled: false, acme_email: undefined, domain: undefined, staging: false, https_port: 443, http_port: 80, dns_provider: undefined },
      uid_range_start: 600000,
      uid_range_end: 699999,
      request_metrics: false,
    };
    assert.deepEqual(config.settings, expected);
    assert.deepEqual(warnings, []);
    assert.equal(config.file, FILE);
  });

  it('fills in every service key', () => {
    const { config } = load(service());
    const expected: ServiceConfig = {
      name: 'api',
      command: 'node server.js',
      args: undefined,
      health: undefined,
      env: {},
      workdir: undefined,
      isolation: 'namespace',
      user: undefined,
      idle_timeout: 0,
      startup_timeout: 10,
      request_timeout: 30,
      restart: 'on-failure',
      storage_persist: true,
      tenant_spawn: false,
      memory_limit_mb: undefined,
      cpu_shares: undefined,
      pids_limit: 512,
      storage_quota_mb: undefined,
    };
    assert.deepEqual(config.services.api, expected);
    assert.deepEqual(config.instances, {});
    assert.deepEqual(config.routing, { default: undefined, subdomain: {}, path: {} });
  });

  it('has a schema entry for every Settings and ServiceConfig field', () => {
    const { config } = load(service());
    assert.deepEqual([...SETTINGS_SCHEMA.map((s) => s.key), 'tls'].sort(), Object.keys(config.settings).sort());
    assert.deepEqual(TLS_SCHEMA.map((s) => s.key).sort(), Object.keys(config.settings.tls).sort());
    const serviceKeys = SERVICE_SCHEMA.map((s) => s.key).filter((k) => k !== 'runtime');
    assert.deepEqual([...serviceKeys, 'name'].sort(), Object.keys(config.services.api as ServiceConfig).sort());
  });

  it('keeps values that are given, and resolves paths against the config folder', () => {
    const { config } = load(`
[settings]
data_dir = "../data"
max_restarts = 0
port_range_start = 2000
port_range_end = 2000
log_retention_days = 0

[service.api]
command = "python app.py"
args = ["--port", "{port}"]
health = "/healthz"
env = { MODE = "prod" }
workdir = "app"
idle_timeout = 600
restart = "never"
storage_persist = false
`);
    assert.equal(config.settings.data_dir, '/srv/data');
    assert.equal(config.settings.max_restarts, 0);
    assert.equal(config.settings.port_range_start, 2000);
    assert.equal(config.settings.port_range_end, 2000);
    assert.equal(config.settings.log_retention_days, 0);
    const api = config.services.api as ServiceConfig;
    assert.deepEqual(api.args, ['--port', '{port}']);
    assert.equal(api.health, '/healthz');
    assert.deepEqual(api.env, { MODE: 'prod' });
    assert.equal(api.workdir, '/srv/app/app');
    assert.equal(api.idle_timeout, 600);
    assert.equal(api.restart, 'never');
    assert.equal(api.storage_persist, false);
  });

  it('keeps absolute paths as they are', () => {
    const { config } = load(`[settings]\ndata_dir = "/var/lib/tenement"\n${service('workdir = "/opt/app"')}`);
    assert.equal(config.settings.data_dir, '/var/lib/tenement');
    assert.equal(config.services.api?.workdir, '/opt/app');
  });

  it('treats args = [] like no args, as the original did', () => {
    assert.equal(load(service('args = []')).config.services.api?.args, undefined);
  });
});

describe('type and range errors', () => {
  const cases: { name: string; toml: string; key: string; line: number; message: RegExp }[] = [
    {
      name: 'string for seconds',
      toml: '[settings]\nhealth_check_interval = "ten"',
      key: 'settings.health_check_interval',
      line: 2,
      message: /^expected a whole number of seconds >= 1, found "ten"$/,
    },
    { name: 'fraction', toml: service('idle_timeout = 1.5'), key: 'service.api.idle_timeout', line: 3, message: /expected a whole number of seconds >= 0, found 1\.5/ },
    { name: 'negative', toml: '[settings]\n\nmax_restarts = -1', key: 'settings.max_restarts', line: 3, message: /expected a whole number >= 0, found -1/ },
    { name: 'zero restart_window', toml: '[settings]\nrestart_window = 0', key: 'settings.restart_window', line: 2, message: />= 1, found 0/ },
    { name: 'privileged port', toml: '[settings]\nport_range_start = 80', key: 'settings.port_range_start', line: 2, message: /from 1024 to 65535, found 80/ },
    { name: 'port above 65535', toml: '[settings]\nport_range_end = 70000', key: 'settings.port_range_end', line: 2, message: /from 1024 to 65535, found 70000/ },
    { name: 'log_retention_mb 0', toml: '[settings]\nlog_retention_mb = 0', key: 'settings.log_retention_mb', line: 2, message: /MB >= 1, found 0/ },
    { name: 'startup_timeout 0', toml: service('startup_timeout = 0'), key: 'service.api.startup_timeout', line: 3, message: />= 1, found 0/ },
    { name: 'request_timeout as table', toml: service('request_timeout = { s = 1 }'), key: 'service.api.request_timeout', line: 3, message: /found a table/ },
    { name: 'bool as string', toml: service('storage_persist = "yes"'), key: 'service.api.storage_persist', line: 3, message: /expected true or false, found "yes"/ },
    { name: 'memory limit 0', toml: service('memory_limit_mb = 0'), key: 'service.api.memory_limit_mb', line: 3, message: />= 1, found 0/ },
    { name: 'command not a string', toml: '[service.api]\ncommand = ["node", "x"]', key: 'service.api.command', line: 2, message: /expected a non-empty string.*found an array/ },
    { name: 'empty command', toml: '[service.api]\ncommand = "  "', key: 'service.api.command', line: 2, message: /non-empty string/ },
    { name: 'args not strings', toml: service('args = ["a", 2]'), key: 'service.api.args[1]', line: 3, message: /expected a string, found 2/ },
    { name: 'health without slash', toml: service('health = "health"'), key: 'service.api.health', line: 3, message: /starting with "\/"/ },
    { name: 'data_dir empty', toml: '[settings]\ndata_dir = ""', key: 'settings.data_dir', line: 2, message: /expected a path/ },
    { name: 'settings not a table', toml: `settings = 5\n${service()}`, key: 'settings', line: 1, message: /expected a table \[settings\], found 5/ },
    { name: 'date value', toml: '[settings]\nstop_timeout = 2024-01-01', key: 'settings.stop_timeout', line: 2, message: /found the date/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expectIssue(issuesOf(c.toml), c.key, c.line, c.message);
    });
  }

  it('requires backoff_max_ms >= backoff_base_ms', () => {
    expectIssue(issuesOf('[settings]\nbackoff_base_ms = 5000\nbackoff_max_ms = 1000'), 'settings.backoff_max_ms', 3, /must be >= backoff_base_ms \(5000\), found 1000/);
  });

  it('blames backoff_base_ms when it exceeds the default maximum', () => {
    expectIssue(issuesOf('[settings]\nbackoff_base_ms = 120000'), 'settings.backoff_base_ms', 2, /above backoff_max_ms \(60000, its default\)/);
  });

  it('requires port_range_start <= port_range_end', () => {
    expectIssue(issuesOf('[settings]\nport_range_start = 5000\nport_range_end = 4000'), 'settings.port_range_end', 3, /must be >= port_range_start \(5000\), found 4000/);
  });

  it('trusted_proxies are IP addresses; metrics_token is long enough (hardening #2, #11)', () => {
    expectIssue(issuesOf('[settings]\ntrusted_proxies = ["127.0.0.1", "caddy.local"]'), 'settings.trusted_proxies[1]', 2, /expected an IP address/);
    expectIssue(issuesOf('[settings]\nmetrics_token = "short"'), 'settings.metrics_token', 2, /at least 16 characters/);
    const { config } = load('[settings]\ntrusted_proxies = ["::1"]\nmetrics_token = "0123456789abcdef0123"\n' + service());
    assert.deepEqual(config.settings.trusted_proxies, ['::1']);
    assert.equal(config.settings.metrics_token, '0123456789abcdef0123');
  });

  it('requires command, at the line of the service table, noticing a misspelling', () => {
    const issues = issuesOf('[settings]\n\n[service.api]\ncomand = "node x.js"');
    expectIssue(issues, 'service.api.command', 3, /missing required key `command`.*`comand` looks like a misspelling/);
  });

  it('refuses [[service]]', () => {
    expectIssue(issuesOf('[[service]]\ncommand = "x"'), 'service', 1, /\[\[service\]\]/);
  });

  it('refuses a service that is not a table', () => {
    expectIssue(issuesOf('[service]\napi = "node x.js"'), 'service.api', 2, /expected a table \[service.api\]/);
  });
});

describe('enums and isolation', () => {
  it('refuses an unknown restart policy, suggesting the nearest', () => {
    expectIssue(issuesOf(service('restart = "allways"')), 'service.api.restart', 3, /expected one of "always", "on-failure", "never", found "allways" \(did you mean "always"\?\)/);
  });

  for (const kind of ['sandbox', 'firecracker', 'qemu', 'gvisor']) {
    it(`refuses isolation "${kind}" as not implemented`, () => {
      const issue = expectIssue(issuesOf(service(`isolation = "${kind}"`)), 'service.api.isolation', 3, /not implemented/);
      assert.match(issue.message, new RegExp(`^"${kind}" isolation`));
      assert.match(issue.message, /only "namespace", "process" are available/);
    });
  }

  it('refuses an unknown isolation string', () => {
    expectIssue(issuesOf(service('isolation = "docker"')), 'service.api.isolation', 3, /expected one of "namespace", "process", found "docker"/);
  });

  it('accepts isolation = "process" and "namespace", ', () => {
    assert.equal(load(service('isolation = "process"')).config.services.api?.isolation, 'process');
    assert.equal(load(service('isolation = "namespace"')).config.services.api?.isolation, 'namespace');
  });

  it('accepts runtime as an alias of isolation', () => {
    const { config, warnings } = load(service('runtime = "process"'));
    assert.equal(config.services.api?.isolation, 'process');
    assert.deepEqual(warnings, []);
    assert.ok(!('runtime' in (config.services.api as object)));
    load(service('runtime = "process"\nisolation = "process"'));
  });

  it('refuses an unimplemented runtime under its own key', () => {
    expectIssue(issuesOf(service('runtime = "firecracker"')), 'service.api.runtime', 3, /"firecracker" isolation is not implemented/);
  });

  it('refuses runtime and isolation that disagree', () => {
    const issues = issuesOf(service('isolation = "process"\nruntime = "namespace"'));
    const conflict = issues.find((i) => i.key === 'service.api.runtime' && /conflicts with isolation = "process"/.test(i.message));
    assert.ok(conflict, JSON.stringify(issues));
    assert.equal(conflict.line, 4);
  });
});

describe('names and ids', () => {
  const long = 'a'.repeat(64);
  const badNames: [string, string, RegExp][] = [
    ['"../x"', 'service."../x"', /must be a DNS label/],
    ['"a.b"', 'service."a.b"', /must be a DNS label/],
    ['Upper', 'service.Upper', /must be lower case/],
    [long, `service.${long}`, /64 characters long; at most 63/],
    ['-api', 'service.-api', /must be a DNS label/],
  ];
  for (const [header, key, message] of badNames) {
    it(`refuses service name ${header}`, () => {
      expectIssue(issuesOf(`# first\n[service.${header}]\ncommand = "x"`), key, 2, message);
    });
  }

  it('accepts a 63-character service name', () => {
    const name = 'a'.repeat(63);
    assert.ok(load(service('', name)).config.services[name]);
  });

  it('refuses bad instance ids, each on its own line', () => {
    const issues = issuesOf(`${service()}[instances]\napi = [\n  "../x",\n  "a.b",\n  "Upper",\n  "${long}",\n  "ok",\n]`);
    expectIssue(issues, 'instances.api[0]', 5, /instance id "\.\.\/x" must be a DNS label/);
    expectIssue(issues, 'instances.api[1]', 6, /instance id "a\.b" must be a DNS label/);
    expectIssue(issues, 'instances.api[2]', 7, /must be lower case/);
    expectIssue(issues, 'instances.api[3]', 8, /at most 63/);
    assert.equal(issues.length, 4);
  });

  it('refuses duplicate instance ids', () => {
    expectIssue(issuesOf(`${service()}[instances]\napi = ["a", "b", "a"]`), 'instances.api[2]', 4, /duplicate instance id "a" \(already listed as instances.api\[0\]\)/);
  });

  it('refuses instances that are not an array of strings', () => {
    expectIssue(issuesOf(`${service()}[instances]\napi = "prod"`), 'instances.api', 4, /expected an array of instance ids/);
    expectIssue(issuesOf(`${service()}[instances]\napi = [1]`), 'instances.api[0]', 4, /expected an instance id \(a string\), found 1/);
  });

  it('keeps valid instances', () => {
    assert.deepEqual(load(`${service()}[instances]\napi = ["prod", "staging"]`).config.instances, { api: ['prod', 'staging'] });
  });
});

describe('cross references', () => {
  it('refuses [instances] naming an undefined service, suggesting the nearest', () => {
    expectIssue(issuesOf(`${service()}\n[instances]\napu = ["prod"]`), 'instances.apu', 5, /names service "apu", which is not defined .*\(did you mean "api"\?\)/);
  });

  it('refuses routing.default naming an undefined service', () => {
    expectIssue(issuesOf(`${service()}[routing]\ndefault = "web"`), 'routing.default', 4, /names service "web", which is not defined/);
  });

  it('refuses [routing.subdomain] targets and labels that do not work', () => {
    const issues = issuesOf(`${service()}${service('', 'admin-svc')}[routing.subdomain]\nadmin = "nope"\napi = "admin-svc"\n"Bad" = "api"`);
    expectIssue(issues, 'routing.subdomain.admin', 6, /names service "nope", which is not defined/);
    expectIssue(issues, 'routing.subdomain.api', 7, /is also a service name/);
    expectIssue(issues, 'routing.subdomain.Bad', 8, /must be lower case/);
  });

  it('refuses [routing.path] prefixes without "/" and undefined targets', () => {
    const issues = issuesOf(`${service()}[routing.path]\n"api" = "api"\n"/web" = "web"`);
    expectIssue(issues, 'routing.path.api', 4, /must start with "\/"/);
    expectIssue(issues, 'routing.path."/web"', 5, /names service "web"/);
  });

  it('accepts valid routing', () => {
    const { config } = load(`${service()}${service('', 'admin')}[routing]\ndefault = "api"\n[routing.subdomain]\nops = "admin"\n[routing.path]\n"/admin" = "admin"`);
    assert.deepEqual(config.routing, { default: 'api', subdomain: { ops: 'admin' }, path: { '/admin': 'admin' } });
  });

  it('does not resolve names through Object.prototype', () => {
    expectIssue(issuesOf(`${service()}[routing]\ndefault = "constructor"`), 'routing.default', 4, /not defined/);
  });
});

describe('templates, env and command', () => {
  it('refuses unknown placeholders in command, args and env, listing the valid ones', () => {
    const issues = issuesOf(`[service.api]\ncommand = "node {script}"\nargs = ["--port", "{prot}"]\nenv = { DB = "{data-dir}/x" }`);
    const cmd = expectIssue(issues, 'service.api.command', 2, /unknown placeholder \{script\}/);
    assert.match(cmd.message, /valid placeholders are \{name\}, \{id\}, \{port\}, \{data_dir\}, \{instance_dir\}/);
    expectIssue(issues, 'service.api.args[1]', 3, /unknown placeholder \{prot\} \(did you mean \{port\}\?\)/);
    expectIssue(issues, 'service.api.env.DB', 4, /unknown placeholder \{data-dir\} \(did you mean \{data_dir\}\?\)/);
  });

  it('explains that {socket} is gone', () => {
    expectIssue(issuesOf('[service.api]\ncommand = "app --socket {socket}"'), 'service.api.command', 2, /\{socket\} is not available.*use \{port\}/);
  });

  it('accepts known placeholders, escapes and shell variables', () => {
    const { config } = load('[service.api]\ncommand = "sh -c \'echo {{x}} ${HOME} {port}\'"\nenv = { DIR = "{instance_dir}", J = "{{\\"a\\": 1}}" }');
    assert.equal(config.services.api?.env.DIR, '{instance_dir}');
  });

  it('refuses numbers and booleans in env, saying how to quote them', () => {
    const issues = issuesOf(`${service()}[service.api.env]\nPORT_X = 8080\nDEBUG = true\nLIST = ["a"]`);
    expectIssue(issues, 'service.api.env.PORT_X', 4, /expected a string, found the number 8080; .*PORT_X = "8080"/);
    expectIssue(issues, 'service.api.env.DEBUG', 5, /found the boolean true; .*DEBUG = "true"/);
    expectIssue(issues, 'service.api.env.LIST', 6, /expected a string, found an array/);
  });

  it('refuses env that is not a table', () => {
    expectIssue(issuesOf(service('env = "A=1"')), 'service.api.env', 3, /expected a table of string values/);
  });

  it('refuses shell operators in a command that is split without a shell', () => {
    expectIssue(issuesOf('[service.api]\ncommand = "npm run build && npm start"'), 'service.api.command', 2, /shell operator "&&".*args = \["-c"/);
  });

  it('accepts shell operators inside quotes, and in a verbatim command with args', () => {
    load('[service.api]\ncommand = "sh -c \'a && b | c\'"');
    load('[service.api]\ncommand = "/opt/a|b"\nargs = ["x"]');
  });

  it('refuses an unterminated quote', () => {
    expectIssue(issuesOf('[service.api]\ncommand = "node \'my app.js"'), 'service.api.command', 2, /unterminated ' quote/);
  });
});

describe('warnings', () => {
  it('warns about unknown keys, with a suggestion when one is close', () => {
    const { warnings } = load(`[settings]\nmax_restart = 5\n${service('idle_timout = 30\nhealthcheck = "/x"\n')}[routing]\ndefualt = "api"`);
    expectIssue(warnings, 'settings.max_restart', 2, /unknown key in \[settings\] is ignored \(did you mean `max_restarts`\?\)/);
    expectIssue(warnings, 'service.api.idle_timout', 5, /did you mean `idle_timeout`\?/);
    const far = expectIssue(warnings, 'service.api.healthcheck', 6, /unknown key in \[service.api\] is ignored/);
    assert.doesNotMatch(far.message, /did you mean/);
    expectIssue(warnings, 'routing.defualt', 8, /did you mean `default`\?/);
  });

  it('warns about unknown top-level tables', () => {
    const { warnings } = load(`${service()}\n[services.web]\ncommand = "x"`);
    expectIssue(warnings, 'services', 4, /unknown table at the top level is ignored \(did you mean \[service\]\?\)/);
  });

  it('points out known keys in the wrong table', () => {
    const { warnings } = load(`data_dir = "/x"\n[settings]\nidle_timeout = 5\n${service()}`);
    expectIssue(warnings, 'data_dir', 1, /belongs in \[settings\]/);
    expectIssue(warnings, 'settings.idle_timeout', 3, /per-service key/);
  });

  it('accepts resource limits without warnings (they are enforced)', () => {
    const { config, warnings } = load(service('memory_limit_mb = 512\ncpu_shares = 100\nstorage_quota_mb = 1024\npids_limit = 64'));
    assert.deepEqual(warnings, []);
    assert.equal(config.services.api?.pids_limit, 64);
    assert.equal(config.services.api?.memory_limit_mb, 512);
    assert.equal(config.services.api?.cpu_shares, 100);
    assert.equal(config.services.api?.storage_quota_mb, 1024);
  });

  it('warns when there is no service at all', () => {
    const { warnings } = load('[settings]\nstop_timeout = 3');
    expectIssue(warnings, 'service', undefined, /nothing to run/);
  });
});

describe('reporting', () => {
  it('reports every problem at once, sorted by line', () => {
    const issues = issuesOf(`[settings]\nstop_timeout = -1\n[service.Api]\ncommand = 1\n[instances]\nweb = ["x"]\n[routing]\ndefault = "nope"`);
    assert.deepEqual(
      issues.map((i) => i.key),
      ['settings.stop_timeout', 'service.Api', 'service.Api.command', 'instances.web', 'routing.default'],
    );
    assert.deepEqual(
      issues.map((i) => i.line),
      [2, 3, 4, 6, 8],
    );
  });

  it('formats issues as file:line: key: message', () => {
    try {
      load('[settings]\nstop_timeout = "x"');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${FILE}:2: settings.stop_timeout: expected a whole number of seconds >= 0, found "x"`);
      assert.equal(formatIssue(err.issues[0]!), err.message);
    }
  });

  it('validates an already-parsed object', () => {
    const { config } = validateConfig({ service: { web: { command: 'x' } } }, '', '/a/b.toml');
    assert.equal(config.settings.data_dir, '/a/tenement-data');
    assert.equal(config.services.web?.command, 'x');
  });
});

describe('[settings.tls]', () => {
  it('reads the original keys with their defaults; bad values and unknown keys are reported', () => {
    const { config } = load(`
[settings.tls]
enabled = true
acme_email = "ops@example.com"
staging = true
https_port = 8443
`);
    assert.deepEqual(config.settings.tls, {
      enabled: true,
      acme_email: 'ops@example.com',
      domain: undefined,
      staging: true,
      https_port: 8443,
      http_port: 80,
      dns_provider: undefined,
    });
    const issues = issuesOf(`
[settings.tls]
enabled = "yes"
https_port = 0
`);
    assert.ok(
      issues.some((i) => i.key === 'settings.tls.enabled' && /true or false/.test(i.message)),
      JSON.stringify(issues),
    );
    assert.ok(
      issues.some((i) => i.key === 'settings.tls.https_port'),
      JSON.stringify(issues),
    );
    const { warnings } = load(`
[settings.tls]
acme_mail = "x@example.com"
`);
    assert.ok(
      warnings.some((w) => w.key === 'settings.tls.acme_mail' && /acme_email/.test(w.message)),
      JSON.stringify(warnings),
    );
  });
});
