import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import type { DictObservation } from '../control/spaces.js';
import { loadBlasKernels } from '../policies/kernels/blas.js';
import { JsKernels, type Kernels } from '../policies/kernels/kernels.js';
import { simdElementwise } from '../policies/nn/simd.js';
import { CorruptFileError, encodeBinary, readBinaryFile, writeFileAtomic } from '../policies/binary-file.js';
import { allFrames, precisionRecall, RewardClassifier, SCORE_CHUNK, type LabelledEpisode } from './reward-classifier.js';

const dir = mkdtempSync(join(tmpdir(), 'clf-images-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const S = 12;

/**
 * Episodes whose success shows only in the camera: a 2×2 dot wanders over a 12×12 grey frame;
 * success is the dot inside the top-left 5×5 corner. The state is noise, so a classifier that
 * does not look at the frame cannot tell.
 */
function episodes(n: number, seed: number): LabelledEpisode<DictObservation>[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const frames: DictObservation[] = [];
    const labels: number[] = [];
    for (let t = 0; t < 12; t++) {
      const [x, y] = [rng.int(S - 1), rng.int(S - 1)];
      const frame = new Uint8Array(S * S).fill(60);
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) frame[(y + dy) * S + x + dx] = 250;
      frames.push({ state: Float32Array.of(rng.normal(), rng.normal()), wrist: frame });
      labels.push(x < 4 && y < 4 ? 1 : 0);
    }
    return { frames, labels };
  });
}

describe('reward classifier on camera frames (issue 23)', () => {
  it('learns a success seen only in the image through the conv encoder; a state classifier cannot; save/load keeps it', () => {
    const train = allFrames(episodes(40, 1));
    const held = allFrames(episodes(10, 2));
    const test = allFrames(episodes(15, 3));
    const kernels = new JsKernels();
    const clf = RewardClassifier.train(train, held, { encoder: { kind: 'conv', camera: 'wrist', filters: 6, strides: [2, 1], features: 12, pad: 0 }, hidden: [32], epochs: 25, batchSize: 32, lr: 3e-3, seed: 4, kernels, minPrecision: 0.8 });
    const pr = precisionRecall(clf.probabilities(test.obs), test.labels, clf.threshold);
    expect(pr.positives).toBeGreaterThan(10);
    expect(pr.precision).toBeGreaterThan(0.8);
    expect(pr.recall).toBeGreaterThan(0.7);
    const blind = RewardClassifier.train(train, held, { encoder: { kind: 'state' }, hidden: [32], epochs: 25, batchSize: 32, lr: 3e-3, seed: 4, kernels, minPrecision: 0.8 });
    const prBlind = precisionRecall(blind.probabilities(test.obs), test.labels, blind.threshold);
    expect(prBlind.precision * prBlind.recall).toBeLessThan(0.3);
    const path = join(dir, 'clf.bin');
    clf.save(path);
    const back = RewardClassifier.load(path);
    expect(Array.from(back.probabilities(test.obs.slice(0, 20)))).toEqual(Array.from(clf.probabilities(test.obs.slice(0, 20))));
    expect(() => clf.probability({ state: Float32Array.of(0, 0), wrist: new Uint8Array(10) })).toThrow(/need a "wrist" frame of 12×12×1 bytes/);
    // A header that asks for an encoder far larger than the weights the file holds is corrupt,
    // said so before anything is allocated (a crafted 90 KB file once asked for ~4 GB).
    const file = readBinaryFile(path, 'RRLCLF01');
    const { sectionBytes: _sizes, ...header } = file.header;
    const image = header['image'] as { spec: Record<string, unknown> };
    const crafted = join(dir, 'crafted.bin');
    writeFileAtomic(crafted, encodeBinary('RRLCLF01', { ...header, image: { ...image, spec: { ...image.spec, height: 1024, width: 1024, strides: [1], features: 64 } } }, file.sections));
    expect(() => RewardClassifier.load(crafted)).toThrow(CorruptFileError);
    expect(() => RewardClassifier.load(crafted)).toThrow(/crafted\.bin: its image encoder \(1024×1024×1, 6 filters\) needs \d+ weights, the file holds \d+/);
  }, 60_000);

  it('scores a large set in chunks: the same probabilities, and memory bounded by a chunk, not the set (review)', async () => {
    // 64×64 RGB frames through the default encoder: ~380 KB of patches a frame, so one pass over
    // 700 frames would grow the SIMD module's memory past 250 MB (it never shrinks).
    const rng = new Rng(8);
    const frame = (): DictObservation => ({ state: Float32Array.of(rng.normal()), front: Uint8Array.from({ length: 64 * 64 * 3 }, () => rng.int(256)) });
    const set = (n: number) => ({ obs: Array.from({ length: n }, frame), labels: Array.from({ length: n }, (_v, i) => i % 2), episode: Array.from({ length: n }, (_v, i) => i >> 2) });
    let kernels: Kernels;
    try {
      kernels = await loadBlasKernels({ threads: 1 });
    } catch {
      kernels = new JsKernels();
    }
    const clf = RewardClassifier.train(set(16), set(8), { encoder: { kind: 'conv', camera: 'front' }, hidden: [8], epochs: 1, batchSize: 8, seed: 1, kernels });
    const obs = set(700).obs;
    const all = clf.probabilities(obs);
    expect(all).toHaveLength(700);
    expect(SCORE_CHUNK).toBeLessThan(700);
    // Rows are scored independently: a chunk alone gives the same numbers.
    expect(Array.from(clf.probabilities(obs.slice(SCORE_CHUNK, 2 * SCORE_CHUNK)))).toEqual(Array.from(all.subarray(SCORE_CHUNK, 2 * SCORE_CHUNK)));
    const simd = simdElementwise();
    if (simd) expect(simd.memoryBytes).toBeLessThan(160 * 2 ** 20);
  }, 120_000);
});
