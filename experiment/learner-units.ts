import type { Env } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { envEntry } from '../tasks/registry.js';
import { UsageError } from './errors.js';

/** The task's scripted expert, acting in a learner env's action units ([−1, 1] for boxes). */
export function scriptedInLearnerUnits(envId: string, env: Env): Policy {
  const space = env.spec.actionSpace;
  const expert = envEntry(envId).scripted;
  if (!expert) throw new UsageError(`${envId} has no scripted policy (a simulated person and stream-td's fixed policy need one)`);
  const raw = expert(unwrap(env));
  if (space.kind !== 'box') return raw;
  const toLearner = learnerUnits(env);
  return (obs) => toLearner(raw(obs));
}

/**
 * The learner env rescales [−1, 1] to the task's action box: this expresses a task-unit action
 * (clipped to the box) in the learner's units.
 */
export function learnerUnits(env: Env): (action: Float32Array) => Float32Array {
  const inner = unwrap(env).spec.actionSpace;
  if (inner.kind !== 'box') throw new Error('expected a Box action space');
  return (a) => Float32Array.from(a, (v, i) => (2 * (Math.min(inner.high[i] as number, Math.max(inner.low[i] as number, v)) - (inner.low[i] as number))) / ((inner.high[i] as number) - (inner.low[i] as number)) - 1);
}
