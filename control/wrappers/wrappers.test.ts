import { describe, expect, it } from 'vitest';
import { Pendulum } from '../../tasks/pendulum.js';
import { InvalidActionError, type Env, type EnvSpec, type ResetResult, type StepResult } from '../env.js';
import { RunningMeanStd } from '../running-stats.js';
import { box } from '../spaces.js';
import { ClipAction, RescaleAction } from './action-transforms.js';
import { EpisodeStatistics } from './episode-statistics.js';
import { NormalizeObservation } from './normalize-observation.js';
import { ActionChunk, ActionDelay, ActionRepeat, ObservationHistory } from './temporal.js';
import { TimeLimit } from './time-limit.js';
import { Wrapper } from './wrapper.js';

/** Records the actions it receives; obs = [step count, last action…]; reward = action[0]. */
class Recorder implements Env {
  readonly spec: EnvSpec = { id: 'Recorder', observationSpace: box(-100, 100, [3]), actionSpace: box([0, -4], [10, 4]), controlHz: 100, maxEpisodeSteps: null, constraints: ['a', 'b'], kind: 'sim' };
  readonly seen: Float32Array[] = [];
  constructor(private readonly terminateAt = Infinity) {}
  async reset(): Promise<ResetResult> {
    this.seen.length = 0;
    return { obs: Float32Array.of(0, 0, 0), info: {} };
  }
  async step(action: Float32Array): Promise<StepResult> {
    this.seen.push(Float32Array.from(action));
    const t = this.seen.length;
    return { obs: Float32Array.of(t, action[0] as number, action[1] as number), reward: action[0] as number, costs: Float32Array.of(1, 0.5), terminated: t >= this.terminateAt, truncated: false, info: { success: t === 2 } };
  }
  async close(): Promise<void> {}
}

describe('TimeLimit', () => {
  it('truncates (not terminates) at the limit and refuses further steps', async () => {
    const env = new TimeLimit(new Recorder(), 3);
    await env.reset();
    const flags = [];
    for (let i = 0; i < 3; i++) flags.push(await env.step(Float32Array.of(1, 0)));
    expect(flags.map((r) => r.truncated)).toEqual([false, false, true]);
    expect(flags.every((r) => !r.terminated)).toBe(true);
    expect(env.spec.maxEpisodeSteps).toBe(3);
    await expect(env.step(Float32Array.of(1, 0))).rejects.toThrow(/after the time limit/);
  });
  it.each([0, -1, 1.5, Number.NaN])('rejects maxSteps %s', (n) => {
    expect(() => new TimeLimit(new Recorder(), n)).toThrow(/positive integer/);
  });
});

describe('RescaleAction and ClipAction', () => {
  it('maps [−1, 1] affinely onto the env box', async () => {
    const inner = new Recorder();
    const env = new RescaleAction(inner);
    await env.reset();
    await env.step(Float32Array.of(-1, 1));
    await env.step(Float32Array.of(0, 0.5));
    expect(Array.from(inner.seen[0]!)).toEqual([0, 4]);
    expect(Array.from(inner.seen[1]!)).toEqual([5, 2]);
    expect(Array.from(env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.high : [])).toEqual([1, 1]);
  });
  it('reports an inner safety layer\'s executed action back in the outer [−1, 1] units', async () => {
    /** A stand-in safety layer (inner units): halves every action and says so. */
    class Halver extends Wrapper {
      override async step(action: Float32Array): Promise<StepResult> {
        const executed = Float32Array.from(action, (v) => v / 2);
        const r = await this.env.step(executed);
        return { ...r, info: { ...r.info, safety: { proposed: action, executed, intervened: true, hits: {} } } };
      }
    }
    const env = new RescaleAction(new Halver(new Recorder()));
    await env.reset();
    const r = await env.step(Float32Array.of(1, 1)); // inner (10, 4) → executed (5, 2) → outer (0, 0.5)
    expect(Array.from(r.info.safety!.proposed)).toEqual([1, 1]);
    expect(Array.from(r.info.safety!.executed)).toEqual([0, 0.5]);
  });
  it('clips finite actions but still rejects NaN', async () => {
    const inner = new Recorder();
    const env = new ClipAction(inner);
    await env.reset();
    await env.step(Float32Array.of(20, -9));
    expect(Array.from(inner.seen[0]!)).toEqual([10, -4]);
    await expect(env.step(Float32Array.of(Number.NaN, 0))).rejects.toThrow(InvalidActionError);
  });
});

describe('NormalizeObservation', () => {
  it('matches a two-pass mean/variance and gives ≈ zero-mean, unit-variance observations', async () => {
    const env = new NormalizeObservation(new TimeLimit(new Pendulum(), 200));
    const raw: Float32Array[] = [];
    const normed: Float32Array[] = [];
    const inner = new TimeLimit(new Pendulum(), 200);
    raw.push((await inner.reset({ seed: 4 })).obs);
    normed.push((await env.reset({ seed: 4 })).obs);
    for (let t = 0; t < 199; t++) {
      const a = Float32Array.of(Math.sin(t / 7) * 2);
      raw.push((await inner.step(a)).obs);
      normed.push((await env.step(a)).obs);
    }
    for (let k = 0; k < 3; k++) {
      const xs = raw.map((o) => o[k] as number);
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
      expect(env.stats.mean[k]).toBeCloseTo(mean, 6);
      expect(env.stats.variance(k)).toBeCloseTo(variance, 5);
    }
    // With frozen statistics the same observations come out normalised by the final moments…
    env.freeze();
    const after = [(await env.reset({ seed: 4 })).obs];
    expect(after[0]![0]).toBeCloseTo(((raw[0]![0] as number) - env.stats.mean[0]!) / Math.sqrt(env.stats.variance(0) + 1e-8), 5);
    for (let t = 0; t < 199; t++) after.push((await env.step(Float32Array.of(Math.sin(t / 7) * 2))).obs);
    // …so the episode's normalised observations have mean ≈ 0 and std ≈ 1 in every entry, where
    // the raw ones do not (cos θ of a swinging pendulum, θ̇ in rad/s).
    for (let k = 0; k < 3; k++) {
      const moments = (xs: number[]): [number, number] => {
        const m = xs.reduce((s, x) => s + x, 0) / xs.length;
        return [m, Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length)];
      };
      const [m, sd] = moments(after.map((o) => o[k] as number));
      expect(Math.abs(m)).toBeLessThan(1e-4);
      expect(Math.abs(sd - 1)).toBeLessThan(1e-4);
      const [rawMean, rawSd] = moments(raw.map((o) => o[k] as number));
      expect(Math.abs(rawMean) > 0.05 || Math.abs(rawSd - 1) > 0.05).toBe(true);
    }
  });
  it('RunningMeanStd rejects non-finite samples', () => {
    expect(() => new RunningMeanStd(2).update([1, Number.NaN])).toThrow(/sample\[1\] is NaN/);
  });
});

