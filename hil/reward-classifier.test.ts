import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Env, EnvSpec, StepResult } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { box } from '../control/spaces.js';
import { selectBackend } from '../policies/backend.js';
import { CorruptFileError } from '../policies/binary-file.js';
import { ReplayBuffer } from '../policies/replay.js';
import { make } from '../tasks/registry.js';
import { allFrames, ClassifierReward, episodesFromDemos, pickThreshold, precisionRecall, RewardClassifier, sampleFrames, splitEpisodes, type LabelledEpisode } from './reward-classifier.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

/**
 * Episodes of a point wandering in the plane toward a goal disc (radius 0.3 round the origin),
 * with two distractor features. Once inside, it is held near where it entered for 5 frames,
 * each labelled a success (as a person holds the success button over a success state) — the
 * shape of a push or reach task's success.
 */
function wanderEpisodes(n: number, seed: number): LabelledEpisode[] {
  const rng = new Rng(seed);
  const out: LabelledEpisode[] = [];
  for (let e = 0; e < n; e++) {
    let x = rng.uniform(-1.5, 1.5);
    let y = rng.uniform(-1.5, 1.5);
    const frames: Float32Array[] = [];
    const labels: number[] = [];
    const pull = rng.uniform(0, 0.15);
    for (let t = 0; t < 40; t++) {
      const inside = Math.hypot(x, y) < 0.3;
      frames.push(Float32Array.of(x, y, rng.normal(), rng.uniform(0, 5)));
      labels.push(inside ? 1 : 0);
      if (inside && labels.filter((l) => l === 1).length === 5) break;
      const step = inside ? 0.2 : 1;
      x += step * (-pull * x + 0.1 * rng.normal());
      y += step * (-pull * y + 0.1 * rng.normal());
      if (inside && Math.hypot(x, y) >= 0.3) [x, y] = [x * 0.9, y * 0.9];
    }
    out.push({ frames, labels });
  }
  return out;
}

