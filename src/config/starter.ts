// `ten init`: a small, commented tenement.toml that works as written and shows the next steps.
import { stringify } from 'smol-toml';
import { dnsLabelProblem } from '../util/instance-key.js';
import { parseConfigText } from './load.js';

export interface StarterOptions {
  /** Service name (a DNS label). */
  name: string;
  /** Command that starts one instance of the app. */
  command: string;
}

function tomlString(text: string): string {
  return stringify({ v: text }).trim().replace(/^v = /, '');
}

/**
 * Throws an Error when `name` cannot be a service name, or a ConfigError when the command would
 * make the file invalid (e.g. an unknown placeholder), so `ten init` never writes a broken file.
 */
export function starterConfig({ name, command }: StarterOptions): string {
  const problem = dnsLabelProblem(name);
  if (problem) throw new Error(`service name ${JSON.stringify(name)} ${problem}`);
  const text = render(name, command);
  parseConfigText(text, 'tenement.toml');
  return text;
}

function render(name: string, command: string): string {
  return `# tenement.toml: one process per customer, behind Caddy.
# \`ten config\` checks this file and prints every key with its effective value.

[settings]
# Instance data, logs and state; relative paths are relative to this file.
data_dir = "./tenement-data"

[service.${name}]
# Started once per instance. Placeholders: {name} (service), {id} (instance),
# {port}, {data_dir}, {instance_dir} (= {data_dir}/${name}/{id}).
# The app must serve HTTP on {port} (also in the PORT environment variable).
command = ${tomlString(command)}
# GET this path must answer 2xx when the instance is ready and healthy.
health = "/health"
# Put an instance to sleep after this many seconds without requests (0 = never);
# the next request wakes it.
idle_timeout = 300
# restart = "on-failure"   # or "always", "never"

# [service.${name}.env]
# DATABASE_PATH = "{instance_dir}/app.db"

# Instances started with the server; each is served at ID.${name}.YOUR-DOMAIN.
# [instances]
# ${name} = ["alice", "bob"]
`;
}
