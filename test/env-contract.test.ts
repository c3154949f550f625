import { describe, expect, it } from 'vitest';
import { checkEnv } from '../control/check-env.js';
import { EnvStateError, InvalidActionError } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { contains, sample } from '../control/spaces.js';
import { listEnvs, make } from '../sim/registry.js';

/**
 * The contract suite: every registered env — and every env registered later, simulated or a
 * robot emulator — must pass it unchanged.
 */
describe.each(listEnvs())('env contract: %s', (id) => {
  it('passes checkEnv (spaces, determinism, bad actions, reset after an episode end)', async () => {
    const env = await make(id);
    const { steps } = await checkEnv(env);
    expect(steps).toBeGreaterThan(30);
    await env.close();
  });

  it('two fresh instances with the same seed and actions give bit-identical rollouts', async () => {
    const [a, b] = [await make(id), await make(id)];
    const rng = new Rng(11);
    const ra = await a.reset({ seed: 3 });
    const rb = await b.reset({ seed: 3 });
    expect(Array.from(ra.obs)).toEqual(Array.from(rb.obs));
    for (let t = 0; t < 25; t++) {
      const action = sample(a.spec.actionSpace, rng);
      const [sa, sb] = [await a.step(action), await b.step(action)];
      expect(Array.from(sa.obs)).toEqual(Array.from(sb.obs));
      expect(sa.reward).toBe(sb.reward);
      expect(Array.from(sa.costs)).toEqual(Array.from(sb.costs));
      if (sa.terminated || sa.truncated) break;
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('different seeds give different initial states', async () => {
    const env = await make(id);
    const o1 = (await env.reset({ seed: 1 })).obs;
    const o2 = (await env.reset({ seed: 2 })).obs;
    expect(Array.from(o1)).not.toEqual(Array.from(o2));
    await env.close();
  });

  it('rejects bad actions with an error naming the env and the index', async () => {
    const env = await make(id);
    await env.reset({ seed: 0 });
    const good = sample(env.spec.actionSpace, new Rng(0));
    const nan = Float32Array.from(good);
    nan[nan.length - 1] = Number.NaN;
    await expect(env.step(nan)).rejects.toThrow(InvalidActionError);
    await expect(env.step(nan)).rejects.toThrow(new RegExp(`${id}.*action\\[${nan.length - 1}\\]`));
    await expect(env.step(new Float32Array(good.length + 2))).rejects.toThrow(/length/);
    await env.close();
  });

  it('keeps observations inside the observation space over a random episode', async () => {
    const env = await make(id);
    const rng = new Rng(5);
    let { obs } = await env.reset({ seed: 5 });
    let steps = 0;
    for (;;) {
      expect(contains(env.spec.observationSpace, obs, 1e-5)).toBe(true);
      const r = await env.step(sample(env.spec.actionSpace, rng));
      steps++;
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    expect(steps).toBeLessThanOrEqual(env.spec.maxEpisodeSteps ?? Infinity);
    await env.close();
  });

  it('refuses step() before reset() and after close()', async () => {
    const env = await make(id, { timeLimit: false });
    const action = sample(env.spec.actionSpace, new Rng(0));
    await expect(env.step(action)).rejects.toThrow(EnvStateError);
    await env.reset({ seed: 0 });
    await env.close();
    await env.close(); // idempotent
    await expect(env.step(action)).rejects.toThrow(/after close/);
  });
});
