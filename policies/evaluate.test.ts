import { describe, expect, it } from 'vitest';
import type { Env, EnvSpec, ResetResult, StepResult } from '../control/env.js';
import { box } from '../control/spaces.js';
import { evaluatePolicy } from './evaluate.js';

/** Lifts a cube past the success height on step `liftAt` and, if `dropAt`, drops it there; ends (truncated) at step 10. */
class LiftAndDrop implements Env {
  readonly spec: EnvSpec = { id: 'LiftAndDrop', observationSpace: box(-1, 1, [1]), actionSpace: box(-1, 1, [1]), controlHz: 25, maxEpisodeSteps: 10, constraints: [], kind: 'sim' };
  private t = 0;
  constructor(private readonly dropAt: number | null) {}
  async reset(): Promise<ResetResult> {
    this.t = 0;
    return { obs: Float32Array.of(0), info: {} };
  }
  async step(): Promise<StepResult> {
    this.t++;
    const lifted = this.t >= 3 && (this.dropAt === null || this.t < this.dropAt);
    return { obs: Float32Array.of(0), reward: lifted ? 1 : 0, costs: new Float32Array(0), terminated: false, truncated: this.t >= 10, info: { success: lifted } };
  }
  async close(): Promise<void> {}
}

describe('evaluatePolicy', () => {
  // PandaPickCube-v0's dense reward runs on past a success: a cube lifted and dropped again
  // passed through success without keeping it (the review of the change found it counted).
  it('counts an episode a success by its last step, as SB3 and panda-gym do: a success passed through and lost is none', async () => {
    const policy = { reset(): void {}, act: (): Float32Array => Float32Array.of(0) };
    expect((await evaluatePolicy(new LiftAndDrop(6), policy, 3, 0)).successRate).toBe(0);
    expect((await evaluatePolicy(new LiftAndDrop(null), policy, 3, 0)).successRate).toBe(1);
  });
});
