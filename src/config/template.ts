// `{placeholder}` substitution in command, args and env values.
//
// Syntax: `{name}` etc. are replaced; `{{` and `}}` stand for literal braces. A brace that does not
// form `{identifier}` is left alone, so shell and JSON text (`find -exec rm {} ;`, `{ echo; }`,
// `{"a": 1}`, bash `{1..5}`) needs no escaping. `${NAME}` with a name that is not a placeholder
// is shell variable syntax and also left alone: the original tenement passed it through, and
// `sh -c` commands rely on it.

export const PLACEHOLDERS = ['name', 'id', 'port', 'data_dir', 'instance_dir'] as const;

export type Placeholder = (typeof PLACEHOLDERS)[number];

export const PLACEHOLDER_DOCS: Readonly<Record<Placeholder, string>> = {
  name: 'the service name',
  id: 'the instance id',
  port: 'the port the instance must listen on',
  data_dir: 'the global data folder ([settings] data_dir, absolute)',
  instance_dir: "the instance's own data folder: {data_dir}/{service}/{id}",
};

/** Values for every placeholder; numbers (a port) are written in decimal. */
export type TemplateVars = Readonly<Record<Placeholder, string | number>>;

// `{{`, `}}`, or an optionally `$`-prefixed `{identifier}`.
const TOKEN = /\{\{|\}\}|(\$?)\{([A-Za-z_][A-Za-z0-9_-]*)\}/g;

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/** Names (without braces) of `{...}` placeholders that are not known, each once, in order. */
export function findUnknownPlaceholders(text: string): string[] {
  const unknown: string[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const [, dollar, name] = m;
    if (name === undefined || isPlaceholder(name) || dollar) continue;
    if (!unknown.includes(name)) unknown.push(name);
  }
  return unknown;
}

/** Replaces placeholders and unescapes `{{`/`}}`. Unknown placeholders stay as written (validation refuses them earlier). */
export function expandTemplate(text: string, vars: TemplateVars): string {
  return text.replace(TOKEN, (whole: string, dollar: string | undefined, name: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    if (name !== undefined && isPlaceholder(name)) return `${dollar ?? ''}${String(vars[name])}`;
    return whole;
  });
}