describe('EpisodeStatistics', () => {
  it('reports return, length, per-constraint cost sums and success at the episode end — its last step’s: a success passed through is none', async () => {
    const env = new EpisodeStatistics(new Recorder(4)); // success on step 2 only
    await env.reset();
    let last: StepResult | undefined;
    for (let i = 0; i < 4; i++) last = await env.step(Float32Array.of(i, 0));
    expect(last?.info.episode).toEqual({ return: 0 + 1 + 2 + 3, length: 4, costs: { a: 4, b: 2 }, success: false, terminated: true, truncated: false });
    expect(env.history).toHaveLength(1);
    const ending = new EpisodeStatistics(new Recorder(2)); // ends on its success
    await ending.reset();
    await ending.step(Float32Array.of(0, 0));
    expect((await ending.step(Float32Array.of(0, 0))).info.episode?.success).toBe(true);
  });

  it('an episode a robot’s link loss cuts off keeps the success of its last task step (the safe stop carries none)', async () => {
    // Success on step 2; the link is lost on step 3 (the robot's safe stop, no task step).
    const inner = new EpisodeStatistics(new (class extends Recorder {
      override async step(action: Float32Array): Promise<StepResult> {
        const r = await super.step(action);
        return this.seen.length < 3 ? r : { ...r, truncated: true, info: { linkError: 'joint states stale' } };
      }
    })());
    await inner.reset();
    await inner.step(Float32Array.of(0, 0));
    await inner.step(Float32Array.of(0, 0)); // the task's success step
    const episode = (await inner.step(Float32Array.of(0, 0))).info.episode;
    expect(episode?.success).toBe(true);
    // The safe stop is counted in the summary (a distributed learner learns of it only there).
    expect(episode?.linkLostSteps).toBe(1);
  });
});

describe('ActionRepeat, ActionChunk, ObservationHistory', () => {
  it('ActionRepeat repeats, sums rewards and costs, and stops at an episode end', async () => {
    const inner = new Recorder(5);
    const env = new ActionRepeat(inner, 3);
    await env.reset();
    const r1 = await env.step(Float32Array.of(2, 1));
    expect(inner.seen).toHaveLength(3);
    expect(r1.reward).toBe(6);
    expect(Array.from(r1.costs)).toEqual([3, 1.5]);
    const r2 = await env.step(Float32Array.of(1, 1));
    expect(inner.seen).toHaveLength(5); // stopped early at the terminal step
    expect(r2.terminated).toBe(true);
    expect(env.spec.controlHz).toBeCloseTo(100 / 3);
  });
  it('ActionChunk executes the chunk in order', async () => {
    const inner = new Recorder();
    const env = new ActionChunk(inner, 2);
    await env.reset();
    await env.step(Float32Array.of(1, 2, 3, 4));
    expect(inner.seen.map((a) => Array.from(a))).toEqual([[1, 2], [3, 4]]);
    expect(env.spec.actionSpace.kind === 'box' && env.spec.actionSpace.shape).toEqual([2, 2]);
    await expect(env.step(Float32Array.of(1, 2))).rejects.toThrow(/length 2, expected 4/);
  });
  it('ObservationHistory stacks the last k observations, oldest first', async () => {
    const env = new ObservationHistory(new Recorder(), 3);
    const o0 = (await env.reset()).obs;
    expect(Array.from(o0)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await env.step(Float32Array.of(5, 1));
    const o2 = (await env.step(Float32Array.of(6, 2))).obs;
    expect(Array.from(o2)).toEqual([0, 0, 0, 1, 5, 1, 2, 6, 2]);
  });
  it('ActionDelay executes each action k steps late, the initial action first, and restarts per episode', async () => {
    const inner = new Recorder();
    const env = new ActionDelay(inner, 2, Float32Array.of(1, 0));
    await env.reset();
    for (const a of [2, 3, 4]) await env.step(Float32Array.of(a, a));
    expect(inner.seen.map((a) => Array.from(a))).toEqual([[1, 0], [1, 0], [2, 2]]);
    await env.reset();
    await env.step(Float32Array.of(5, 5));
    expect(inner.seen.map((a) => Array.from(a))).toEqual([[1, 0]]);
    await expect(env.step(Float32Array.of(Number.NaN, 0))).rejects.toThrow(InvalidActionError);
    expect(() => new ActionDelay(inner, -1)).toThrow(/non-negative integer/);
    const none = new ActionDelay(new Recorder(), 0);
    await none.reset();
    expect(Array.from((await none.step(Float32Array.of(7, 1))).obs)).toEqual([1, 7, 1]);
  });
});
