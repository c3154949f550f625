import { describe, expect, it } from 'vitest';
import { make } from '../tasks/registry.js';
import { VectorEnv } from './vector-env.js';

describe('VectorEnv', () => {
  it('seeds sub-env i with seed + i', async () => {
    const vec = await VectorEnv.create(3, () => make('Pendulum-v1'));
    const obs = await vec.reset({ seed: 10 });
    for (let i = 0; i < 3; i++) {
      const single = await make('Pendulum-v1');
      expect(Array.from(obs.subarray(i * 3, i * 3 + 3))).toEqual(Array.from((await single.reset({ seed: 10 + i })).obs));
    }
  });

  it('autoresets in the same step and keeps the final observation', async () => {
    const vec = await VectorEnv.create(2, (i) => make('Pendulum-v1', { timeLimit: i === 0 ? 3 : 5 }));
    await vec.reset({ seed: 0 });
    const actions = new Float32Array(2);
    let r = await vec.step(actions);
    r = await vec.step(actions);
    r = await vec.step(actions);
    expect(Array.from(r.truncated)).toEqual([1, 0]);
    expect(r.finalObs[0]).toBeInstanceOf(Float32Array);
    expect(r.finalObs[1]).toBeNull();
    expect(Array.from(r.obs.subarray(0, 3))).not.toEqual(Array.from(r.finalObs[0]!));
    // The next step continues the new episode of sub-env 0 without error.
    r = await vec.step(actions);
    expect(Array.from(r.truncated)).toEqual([0, 0]);
  });

  it('validates every row before any sub-env moves', async () => {
    const vec = await VectorEnv.create(2, () => make('Pendulum-v1'));
    const obs0 = await vec.reset({ seed: 1 });
    await expect(vec.step(Float32Array.of(0, Number.NaN))).rejects.toThrow(/Pendulum-v1: action\[0\] is NaN/);
    await expect(vec.step(new Float32Array(3))).rejects.toThrow(/length 3, expected 2 × 1/);
    const ref = await VectorEnv.create(2, () => make('Pendulum-v1'));
    await ref.reset({ seed: 1 });
    expect(Array.from((await vec.step(new Float32Array(2))).obs)).toEqual(Array.from((await ref.step(new Float32Array(2))).obs));
    expect(obs0.length).toBe(6);
  });
});
