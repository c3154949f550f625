import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { CorruptFileError, encodeBinary } from './binary-file.js';
import { allocBatch, ReplayBuffer, type ReplaySpec } from './replay.js';

const spec: ReplaySpec = { capacity: 5, obsDim: 1, actDim: 1, costDim: 1 };

/** Transition t: obs = t, next = t + 1, reward = 10 + t, cost = t. */
function add(buf: ReplayBuffer, t: number, flags: { terminated?: boolean; truncated?: boolean } = {}): void {
  buf.add({ obs: Float32Array.of(t), action: Float32Array.of(-t), reward: 10 + t, costs: Float32Array.of(t), nextObs: Float32Array.of(t + 1), terminated: flags.terminated ?? false, truncated: flags.truncated ?? false });
}

function row(buf: ReplayBuffer, start: number, gamma: number, n: number): { obs: number; reward: number; discount: number; next: number; cost: number } {
  const b = allocBatch(buf.spec, 1);
  buf.writeRow(b, 0, start, gamma, n);
  return { obs: b.obs[0]!, reward: b.reward[0]!, discount: b.discount[0]!, next: b.nextObs[0]!, cost: b.costs[0]! };
}

describe('ReplayBuffer', () => {
  it('wraps around, keeping the newest `capacity` transitions in order', () => {
    const buf = new ReplayBuffer(spec);
    for (let t = 0; t < 8; t++) add(buf, t);
    expect(buf.size).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => row(buf, i, 0.9, 1).obs)).toEqual([3, 4, 5, 6, 7]);
  });

  it('1-step: discount γ, or 0 on a terminal transition; truncation still bootstraps', () => {
    const buf = new ReplayBuffer(spec);
    add(buf, 0);
    add(buf, 1, { terminated: true });
    add(buf, 2, { truncated: true });
    expect(row(buf, 0, 0.9, 1)).toMatchObject({ reward: 10, discount: expect.closeTo(0.9, 6), next: 1 });
    expect(row(buf, 1, 0.9, 1)).toMatchObject({ reward: 11, discount: 0 });
    expect(row(buf, 2, 0.9, 1)).toMatchObject({ reward: 12, discount: expect.closeTo(0.9, 6), next: 3 });
  });

  it('n-step: sums discounted rewards and costs, stops at episode ends and at the newest transition', () => {
    const buf = new ReplayBuffer({ ...spec, capacity: 10 });
    add(buf, 0);
    add(buf, 1);
    add(buf, 2, { terminated: true }); // episode A ends
    add(buf, 3);
    add(buf, 4, { truncated: true }); // episode B truncated
    add(buf, 5);
    add(buf, 6);
    const g = 0.5;
    // Full 3 steps inside episode A ends on the terminal: no bootstrap.
    expect(row(buf, 0, g, 3)).toMatchObject({ obs: 0, reward: 10 + g * 11 + g * g * 12, discount: 0, next: 3 });
    expect(row(buf, 0, g, 3).cost).toBeCloseTo(0 + g * 1 + g * g * 2, 6);
    // Cut at the terminal after 2 steps.
    expect(row(buf, 1, g, 3)).toMatchObject({ reward: 11 + g * 12, discount: 0 });
    // Cut at the truncation after 2 steps: bootstrap with γ².
    expect(row(buf, 3, g, 3)).toMatchObject({ reward: 13 + g * 14, discount: g * g, next: 5 });
    // Cut at the newest transition (index 6) after 2 steps: bootstrap from its next obs.
    expect(row(buf, 5, g, 3)).toMatchObject({ reward: 15 + g * 16, discount: g * g, next: 7 });
  });

  it('n-step windows respect the ring boundary after wraparound', () => {
    const buf = new ReplayBuffer({ ...spec, capacity: 4 });
    for (let t = 0; t < 6; t++) add(buf, t); // holds 2, 3, 4, 5; index 2 sits at ring slot 0
    expect(row(buf, 0, 1, 3)).toMatchObject({ obs: 2, reward: 12 + 13 + 14, next: 5 });
    expect(row(buf, 3, 1, 3)).toMatchObject({ obs: 5, reward: 15, next: 6 });
  });

  it('samples uniformly over the stored transitions', () => {
    const buf = new ReplayBuffer({ ...spec, capacity: 4 });
    for (let t = 0; t < 4; t++) add(buf, t);
    const b = allocBatch(buf.spec, 4000);
    buf.sampleInto(b, 0, 4000, new Rng(1), 0.9, 1);
    const counts = [0, 0, 0, 0];
    b.obs.forEach((o) => counts[o]!++);
    counts.forEach((c) => expect(Math.abs(c - 1000)).toBeLessThan(120));
  });

  it('rejects malformed transitions without storing them', () => {
    const buf = new ReplayBuffer(spec);
    expect(() => buf.add({ obs: Float32Array.of(Number.NaN), action: Float32Array.of(0), reward: 0, costs: Float32Array.of(0), nextObs: Float32Array.of(0), terminated: false, truncated: false })).toThrow(/obs\[0\] is NaN/);
    expect(() => buf.add({ obs: Float32Array.of(0), action: Float32Array.of(0, 1), reward: 0, costs: Float32Array.of(0), nextObs: Float32Array.of(0), terminated: false, truncated: false })).toThrow(/action must be a Float32Array of length 1/);
    expect(() => buf.add({ obs: Float32Array.of(0), action: Float32Array.of(0), reward: Infinity, costs: Float32Array.of(0), nextObs: Float32Array.of(0), terminated: false, truncated: false })).toThrow(/reward is Infinity/);
    expect(buf.size).toBe(0);
  });

  it('saves and loads exactly; refuses corrupt, truncated and mismatched files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-replay-'));
    const path = join(dir, 'r.bin');
    const buf = new ReplayBuffer({ ...spec, capacity: 4 });
    for (let t = 0; t < 6; t++) add(buf, t, { terminated: t === 4 });
    buf.save(path);
    const back = ReplayBuffer.load(path);
    expect(back.size).toBe(4);
    for (let i = 0; i < 4; i++) expect(row(back, i, 0.9, 2)).toEqual(row(buf, i, 0.9, 2));

    const bytes = readFileSync(path);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 0x40;
    writeFileSync(path, flipped);
    expect(() => ReplayBuffer.load(path)).toThrow(CorruptFileError);
    expect(() => ReplayBuffer.load(path)).toThrow(/checksum mismatch/);
    writeFileSync(path, bytes.subarray(0, bytes.length - 7));
    expect(() => ReplayBuffer.load(path)).toThrow(/corrupt or truncated/);
    writeFileSync(path, Buffer.from('not a replay table at all'));
    expect(() => ReplayBuffer.load(path)).toThrow(/not a RRLREPL1 file/);
    writeFileSync(path, bytes);
    expect(() => ReplayBuffer.load(path, { obsDim: 3, actDim: 1, costDim: 1 })).toThrow(/expected obs 3/);
  });

  it('resizes keeping the newest transitions in order', () => {
    const buf = new ReplayBuffer({ ...spec, capacity: 4 });
    for (let t = 0; t < 6; t++) add(buf, t, { terminated: t === 3 });
    const bigger = buf.resized(10);
    expect(bigger.size).toBe(4);
    for (let i = 0; i < 4; i++) expect(row(bigger, i, 0.9, 2)).toEqual(row(buf, i, 0.9, 2));
    const smaller = buf.resized(2);
    expect([0, 1].map((i) => row(smaller, i, 0.9, 1).obs)).toEqual([4, 5]);
  });

  it('knows its byte size up front', () => {
    expect(ReplayBuffer.byteSize({ capacity: 1000, obsDim: 17, actDim: 6, costDim: 2 })).toBe(1000 * (4 * (34 + 6 + 1 + 2) + 1));
  });

  it('keeps where a table came from (env id, observation names) through save and load, and checks it as data', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-replay-src-'));
    const table = new ReplayBuffer({ capacity: 4, obsDim: 2, actDim: 1, costDim: 0 });
    table.add({ obs: Float32Array.of(1, 2), action: Float32Array.of(0.5), reward: 1, costs: new Float32Array(0), nextObs: Float32Array.of(3, 4), terminated: false, truncated: false });
    const unlabelled = join(dir, 'old.demos');
    table.save(unlabelled);
    expect(ReplayBuffer.load(unlabelled).source).toBeUndefined();
    table.source = { env: 'PandaPush-v1', observationNames: ['a <b>', 'c'] };
    const labelled = join(dir, 'new.demos');
    table.save(labelled);
    expect(ReplayBuffer.load(labelled).source).toEqual({ env: 'PandaPush-v1', observationNames: ['a <b>', 'c'] });
    // A header whose source is not a string id with string names is a corrupt file, not a crash later.
    for (const bad of [{ env: 5 }, { env: 'x', observationNames: 'ab' }, { env: 'x', observationNames: [1] }, ['x'], 'PandaPush-v1']) {
      const { header, sections } = table.state();
      const path = join(dir, 'bad.demos');
      writeFileSync(path, encodeBinary('RRLREPL1', { ...header, source: bad }, sections));
      expect(() => ReplayBuffer.load(path)).toThrow(/header's `source` is not an env id/);
    }
  });
});
