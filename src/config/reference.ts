// The config reference in docs/config.md is rendered from the schema, so the docs cannot drift
// from what the validator accepts (a test compares the two).
import { ROUTING_SCHEMA, SERVICE_SCHEMA, SETTINGS_SCHEMA, TLS_SCHEMA, TOP_LEVEL_TABLES, describeExpected, type KeySpec } from './schema.js';
import { PLACEHOLDER_DOCS } from './template.js';

function table(specs: readonly KeySpec[]): string {
  const rows = specs.map((s) => {
    const def = s.required ? '**required**' : s.default === undefined ? '(none)' : `\`${JSON.stringify(s.default)}\``;
    const notes = [s.doc];
    if (s.aliasOf) notes.push(`Alias of \`${s.aliasOf}\`.`);
    if (s.unimplemented?.length) notes.push(`Refused with an error: ${s.unimplemented.map((v) => `"${v}"`).join(', ')} (not implemented in this version).`);
    if (s.templated) notes.push('Placeholders expand.');
    if (s.notEnforced) notes.push(`Warning at every start: ${s.notEnforced}.`);
    return `| \`${s.key}\` | ${describeExpected(s)} | ${def} | ${notes.join(' ')} |`;
  });
  return ['| key | value | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function renderConfigReference(): string {
  const placeholders = Object.entries(PLACEHOLDER_DOCS)
    .map(([k, v]) => `- \`{${k}}\`: ${v}`)
    .join('\n');
  return `# tenement.toml reference

<!-- Generated from src/config/schema.ts by \`npm run docs\`; a test fails when this file is stale. -->

tenement reads one TOML file. It is found in this order: \`--config FILE\`, the \`TENEMENT_CONFIG\`
environment variable, else \`tenement.toml\` in the current directory or the nearest parent.
\`ten config\` validates it and prints it with every default filled in; \`ten init\` writes a starter.

Invalid files are refused as a whole with every problem listed as \`file:line: key: message\`, and
nothing is started or changed. Unknown keys are warnings that suggest the nearest known key.

Tables: ${TOP_LEVEL_TABLES.map((t) => `\`[${t.key}]\` (${t.doc})`).join('; ')}

## [settings]

${table(SETTINGS_SCHEMA)}

### [settings.tls]

HTTPS in the Caddy that tenement runs (the original's keys). Certificates are obtained on demand,
one per host at its first request, for the hosts \`/caddy/ask\` approves (the domain, services and
existing instances); HTTP answers with a redirect to HTTPS. Caddy's root certificate is never
installed into the system trust store. Not used with \`--caddy-admin\` (your Caddy does TLS).

${table(TLS_SCHEMA)}

## [service.NAME]

NAME is a DNS label (lower-case letters, digits and \`-\`, at most 63 characters): it becomes a
hostname (\`{id}.{NAME}.{domain}\`) and a directory name.

${table(SERVICE_SCHEMA)}

Environment of every instance: the controller's environment, then \`[service.NAME.env]\`, then
\`PORT\` (the instance's port), \`DATA_DIR\` (its own data directory, unless \`env\` sets it),
\`TENEMENT_SERVICE\` and \`TENEMENT_INSTANCE\`.

### Placeholders

In \`command\`, \`args\` and \`env\` values (write \`{{\` and \`}}\` for literal braces):

${placeholders}

## [instances]

\`SERVICE = ["id", ...]\`: instances spawned when the server starts. Each id is a DNS label and the
service must be defined.

## [routing]

${table(ROUTING_SCHEMA)}

Without \`default\`, the root domain serves the management API. With it, the root domain serves that
service and the API is reachable on the controller's own port only. \`[routing.path]\` prefixes are
matched on the root domain before anything else and the path is passed on unchanged.
`;
}