describe('reward classifier', () => {
  it('picks the threshold for precision: the highest recall among thresholds with precision ≥ the bar', () => {
    const scores = [0.1, 0.4, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95];
    const labels = [0, 0, 1, 0, 1, 1, 1, 1];
    // At 0.55: 5 TP, 1 FP (precision 0.83); at 0.7: 4 TP, 0 FP (precision 1, recall 0.8).
    expect(pickThreshold(scores, labels, 0.95)).toEqual({ threshold: 0.7, precision: 1, recall: 0.8 });
    expect(pickThreshold(scores, labels, 0.8)).toEqual({ threshold: 0.55, precision: 5 / 6, recall: 1 });
    expect(precisionRecall(scores, labels, 0.7)).toMatchObject({ truePositives: 4, falsePositives: 0, positives: 5 });
  });

  it('learns a success region from success frames and near misses: precision ≥ 0.95 at recall ≥ 0.8 on episodes it never saw', () => {
    const train = wanderEpisodes(300, 1);
    const frames = sampleFrames(train, { negativesPerPositive: 3, seed: 2 });
    const positives = frames.labels.filter((l) => l === 1).length;
    expect(positives).toBeGreaterThan(300);
    expect(frames.labels.length).toBe(positives * 4);
    const clf = RewardClassifier.train(frames, allFrames(wanderEpisodes(80, 3)), { seed: 4, hidden: [32, 32], epochs: 100 });
    const test = allFrames(wanderEpisodes(100, 5));
    const pr = precisionRecall(clf.probabilities(test.obs), test.labels, clf.threshold);
    expect(pr.positives).toBeGreaterThan(100);
    expect(pr.precision).toBeGreaterThanOrEqual(0.95);
    expect(pr.recall).toBeGreaterThanOrEqual(0.8);
    // Versus a baseline that says success everywhere: precision is the success rate of frames.
    expect(pr.positives / test.labels.length).toBeLessThan(0.3);
    clf.dispose();
  }, 180_000); // 65 s measured with both cores busy (load average 12)

  it('splits episodes at random into training, threshold and test parts: disjoint, each with successes, seeded', () => {
    // Recorded in order: 30 successes, then 10 failures (a person who got better, or --keep-failures last).
    const episodes: LabelledEpisode[] = Array.from({ length: 40 }, (_, i) => ({ frames: [Float32Array.of(i), Float32Array.of(i + 0.5)], labels: [0, i < 30 ? 1 : 0] }));
    const id = (e: LabelledEpisode): number => e.frames[0]![0]!;
    const split = splitEpisodes(episodes, 0.3, 7);
    const parts = [split.train, split.threshold, split.test].map((p) => p.map(id));
    expect(parts.flat().sort((a, b) => a - b)).toEqual(episodes.map(id)); // each episode in exactly one part
    expect(parts.map((p) => p.length)).toEqual([28, 6, 6]);
    for (const p of [split.threshold, split.test]) {
      expect(p.some((e) => e.labels.includes(1))).toBe(true);
      expect(p.some((e) => !e.labels.includes(1))).toBe(true);
    }
    // Not the recording's tail, and reproducible by seed.
    expect(parts[2]!.every((i) => i >= 34)).toBe(false);
    expect(splitEpisodes(episodes, 0.3, 7).test.map(id)).toEqual(parts[2]);
    expect(splitEpisodes(episodes, 0.3, 8).test.map(id)).not.toEqual(parts[2]);
    expect(() => splitEpisodes(episodes.slice(30), 0.3, 7)).toThrow(/needs at least 3 episodes with a success \(training, threshold, test\), got 0/);
  });

  it('reports precision and recall on test episodes that took no part in training or the threshold', () => {
    const clf = RewardClassifier.train(sampleFrames(wanderEpisodes(60, 6), { seed: 1 }), allFrames(wanderEpisodes(30, 7)), { seed: 1, hidden: [8], epochs: 20 });
    const pick = clf.meta.thresholdPick!;
    const test = allFrames(wanderEpisodes(40, 9));
    const measured = clf.test(test, 40);
    expect(measured).toEqual({ ...precisionRecall(clf.probabilities(test.obs), test.labels, clf.threshold), frames: test.obs.length, episodes: 40 });
    expect(clf.meta.test).toEqual(measured);
    expect(pick.frames).toBe(allFrames(wanderEpisodes(30, 7)).obs.length);
    clf.dispose();
  });

  it('saves and loads bit-identically; a corrupt file is refused', () => {
    const frames = sampleFrames(wanderEpisodes(60, 6), { seed: 1 });
    const clf = RewardClassifier.train(frames, allFrames(wanderEpisodes(30, 7)), { seed: 1, hidden: [8], epochs: 20, envId: 'Wander' });
    const dir = mkdtempSync(join(tmpdir(), 'roborl-clf-'));
    const path = join(dir, 'success.classifier');
    clf.save(path);
    const loaded = RewardClassifier.load(path);
    const probe = allFrames(wanderEpisodes(5, 8)).obs;
    expect(Array.from(loaded.probabilities(probe))).toEqual(Array.from(clf.probabilities(probe)));
    expect(loaded.threshold).toBe(clf.threshold);
    expect(loaded.meta.envId).toBe('Wander');
    expect(() => loaded.probability(new Float32Array(3))).toThrow(/length 4, got 3/);
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0xff;
    writeFileSync(path, bytes);
    expect(() => RewardClassifier.load(path)).toThrow(CorruptFileError);
    clf.dispose();
    loaded.dispose();
  });

  it('takes episodes from demo tables: a terminated end is a success, a truncated one is not', () => {
    const table = new ReplayBuffer({ capacity: 10, obsDim: 1, actDim: 1, costDim: 0 });
    const t = (o: number, end: 'terminated' | 'truncated' | null) => ({ obs: Float32Array.of(o), action: Float32Array.of(0), reward: 0, costs: new Float32Array(0), nextObs: Float32Array.of(o + 1), terminated: end === 'terminated', truncated: end === 'truncated' });
    [t(0, null), t(1, 'terminated'), t(5, null), t(6, 'truncated')].forEach((x) => table.add(x));
    const eps = episodesFromDemos([table]);
    expect(eps.map((e) => ({ frames: e.frames.map((f) => f[0]), labels: e.labels }))).toEqual([
      { frames: [0, 1, 2], labels: [0, 0, 1] },
      { frames: [5, 6, 7], labels: [0, 0, 0] },
    ]);
    expect(() => allFrames([{ frames: [Float32Array.of(0)], labels: [] }])).toThrow(/1 frames but 0 labels/);
    expect(allFrames(eps).labels).toEqual([0, 0, 1, 0, 0, 0]);
  });
});

