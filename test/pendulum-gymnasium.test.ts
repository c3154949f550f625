import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Pendulum } from '../tasks/pendulum.js';

const Reference = z.object({
  episodes: z.array(z.object({ state0: z.tuple([z.number(), z.number()]), actions: z.array(z.number()), obs: z.array(z.array(z.number()).length(3)), rewards: z.array(z.number()) })).min(1),
});

// Episodes produced by Gymnasium's own Pendulum-v1 (a copy of the team's shared/data file, see
// shared/facts/sim-rapier.md), kept in the repository so a clone anywhere can run the test.
const referencePath = new URL('./data/pendulum-v1-gymnasium.json', import.meta.url);

describe('Pendulum-v1 matches Gymnasium', () => {
  const ref = Reference.parse(JSON.parse(readFileSync(referencePath, 'utf8')));

  it.each(ref.episodes.map((ep, i) => [i, ep] as const))('reproduces reference episode %i to 1e-6', (_, ep) => {
    const env = new Pendulum();
    env.resetSync({ seed: 0 });
    env.setState(ep.state0[0], ep.state0[1]);
    let maxObsErr = 0;
    let maxRewardErr = 0;
    ep.actions.forEach((a, t) => {
      const r = env.stepSync(Float32Array.of(a));
      (ep.obs[t] as number[]).forEach((v, k) => (maxObsErr = Math.max(maxObsErr, Math.abs((r.obs[k] as number) - v))));
      maxRewardErr = Math.max(maxRewardErr, Math.abs(r.reward - (ep.rewards[t] as number)));
    });
    expect(ep.actions.length).toBe(200);
    expect(maxObsErr).toBeLessThan(1e-6);
    expect(maxRewardErr).toBeLessThan(1e-6);
  });

  it('clips actions beyond ±2 as Gymnasium does (the reference contains some)', () => {
    expect(ref.episodes.some((ep) => ep.actions.some((a) => Math.abs(a) > 2))).toBe(true);
  });
});
