// The JSON of /api/services: a service's roll plan and a roll's outcome, as the API and `ten roll`
// show them.
import type { RollOutcome, RollResponse, ServiceInstanceJson, ServiceJson, ServiceRollPlan } from './contract.js';

export function serviceJson(plan: ServiceRollPlan): ServiceJson {
  const instances = plan.instances.map(({ record: r, current, roll, reason }): ServiceInstanceJson => ({
    instance: `${r.service}:${r.id}`,
    state: r.observed,
    desired: r.desired,
    health: r.health,
    weight: r.weight,
    config_hash: r.configHash ?? null,
    current,
    roll,
    reason,
  }));
  return { service: plan.service, config_hash: plan.hash, instances, stale: instances.filter((i) => !i.current).length };
}

export function rollJson(outcome: RollOutcome): RollResponse {
  return {
    service: outcome.service,
    config_hash: outcome.hash,
    restarted: outcome.restarted,
    up_to_date: outcome.upToDate,
    skipped: outcome.skipped,
  };
}
