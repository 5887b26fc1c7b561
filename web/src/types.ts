// The API's wire shapes, taken from the server's own definitions (types only: nothing of the
// server is bundled), so the page and the API cannot drift apart unnoticed.
export type {
  AuditJson,
  ControllerHealth,
  CreatedTokenJson,
  DeployResponse,
  InstanceJson,
  LogJson,
  MissedJson,
  RollResponse,
  RouteResponse,
  ServiceJson,
  SpawnResponse,
  TokenJson,
  WeightResponse,
  WhoAmIJson,
} from '../../src/api/contract.js';
export type { HistoryJson, HistoryValues } from '../../src/metrics/history.js';

/**
 * Resource figures an instance may carry when the controller measures them (this version does not
 * yet: the columns appear only when some instance has them).
 */
export interface ResourceFields {
  memory_bytes?: number | null;
  memory_limit_bytes?: number | null;
  cpu_percent?: number | null;
  cpu_shares?: number | null;
  storage_bytes?: number | null;
  storage_quota_bytes?: number | null;
}
