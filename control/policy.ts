import type { Rng } from './rng.js';
import { sample, type Space } from './spaces.js';

/** Maps an observation to an action. Learned policies, scripted experts and teleop all fit it. */
export type Policy = (obs: Float32Array) => Float32Array;

/** Uniform random actions from `space` with an explicit RNG. */
export function randomPolicy(space: Space, rng: Rng): Policy {
  return () => sample(space, rng);
}
