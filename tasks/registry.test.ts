import { describe, expect, it } from 'vitest';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { TimeLimit } from '../control/wrappers/time-limit.js';
import { listEnvs, make } from './registry.js';

describe('registry', () => {
  it('lists the built-in task suite', () => {
    expect(listEnvs()).toEqual(['CartPoleContinuous-v0', 'CartPoleDiscrete-v0', 'PandaKeepOut-v0', 'PandaPickCube-v0', 'PandaPush-v0', 'PandaPush-v1', 'PandaReach-v0', 'Pendulum-v1', 'RapierPendulum-v0', 'Reacher2D-v0', 'SafePendulum-v0', 'UrdfReach-v0']);
  });
  it('suggests close matches for an unknown id', async () => {
    await expect(make('PandaRech-v0')).rejects.toThrow(/Unknown env id "PandaRech-v0"\. Did you mean "PandaReach-v0"/);
    await expect(make('pendulum-v1')).rejects.toThrow(/Did you mean "Pendulum-v1"/);
  });
  it('rejects unknown and ill-typed options with the env named', async () => {
    await expect(make('Pendulum-v1', { options: { gravity: 9.8 } })).rejects.toThrow(/Pendulum-v1: unknown option "gravity" \(accepted: g, velocityLimit\)/);
    await expect(make('Pendulum-v1', { options: { g: 'ten' } })).rejects.toThrow(/Pendulum-v1: Expected option `g` to be a finite number, got `ten`/);
  });
  it('applies the spec time limit by default, an override, or none', async () => {
    expect(findWrapper(await make('Pendulum-v1'), TimeLimit)?.maxSteps).toBe(200);
    expect(findWrapper(await make('Pendulum-v1', { timeLimit: 10 }), TimeLimit)?.maxSteps).toBe(10);
    expect(findWrapper(await make('Pendulum-v1', { timeLimit: false }), TimeLimit)).toBeUndefined();
  });
  it('passes task options through', async () => {
    const env = await make('Pendulum-v1', { options: { velocityLimit: 0.5 } });
    await env.reset({ seed: 0 });
    let costs = 0;
    for (let i = 0; i < 20; i++) costs += (await env.step(Float32Array.of(2))).costs[0] as number;
    expect(costs).toBeGreaterThan(0);
  });
});
