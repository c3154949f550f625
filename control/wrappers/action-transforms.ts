import type { Observation } from '../spaces.js';
import { clipToBox, type Env, validateAction } from '../env.js';
import { box, isBounded, type Box } from '../spaces.js';
import { BaseWrapper } from './wrapper.js';
import type { StepResult } from '../env.js';

function requireBox(env: Env<Observation>, wrapper: string): Box {
  const space = env.spec.actionSpace;
  if (space.kind !== 'box') throw new TypeError(`${wrapper} needs a Box action space; ${env.spec.id} has ${space.kind}`);
  return space;
}

/** Clips finite actions into the action box before they reach the env. Non-finite actions still throw. */
export class ClipAction<O extends Observation = Float32Array> extends BaseWrapper<O> {
  private readonly space: Box;

  constructor(env: Env<O>) {
    super(env);
    this.space = requireBox(env, 'ClipAction');
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    validateAction(this.spec, action);
    return this.env.step(clipToBox(Float32Array.from(action), this.space));
  }
}

/**
 * Affinely maps actions from [low, high] (default [−1, 1], what squashed policies emit) onto
 * the env's action box. The inner box must be bounded.
 */
export class RescaleAction<O extends Observation = Float32Array> extends BaseWrapper<O> {
  private readonly inner: Box;
  private readonly outer: Box;

  constructor(env: Env<O>, low = -1, high = 1) {
    const inner = requireBox(env, 'RescaleAction');
    if (!isBounded(inner)) throw new RangeError(`RescaleAction needs a bounded action box; ${env.spec.id}'s is unbounded`);
    if (!(low < high)) throw new RangeError(`Expected low < high, got low=${low}, high=${high}`);
    const outer = box(low, high, inner.shape);
    super(env, { ...env.spec, actionSpace: outer });
    this.inner = inner;
    this.outer = outer;
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    validateAction(this.spec, action);
    const r = await this.env.step(this.map(action, this.outer, this.inner));
    const safety = r.info.safety;
    if (!safety) return r;
    // A safety layer inside reports actions in the inner units: give them back in ours, so a
    // learner storing the executed action stores it in the space it acts in.
    return { ...r, info: { ...r.info, safety: { ...safety, proposed: Float32Array.from(action), executed: this.map(safety.executed, this.inner, this.outer) } } };
  }

  private map(action: Float32Array, from: Box, to: Box): Float32Array {
    const out = new Float32Array(action.length);
    for (let i = 0; i < action.length; i++) {
      const lo = from.low[i] as number;
      const t = ((action[i] as number) - lo) / ((from.high[i] as number) - lo);
      const tlo = to.low[i] as number;
      out[i] = tlo + t * ((to.high[i] as number) - tlo);
    }
    return out;
  }
}
