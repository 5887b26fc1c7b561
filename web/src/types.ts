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
