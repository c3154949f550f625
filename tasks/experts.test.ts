import { describe, expect, it } from 'vitest';
import { randomPolicy, type Policy } from '../control/policy.js';
import { Rng } from '../control/rng.js';
import type { Env } from '../control/env.js';
import { envEntry, make } from './registry.js';
import { validateConfig } from '../experiment/config.js';
import { makeLearnerEnv, scriptedInLearnerUnits } from '../experiment/setup.js';

async function rollouts(env: Env, policy: Policy, episodes: number): Promise<{ successRate: number; meanReturn: number; costs: number[] }> {
  let successes = 0;
  let total = 0;
  const costs = env.spec.constraints.map(() => 0);
  for (let ep = 0; ep < episodes; ep++) {
    let { obs } = await env.reset({ seed: 100 + ep });
    for (;;) {
      const r = await env.step(policy(obs));
      total += r.reward;
      r.costs.forEach((c, i) => (costs[i] = (costs[i] as number) + c));
      obs = r.obs;
      if (r.terminated || r.truncated) {
        if (r.info.success) successes++;
        break;
      }
    }
  }
  return { successRate: successes / episodes, meanReturn: total / episodes, costs };
}

/** Scripted experts are what demos are recorded with: each must solve its task most of the time. */
describe.each([
  ['Pendulum-v1', 5, 0.8],
  ['RapierPendulum-v0', 5, 0.8],
  ['CartPoleContinuous-v0', 3, 1],
  ['CartPoleDiscrete-v0', 3, 1],
  ['Reacher2D-v0', 5, 0.8],
  ['PandaReach-v0', 10, 0.7],
  ['PandaPush-v0', 10, 0.5],
  ['PandaPush-v1', 10, 0.5],
  ['PandaPickCube-v0', 10, 0.8],
] as const)('scripted expert for %s', (id, episodes, minSuccess) => {
  it(`succeeds in at least ${minSuccess * 100}% of ${episodes} seeded episodes and beats random actions`, async () => {
    const env = await make(id);
    const expert = await rollouts(env, envEntry(id).scripted!(), episodes);
    const random = await rollouts(env, randomPolicy(env.spec.actionSpace, new Rng(1)), episodes);
    expect(expert.successRate).toBeGreaterThanOrEqual(minSuccess);
    expect(expert.meanReturn).toBeGreaterThan(random.meanReturn);
    await env.close();
  });
});

describe('scripted experts through the env stack training uses (Tier 0 limits on, actions in [−1, 1])', () => {
  // Demos are recorded there: a workspace box that forbids the task (the push task under the
  // reach tasks' 8 cm box) would leave record-demos with nothing to keep.
  it.each([
    ['PandaReach-v0', 10, 0.7],
    ['PandaPush-v0', 10, 0.5],
    ['PandaPush-v1', 10, 0.5],
  ] as const)('%s: the expert still succeeds', async (id, episodes, minSuccess) => {
    const env = await makeLearnerEnv(validateConfig({ name: 'x', env: { id }, algo: { kind: 'sac' }, train: { steps: 1 } }, 'test'));
    const expert = await rollouts(env, scriptedInLearnerUnits(id, env), episodes);
    expect(expert.successRate).toBeGreaterThanOrEqual(minSuccess);
    await env.close();
  });
});

describe('scripted expert for PandaKeepOut-v0', () => {
  // Its demos are the safe path a constrained learner should find: every goal, never inside.
  it('reaches the goal in all of 30 seeded episodes without entering the keep-out sphere', async () => {
    const env = await make('PandaKeepOut-v0');
    const expert = await rollouts(env, envEntry('PandaKeepOut-v0').scripted!(), 30);
    expect(expert.successRate).toBe(1);
    expect(expert.costs[env.spec.constraints.indexOf('keep_out')]).toBe(0);
    await env.close();
  });
});

describe('successHold (the success must hold before the episode ends)', () => {
  it.each(['PandaReach-v0', 'PandaPush-v0'] as const)('%s: the episode ends after 5 success steps in a row; a bad value is refused', async (id) => {
    const env = await make(id, { options: { successHold: 5 } });
    const expert = envEntry(id).scripted!();
    let ended = 0;
    for (let ep = 0; ep < 6; ep++) {
      let { obs } = await env.reset({ seed: 200 + ep });
      const flags: boolean[] = [];
      for (;;) {
        const r = await env.step(id === 'PandaPush-v0' && flags.at(-1) ? new Float32Array(7) : expert(obs));
        flags.push(r.info.success === true);
        obs = r.obs;
        if (r.terminated || r.truncated) {
          if (r.terminated) {
            ended++;
            expect(flags.slice(-5)).toEqual([true, true, true, true, true]);
          }
          break;
        }
      }
    }
    expect(ended).toBeGreaterThanOrEqual(2);
    await env.close();
    await expect(make(id, { options: { successHold: 0 } })).rejects.toThrow(/successHold.*\[1, 100\], got `0`/);
  });
});
