// What a starting controller does with each instance row an earlier controller left, as a pure
// decision on the row and two facts: is its service still configured, and is its recorded process
// (pid and start time) still alive. The supervisor carries the decision out (supervisor.ts).
import type { InstanceRecord } from '../store/types.js';

export type AdoptionDecision =
  /** Its service is no longer in the config: left as it is, with a warning. */
  | { action: 'leave-orphan' }
  /** Running and wanted: watched and health-checked, not restarted. */
  | { action: 'adopt' }
  /** Alive but meant to be asleep or stopped: the last controller died mid-stop. */
  | { action: 'finish-stop'; observed: 'asleep' | 'stopped' }
  /** Stopped on purpose by `ten down`: started again. */
  | { action: 'start' }
  /** Wanted running but its process is gone: an exit with unknown status (restart per policy). */
  | { action: 'treat-as-exit'; reason: string }
  /** Asleep, but the row says otherwise: the row is corrected. */
  | { action: 'mark-asleep' }
  | { action: 'nothing' };

export function decideAdoption(row: Pick<InstanceRecord, 'desired' | 'observed' | 'pid'>, facts: { serviceConfigured: boolean; alive: boolean }): AdoptionDecision {
  if (!facts.serviceConfigured) return { action: 'leave-orphan' };
  if (row.desired === 'running' && facts.alive) return { action: 'adopt' };
  if (facts.alive && row.pid !== null) return { action: 'finish-stop', observed: row.desired === 'asleep' ? 'asleep' : 'stopped' };
  if (row.desired === 'running' && row.observed === 'stopped') return { action: 'start' };
  if (row.desired === 'running' && row.observed !== 'failed') {
    return { action: 'treat-as-exit', reason: row.pid === null ? 'was not running' : `process ${row.pid} is gone (or its pid was reused)` };
  }
  if (row.desired === 'asleep' && row.observed !== 'asleep') return { action: 'mark-asleep' };
  return { action: 'nothing' };
}
