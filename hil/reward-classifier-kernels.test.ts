import { describe, expect, it } from 'vitest';
import { selectBackend } from '../policies/backend.js';
import { loadBlasKernels } from '../policies/kernels/blas.js';
import { TfjsKernels } from '../policies/kernels/tfjs.js';
import { RewardClassifier, type LabelledFrames } from './reward-classifier.js';
import { Rng } from '../control/rng.js';

/** Frames of a 3-D point: success inside a ball of radius 0.7 around (0.3, −0.2, 0). */
function frames(n: number, seed: number): LabelledFrames {
  const rng = new Rng(seed);
  const obs: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = Float32Array.from({ length: 3 }, () => rng.uniform(-1, 1));
    obs.push(o);
    labels.push(Math.hypot((o[0] as number) - 0.3, (o[1] as number) + 0.2, o[2] as number) < 0.7 ? 1 : 0);
  }
  return { obs, labels, episode: labels.map((_, i) => Math.floor(i / 10)) };
}

describe('reward classifier on the kernel interface', () => {
  it('trains the same head on the system BLAS and on tfjs-wasm (probabilities agree to 1e-4), and learns the region', async () => {
    await selectBackend('wasm');
    const [train, held] = [frames(600, 1), frames(200, 2)];
    const options = { seed: 3, hidden: [16, 16], epochs: 30, batchSize: 32 };
    const blas = RewardClassifier.train(train, held, { ...options, kernels: await loadBlasKernels({ threads: 2 }) });
    const wasm = RewardClassifier.train(train, held, { ...options, kernels: new TfjsKernels() });
    const probe = frames(100, 4);
    const [pb, pw] = [blas.probabilities(probe.obs), wasm.probabilities(probe.obs)];
    pb.forEach((p, i) => expect(Math.abs(p - (pw[i] as number))).toBeLessThan(1e-4));
    // It learned something: success frames score higher than the rest on average.
    const meanOf = (label: number): number => probe.labels.reduce((s, l, i) => s + (l === label ? (pb[i] as number) : 0), 0) / probe.labels.filter((l) => l === label).length;
    expect(meanOf(1)).toBeGreaterThan(meanOf(0) + 0.2);
    // Batch 1 (the reward wrapper's per-step check) gives the batch's value.
    expect(blas.probability(probe.obs[0] as Float32Array)).toBeCloseTo(pb[0] as number, 5);
  });
});
