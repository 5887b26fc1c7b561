// `service:id` is how users, the API and logs name an instance.

export interface InstanceKey {
  service: string;
  id: string;
}

/** A DNS label: lower-case letters, digits and '-', 1-63 chars, no leading/trailing '-'. */
export const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

export function dnsLabelProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 63) return `is ${value.length} characters long; at most 63 are allowed (it becomes a hostname label)`;
  if (/[A-Z]/.test(value)) return 'must be lower case (it becomes a hostname and a directory name)';
  if (!DNS_LABEL.test(value)) {
    return 'must be a DNS label: letters a-z, digits and "-", not starting or ending with "-" (it becomes a hostname and a directory name)';
  }
  return undefined;
}

export function formatKey(key: InstanceKey): string {
  return `${key.service}:${key.id}`;
}

/** Parses `service:id`; throws an Error saying what is wrong. */
export function parseKey(text: string): InstanceKey {
  const parts = text.split(':');
  if (parts.length !== 2) throw new Error(`"${text}" is not an instance name: expected service:id, e.g. notes:alice`);
  const [service, id] = parts as [string, string];
  const sp = dnsLabelProblem(service);
  if (sp) throw new Error(`service "${service}" in "${text}" ${sp}`);
  const ip = dnsLabelProblem(id);
  if (ip) throw new Error(`instance id "${id}" in "${text}" ${ip}`);
  return { service, id };
}
