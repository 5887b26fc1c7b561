// Every call to the controller goes through here, always with the session's token. A 401 ends the
// session (revoked or unknown token); other errors carry the API's own message.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiClient {
  readonly token: string;
  get<T>(path: string): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** A streaming GET (Server-Sent Events): fetch rather than EventSource, which cannot send headers. */
  stream(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response>;
}

export function apiClient(token: string, onUnauthorized: (message: string) => void): ApiClient {
  const headers = (extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, Accept: 'application/json', ...extra });
  const check = async (res: Response): Promise<Response> => {
    if (res.ok) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: string };
      if (body.error) message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    if (res.status === 401) onUnauthorized(message);
    throw new ApiError(res.status, message);
  };
  const parse = async <T>(res: Response): Promise<T> => (res.status === 204 ? (undefined as T) : ((await res.json()) as T));
  return {
    token,
    async get<T>(path: string) {
      return parse<T>(await check(await fetch(path, { headers: headers(), cache: 'no-store' })));
    },
    async send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) {
      const init: RequestInit = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
      if (body !== undefined) init.body = JSON.stringify(body);
      return parse<T>(await check(await fetch(path, init)));
    },
    async stream(path: string, extra: Record<string, string>, signal: AbortSignal) {
      return check(await fetch(path, { headers: headers({ Accept: 'text/event-stream', ...extra }), signal, cache: 'no-store' }));
    },
  };
}

/** Query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
