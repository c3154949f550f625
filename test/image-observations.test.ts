import { describe, expect, it } from 'vitest';
import { checkEnv, EnvCheckError } from '../control/check-env.js';
import { Rng } from '../control/rng.js';
import { observationProblem, sample, type DictObservation } from '../control/spaces.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { NormalizeObservation } from '../control/wrappers/normalize-observation.js';
import { TimeLimit } from '../control/wrappers/time-limit.js';
import { FrameReplay } from '../policies/frame-replay.js';
import { allocBatch } from '../policies/replay.js';
import { VectorEnv } from '../sim/vector-env.js';
import { CameraDotEnv } from './camera-env.js';

describe('image observations through the env contract (issue 23)', () => {
  it('an env with a camera passes checkEnv, bare and under the state wrappers', async () => {
    expect((await checkEnv(new CameraDotEnv())).steps).toBeGreaterThan(30);
    const normalize = new NormalizeObservation(new RescaleAction(new TimeLimit(new CameraDotEnv(), 15)));
    // Frozen: moving statistics would make two seeded rollouts differ (as for any env).
    normalize.freeze();
    const wrapped = new EpisodeStatistics(normalize);
    expect(wrapped.spec.observationSpace.kind).toBe('dict');
    expect(wrapped.spec.maxEpisodeSteps).toBe(15);
    await checkEnv(wrapped);
  });

  it('checkEnv names a frame of the wrong size, a float frame and frames that differ between seeded runs', async () => {
    const failures = async (env: CameraDotEnv): Promise<string> => {
      try {
        await checkEnv(env);
        return '';
      } catch (err) {
        expect(err).toBeInstanceOf(EnvCheckError);
        return (err as EnvCheckError).failures.join('\n');
      }
    };
    expect(await failures(new CameraDotEnv(16, 20, { shortFrame: true }))).toMatch(/reset: observation.front: 767 bytes, expected 16×16×3 = 768/);
    expect(await failures(new CameraDotEnv(16, 20, { floatFrame: true }))).toMatch(/observation.front: expected a Uint8Array frame, got Float32Array/);
    expect(await failures(new CameraDotEnv(16, 20, { noisyFrame: true }))).toMatch(/not deterministic/);
    const space = new CameraDotEnv().spec.observationSpace;
    expect(observationProblem(space, { state: Float32Array.of(0, 0) })).toMatch(/observation.front: expected a Uint8Array frame, got undefined/);
    expect(observationProblem(space, { state: Float32Array.of(0, 0), front: new Uint8Array(768), side: new Uint8Array(1) })).toMatch(/observation.side: not a camera of this space \(front\)/);
    expect(observationProblem(space, Float32Array.of(0, 0))).toMatch(/expected a dict observation \{state, front\}, got Float32Array/);
  });

  it('observation normalisation normalises the state and passes frames through untouched', async () => {
    const inner = new CameraDotEnv(16, 1000);
    const seen: DictObservation[] = [];
    const spy = { ...inner, spec: inner.spec, reset: (o?: { seed?: number }) => inner.reset(o), close: () => inner.close(), step: async (a: Float32Array) => {
      const r = await inner.step(a);
      seen.push(r.obs);
      return r;
    } };
    const env = new NormalizeObservation(spy);
    await env.reset({ seed: 1 });
    const rng = new Rng(2);
    const states: Float32Array[] = [];
    for (let t = 0; t < 400; t++) {
      const r = await env.step(sample(env.spec.actionSpace, rng));
      expect(r.obs.front).toBe(seen[t]!.front); // the same bytes, not a rescaled copy
      states.push(r.obs.state);
    }
    const mean = [0, 1].map((j) => states.slice(200).reduce((a, s) => a + s[j]!, 0) / 200);
    for (const m of mean) expect(Math.abs(m)).toBeLessThan(0.6);
    expect(env.stats.mean.length).toBe(2);
  });

  it('a vector env stacks frames per camera and, on autoreset, keeps the final dict observation', async () => {
    const venv = await VectorEnv.create(3, () => new CameraDotEnv(8, 4));
    const first = await venv.reset({ seed: 5 });
    expect(first.state.length).toBe(6);
    expect(first.frames['front']!.length).toBe(3 * 8 * 8 * 3);
    const solo = await new CameraDotEnv(8, 4).reset({ seed: 6 });
    expect(Array.from(first.frames['front']!.subarray(192, 384))).toEqual(Array.from(solo.obs.front as Uint8Array));
    let r = await venv.step(new Float32Array(6));
    for (let t = 1; t < 4; t++) r = await venv.step(new Float32Array(6));
    expect(Array.from(r.truncated)).toEqual([1, 1, 1]);
    const final = r.finalObs[0]!;
    expect(final.front).toBeInstanceOf(Uint8Array);
    // Row 0 is the new episode's first frame, not the final one.
    expect(Array.from(r.obs.frames['front']!.subarray(0, 192))).not.toEqual(Array.from(final.front as Uint8Array));
    await venv.close();
  });

  it('a camera env\'s episodes go into the frame replay and come back as batches with their frames', async () => {
    const env = new CameraDotEnv(16, 10);
    const cameras = [{ name: 'front', height: 16, width: 16, channels: 3 }];
    const replay = new FrameReplay({ capacity: 100, obsDim: 2, actDim: 2, costDim: 0, cameras });
    const rng = new Rng(3);
    let obs = (await env.reset({ seed: 3 })).obs;
    for (let t = 0; t < 30; t++) {
      const action = sample(env.spec.actionSpace, rng);
      const r = await env.step(action);
      replay.add({ obs, action, reward: r.reward, costs: r.costs, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated });
      obs = r.truncated ? (await env.reset()).obs : r.obs;
    }
    expect(replay.size).toBe(30);
    // 3 episodes of 10: 33 slots, 30 transitions.
    expect(replay.bytesPerTransition()).toBeCloseTo((FrameReplay.byteSize(replay.spec) * 33) / 100 / 30, 6);
    const batch = allocBatch(replay.spec, 32);
    replay.sampleInto(batch, 0, 32, new Rng(4), 0.99);
    for (let row = 0; row < 32; row++) {
      // The red dot of next obs sits where next state says.
      const next = batch.nextObs.subarray(2 * row, 2 * row + 2);
      const [cx, cy] = env.pixel(next);
      const f = batch.nextFrames![0]!;
      expect(Array.from(f.subarray(row * 768 + (cy * 16 + cx) * 3, row * 768 + (cy * 16 + cx) * 3 + 3))).toEqual([255, 0, 0]);
    }
  });
});
