import { describe, expect, it } from 'vitest';
import { checkEnv } from '../check-env.js';
import { InvalidActionError, type Env, type EnvSpec, type ResetResult, type StepResult } from '../env.js';
import { box } from '../spaces.js';
import { RescaleAction } from './action-transforms.js';
import { ActionChunk, ObservationHistory } from './temporal.js';
import { TimeLimit } from './time-limit.js';

/** A 2-D point that moves by its action; its fields are named. */
class Named implements Env {
  readonly spec: EnvSpec = { id: 'Named-v0', observationSpace: box(-10, 10, [2]), actionSpace: box([-1, -1], [1, 1]), controlHz: 10, maxEpisodeSteps: 20, constraints: [], kind: 'sim', observationNames: ['x', 'y'], actionNames: ['push x', 'push y'] };
  private p = [0, 0];
  async reset(): Promise<ResetResult> {
    this.p = [0, 0];
    return { obs: Float32Array.from(this.p), info: {} };
  }
  async step(a: Float32Array): Promise<StepResult> {
    if (a.length !== 2 || !a.every(Number.isFinite)) throw new InvalidActionError(this.spec.id, 'bad action', a.length === 2 ? a.findIndex((v) => !Number.isFinite(v)) : null);
    this.p = this.p.map((v, i) => Math.max(-10, Math.min(10, v + 0.1 * (a[i] as number))));
    return { obs: Float32Array.from(this.p), reward: 0, costs: new Float32Array(0), terminated: false, truncated: false, info: {} };
  }
  async close(): Promise<void> {}
}

describe('field names through wrappers', () => {
  it('wrappers that keep the shapes keep the names; history and chunks name every entry they add, so checkEnv still passes', async () => {
    expect(new TimeLimit(new RescaleAction(new Named()), 5).spec).toMatchObject({ observationNames: ['x', 'y'], actionNames: ['push x', 'push y'] });
    const history = new ObservationHistory(new Named(), 3);
    expect(history.spec.observationNames).toEqual(['x (t−2)', 'y (t−2)', 'x (t−1)', 'y (t−1)', 'x', 'y']);
    const chunk = new ActionChunk(new Named(), 2);
    expect(chunk.spec.actionNames).toEqual(['push x', 'push y', 'push x (+1)', 'push y (+1)']);
    await expect(checkEnv(new TimeLimit(history, 20))).resolves.toBeDefined();
    await expect(checkEnv(new TimeLimit(chunk, 10))).resolves.toBeDefined();
  });
});