/** An env that ends itself with a success at step 3 (as PandaPush does), observations (step, 0, 0, 0). */
class EndsInSuccess implements Env {
  readonly spec: EnvSpec = { id: 'EndsInSuccess', observationSpace: box(-10, 10, [4]), actionSpace: box(-1, 1, [1]), controlHz: 10, maxEpisodeSteps: 10, constraints: [], kind: 'sim' };
  private t = 0;
  async reset() {
    this.t = 0;
    return { obs: Float32Array.of(0, 0, 0, 0), info: {} };
  }
  async step(): Promise<StepResult> {
    this.t++;
    return { obs: Float32Array.of(this.t, 0, 0, 0), reward: -1, costs: new Float32Array(0), terminated: this.t === 3, truncated: false, info: { success: this.t === 3 } };
  }
  async close() {}
}

describe('ClassifierReward', () => {
  it('replaces reward and success with the classifier’s on a real simulator; the task’s reward stays in metrics', async () => {
    // A classifier for "pendulum upright" (cos θ > 0.9), trained from labelled random frames.
    const rng = new Rng(3);
    const frame = (): Float32Array => {
      const th = rng.uniform(-Math.PI, Math.PI);
      return Float32Array.of(Math.cos(th), Math.sin(th), rng.uniform(-8, 8));
    };
    const episodes: LabelledEpisode[] = Array.from({ length: 400 }, () => {
      const f = frame();
      return { frames: [frame(), f], labels: [0, (f[0] as number) > 0.9 ? 1 : 0] };
    });
    const clf = RewardClassifier.train(sampleFrames(episodes.slice(0, 300), { seed: 1, negativesPerPositive: 2 }), allFrames(episodes.slice(300)), { seed: 1, hidden: [16], epochs: 100 });
    const env = new ClassifierReward(await make('Pendulum-v1'), clf);
    const plain = await make('Pendulum-v1');
    await env.reset({ seed: 9 });
    await plain.reset({ seed: 9 });
    let successes = 0;
    for (let i = 0; i < 100; i++) {
      const a = Float32Array.of(Math.sin(i / 5) * 2);
      const [r, p] = [await env.step(a), await plain.step(a)];
      expect(r.reward).toBe(clf.success(r.obs) ? 1 : 0);
      expect(r.info.success).toBe(r.reward === 1);
      expect(r.terminated).toBe(r.reward === 1);
      expect(r.info.metrics?.['envReward']).toBe(p.reward);
      if (r.terminated) {
        successes++;
        await env.reset({ seed: 10 + i });
        await plain.reset({ seed: 10 + i });
      }
    }
    expect(env.stats.steps).toBe(100);
    expect(env.stats.successes).toBe(successes);
    await env.close();
    await plain.close();
    clf.dispose();
  }, 30_000);

  it('an env that ends on its own success where the classifier sees none ends truncated, not as a terminal failure', async () => {
    const frames = sampleFrames(wanderEpisodes(60, 6), { seed: 1 });
    const clf = RewardClassifier.train(frames, allFrames(wanderEpisodes(30, 7)), { seed: 1, hidden: [8], epochs: 20 });
    const env = new ClassifierReward(new EndsInSuccess(), clf);
    await env.reset();
    const steps = [await env.step(Float32Array.of(0)), await env.step(Float32Array.of(0)), await env.step(Float32Array.of(0))];
    // (3, 0, …) is far outside the disc: the classifier says no.
    expect(steps.map((s) => [s.reward, s.terminated, s.truncated])).toEqual([
      [0, false, false],
      [0, false, false],
      [0, false, true],
    ]);
    expect(steps[2]?.info.metrics?.['envSuccess']).toBe(1);
    // A classifier for another observation size is refused up front.
    expect(() => new ClassifierReward({ ...new EndsInSuccess(), spec: { ...new EndsInSuccess().spec, observationSpace: box(-1, 1, [3]) } } as Env, clf)).toThrow(/length 4; EndsInSuccess gives 3/);
    clf.dispose();
  });
});
