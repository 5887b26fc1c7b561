// Which labels a request seen in Caddy's access log may get. The Host header is chosen by whoever
// sends the request, so taking it as a label let anonymous clients create series without bound
// (issue 11 #1: 3,000 random hosts grew /metrics from 93 KB to 9.4 MB). Only services in the config
// and instances in the store become labels; everything else is counted in one `_unknown` series
// (a name no service can have: service names are DNS labels).
import type { RequestObservation } from './metrics.js';

export const UNKNOWN_SERVICE = '_unknown';

export interface KnownNames {
  service(name: string): boolean;
  instance(service: string, id: string): boolean;
}

export function boundedRequestLabels(o: RequestObservation, known: KnownNames): RequestObservation {
  const ok = known.service(o.service) && (o.instance === '' || known.instance(o.service, o.instance));
  return ok ? o : { ...o, service: UNKNOWN_SERVICE, instance: '' };
}
