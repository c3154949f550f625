import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import type { DictObservation } from '../control/spaces.js';
import { decodeBinary, encodeBinary } from './binary-file.js';
import { FrameReplay, type FrameReplaySpec } from './frame-replay.js';
import { allocBatch, ReplayBuffer } from './replay.js';

const dir = mkdtempSync(join(tmpdir(), 'frame-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SPEC: FrameReplaySpec = { capacity: 50, obsDim: 2, actDim: 1, costDim: 1, cameras: [{ name: 'front', height: 4, width: 3, channels: 3 }, { name: 'wrist', height: 2, width: 2, channels: 1 }] };

/** Observation number `n`: its state and every byte of its frames encode n. */
function obs(n: number): DictObservation {
  return { state: Float32Array.of(n, -n), front: new Uint8Array(36).fill(n % 256), wrist: new Uint8Array(4).fill((n * 7) % 256) };
}

/** Episodes of `len` steps; observation ids run on across episodes, each episode's last next-obs has its own id. */
function fill(r: FrameReplay, episodes: number, len: number, terminated = true): void {
  let id = 1;
  for (let e = 0; e < episodes; e++) {
    for (let k = 0; k < len; k++) {
      const last = k === len - 1;
      r.add({ obs: obs(id), action: Float32Array.of(id), reward: id, costs: Float32Array.of(0.5), nextObs: obs(id + 1), terminated: last && terminated, truncated: last && !terminated });
      id++;
    }
    id++; // a new episode starts from a fresh observation
  }
}

describe('frame replay (image observations)', () => {
  it('stores each frame once: every sampled next observation is the following step\'s observation, the final one its own slot', () => {
    const r = new FrameReplay(SPEC);
    fill(r, 3, 5);
    // 3 episodes × (5 transitions + 1 first obs + the 5 next obs) = 3 × 6 slots.
    expect(r.size).toBe(15);
    expect(r.bytesPerTransition()).toBeCloseTo((FrameReplay.byteSize(SPEC) * 18) / 50 / 15, 6);
    const batch = allocBatch(SPEC, 64);
    r.sampleInto(batch, 0, 64, new Rng(1), 0.9, 1);
    for (let row = 0; row < 64; row++) {
      const id = batch.action[row]!;
      expect(batch.obs[2 * row]).toBe(id);
      expect(batch.nextObs[2 * row]).toBe(id + 1);
      expect(batch.frames![0]![36 * row]).toBe(id % 256);
      expect(batch.nextFrames![0]![36 * row + 35]).toBe((id + 1) % 256);
      expect(batch.nextFrames![1]![4 * row]).toBe(((id + 1) * 7) % 256);
      expect(batch.reward[row]).toBe(id);
      // Terminal steps (ids 5, 11, 17) do not bootstrap.
      expect(batch.discount[row]).toBeCloseTo([5, 11, 17].includes(id) ? 0 : 0.9, 6);
    }
  });

  it('gives back its episodes with their frames (what demo tables feed the reward classifier)', () => {
    const r = new FrameReplay(SPEC);
    fill(r, 2, 3);
    const eps = [...r.episodes()];
    expect(eps.map((e) => e.map((t) => t.obs.state[0]))).toEqual([[1, 2, 3], [5, 6, 7]]);
    expect(eps[1]!.map((t) => (t.nextObs.front as Uint8Array)[0])).toEqual([6, 7, 8]);
    expect(eps.map((e) => e.at(-1)!.terminated)).toEqual([true, true]);
  });

  it('memory per transition is about one frame set (1 + 1/episode length), not two', () => {
    const cams = [{ name: 'front', height: 64, width: 64, channels: 3 }];
    const spec: FrameReplaySpec = { capacity: 1010, obsDim: 17, actDim: 6, costDim: 0, cameras: cams };
    const r = new FrameReplay(spec);
    const frame = new Uint8Array(64 * 64 * 3);
    const state = new Float32Array(17);
    const step = (k: number): DictObservation => ({ state: state.map((_, i) => k + i), front: frame });
    for (let e = 0; e < 20; e++) for (let k = 0; k < 100; k++) r.add({ obs: step(k), action: new Float32Array(6), reward: 0, costs: new Float32Array(0), nextObs: step(k + 1), terminated: false, truncated: k === 99 });
    const naive = 2 * 64 * 64 * 3 + 4 * (2 * 17 + 6 + 1) + 1; // obs and next obs each with a frame
    const perTransition = r.bytesPerTransition();
    // 12,385 B per slot × 101 slots per 100-step episode.
    expect(perTransition).toBeCloseTo(((64 * 64 * 3 + 4 * (17 + 6 + 1) + 1) * 101) / 100, 0);
    expect(perTransition / naive).toBeLessThan(0.51);
  });

  it('n-step sums stop at the episode end, and a full table overwrites whole oldest slots', () => {
    const r = new FrameReplay({ ...SPEC, capacity: 7 });
    fill(r, 3, 3, false); // 12 slots into 7: the first episode and the first slot of the second are gone
    const batch = allocBatch(SPEC, 40);
    r.sampleInto(batch, 0, 40, new Rng(2), 0.5, 3);
    const ids = new Set<number>();
    for (let row = 0; row < 40; row++) {
      const id = batch.action[row]!;
      ids.add(id);
      const inEpisode = (id - 1) % 4; // steps 0..2 of an episode; ids 4, 8, … are final observations
      const steps = 3 - inEpisode;
      let sum = 0;
      for (let k = 0; k < steps; k++) sum += 0.5 ** k * (id + k);
      expect(batch.reward[row]).toBeCloseTo(sum, 5);
      expect(batch.nextObs[2 * row]).toBe(id + steps);
      // Truncated: bootstraps with γ^steps.
      expect(batch.discount[row]).toBeCloseTo(0.5 ** steps, 6);
    }
    expect([...ids].sort((a, b) => a - b)).toEqual([6, 7, 9, 10, 11]);
    expect(r.size).toBe(5);
  });

  it('refuses a malformed observation before writing anything', () => {
    const r = new FrameReplay(SPEC);
    const good = obs(1);
    const base = { action: Float32Array.of(0), reward: 0, costs: Float32Array.of(0), terminated: false, truncated: false };
    expect(() => r.add({ ...base, obs: { ...good, front: new Uint8Array(35) }, nextObs: good })).toThrow(/obs.front must be a Uint8Array of 4×3×3 = 36 bytes, got 35 bytes/);
    expect(() => r.add({ ...base, obs: good, nextObs: { state: good.state, front: new Uint8Array(36) } })).toThrow(/nextObs.wrist must be a Uint8Array/);
    expect(() => r.add({ ...base, obs: { ...good, state: Float32Array.of(1, NaN) }, nextObs: good })).toThrow(/obs.state\[1\] is NaN/);
    expect(r.size).toBe(0);
  });

  it('saves and loads (same samples); a corrupt frame or a frame section of the wrong size is refused naming what is wrong', () => {
    const r = new FrameReplay(SPEC);
    fill(r, 2, 4);
    const path = join(dir, 'frames.bin');
    r.save(path);
    const back = FrameReplay.load(path, SPEC);
    const [a, b] = [allocBatch(SPEC, 16), allocBatch(SPEC, 16)];
    r.sampleInto(a, 0, 16, new Rng(3), 0.9, 2);
    back.sampleInto(b, 0, 16, new Rng(3), 0.9, 2);
    expect(b).toEqual(a);
    const bytes = readFileSync(path);
    // One flipped byte inside the wrist frames (the last section).
    const corrupt = Uint8Array.from(bytes);
    corrupt[corrupt.length - 10] = (corrupt[corrupt.length - 10] as number) ^ 0x40;
    writeFileSync(join(dir, 'flip.bin'), corrupt);
    expect(() => FrameReplay.load(join(dir, 'flip.bin'))).toThrow(/checksum mismatch .*corrupt or truncated/);
    // A well-formed file whose wrist frames are short.
    const file = decodeBinary('RRLFRAM1', bytes, 'x');
    const sections = [...file.sections.slice(0, 6), file.sections[6]!.subarray(1)];
    writeFileSync(join(dir, 'short.bin'), encodeBinary('RRLFRAM1', file.header, sections));
    expect(() => FrameReplay.load(join(dir, 'short.bin'))).toThrow(/frames of camera "wrist": 199 bytes, expected 200/);
    // Another camera layout is refused, naming both.
    expect(() => FrameReplay.load(path, { ...SPEC, cameras: [SPEC.cameras[0]!] })).toThrow(/cameras front 4×3×3, wrist 2×2×1; expected .*cameras front 4×3×3$/);
    // A state replay file is not a frame replay (and still loads as what it is).
    const plain = new ReplayBuffer({ capacity: 4, obsDim: 2, actDim: 1, costDim: 0 });
    plain.save(join(dir, 'plain.bin'));
    expect(() => FrameReplay.load(join(dir, 'plain.bin'))).toThrow(/not a RRLFRAM1 file/);
    expect(ReplayBuffer.load(join(dir, 'plain.bin')).size).toBe(0);
  });

  it('a demo table keeps its label (task, state entry names) through save and load; a malformed label is refused as corrupt', () => {
    const r = new FrameReplay(SPEC);
    fill(r, 1, 3);
    expect(FrameReplay.decode(r.exportState().header, r.exportState().sections.map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)), 'x').source).toBeUndefined();
    r.source = { env: 'PandaReach-v0', observationNames: ['q1', 'q2'] };
    const path = join(dir, 'labelled.bin');
    r.save(path);
    expect(FrameReplay.load(path, SPEC).source).toEqual({ env: 'PandaReach-v0', observationNames: ['q1', 'q2'] });
    const file = decodeBinary('RRLFRAM1', readFileSync(path), 'x');
    for (const bad of [{ env: 7 }, { env: 'PandaReach-v0', observationNames: 'q1' }, { env: 'PandaReach-v0', observationNames: [1] }, '<script>alert(1)</script>', null]) {
      writeFileSync(join(dir, 'bad-label.bin'), encodeBinary('RRLFRAM1', { ...file.header, source: bad }, file.sections));
      expect(() => FrameReplay.load(join(dir, 'bad-label.bin'))).toThrow(/bad-label\.bin: the header's `source` is not an env id with observation names/);
    }
  });
});
