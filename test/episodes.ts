import type { Env, StepResult } from '../control/env.js';

/**
 * Test support: runs one episode per seed with `policy` and returns how many succeeded, calling
 * `onStep` with every step's result (for per-step assertions).
 */
export async function countSuccesses(env: Env, policy: (obs: Float32Array) => Float32Array, seeds: readonly number[], onStep?: (r: StepResult) => void): Promise<number> {
  let successes = 0;
  for (const seed of seeds) {
    let { obs } = await env.reset({ seed });
    for (;;) {
      const r = await env.step(policy(obs));
      onStep?.(r);
      obs = r.obs;
      if (r.terminated || r.truncated) {
        if (r.info.success) successes++;
        break;
      }
    }
  }
  return successes;
}
