import { describe, expect, it } from 'vitest';
import type { Transition } from '../../control/transition.js';
import { CorruptBatchError, packTransitions, unpackTransitions } from './packing.js';

const t = (i: number, end: 'terminated' | 'truncated' | null = null, intervened = false): Transition => ({
  obs: Float32Array.of(i, i + 0.5),
  action: Float32Array.of(-i),
  reward: i / 10,
  costs: Float32Array.of(i % 2),
  nextObs: Float32Array.of(i + 1, i + 1.5),
  terminated: end === 'terminated',
  truncated: end === 'truncated',
  intervened,
});

describe('transition batch packing', () => {
  const dims = { obsDim: 2, actDim: 1, costDim: 1 };
  it('round-trips every field, flags and the metadata; exact layout', () => {
    const batch = [t(0), t(1, null, true), t(2, 'terminated'), t(3, 'truncated')];
    const bytes = packTransitions({ actorId: 'a1', epoch: 9, episodeId: 7, policyVersion: 42, seq: 3 }, dims, batch);
    // Header 39 bytes (+1 pad), 4 × (2+1+1+1+2) floats, 4 flag bytes, then "[]" with its length.
    expect(bytes.length).toBe(40 + 4 * 4 * 7 + 4 + 4 + 2);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x52, 0x52, 0x54, 0x32]); // "RRT2"
    expect(Array.from(bytes.subarray(bytes.length - 10, bytes.length - 6))).toEqual([0, 4, 1, 2]);
    expect(new TextDecoder().decode(bytes.subarray(bytes.length - 2))).toBe('[]');
    const back = unpackTransitions(bytes);
    expect(back).toMatchObject({ actorId: 'a1', epoch: 9, episodeId: 7, policyVersion: 42, seq: 3, ...dims });
    expect(back.transitions.map((x) => [Array.from(x.obs), Array.from(x.action), x.reward, Array.from(x.costs), Array.from(x.nextObs), x.terminated, x.truncated, x.intervened])).toEqual(
      batch.map((x) => [Array.from(x.obs), Array.from(x.action), Math.fround(x.reward), Array.from(x.costs), Array.from(x.nextObs), x.terminated, x.truncated, x.intervened]),
    );
  });

  it('refuses corrupt frames with a clear error, and wrong-length transitions before packing', () => {
    const bytes = packTransitions({ actorId: 'a', episodeId: 0, policyVersion: 0, seq: 0 }, dims, [t(0), t(1)]);
    expect(() => unpackTransitions(bytes.subarray(0, 10))).toThrow(CorruptBatchError);
    expect(() => unpackTransitions(bytes.subarray(0, bytes.length - 1))).toThrow(/do not match its header/);
    const summaries = packTransitions({ actorId: 'a', episodeId: 0, policyVersion: 0, seq: 0 }, dims, [t(0)], [{ return: -3, length: 1, costs: {}, success: false, terminated: true, truncated: false }]);
    expect(unpackTransitions(summaries).episodes).toEqual([{ return: -3, length: 1, costs: {}, success: false, terminated: true, truncated: false }]);
    // Every field the learner reads is checked: a malformed summary is a corrupt batch (counted, skipped), never a throw inside the learner.
    const ok = { return: -3, length: 2, costs: { keep_out: 0.5 }, success: false, terminated: true, truncated: false };
    const malformed: [string, Record<string, unknown>][] = [
      ['linkLostSteps', { linkLostSteps: -1 }],
      ['linkLostSteps', { linkLostSteps: 1.5 }],
      ['linkLostSteps', { linkLostSteps: '2' }],
      ['linkLostSteps', { linkLostSteps: 3 }], // more than the episode's length
      ['costs', { costs: undefined }],
      ['costs', { costs: { keep_out: 'high' } }],
      ['length', { length: -2.5 }],
      ['success', { success: 'yes' }],
      ['human', { human: { steps: 1 } }],
      ['safety', { safety: { interventions: 1, interventionRate: 0.5, hits: { rate: -1 } } }],
    ];
    for (const [field, change] of malformed) {
      const wrong = packTransitions({ actorId: 'a', episodeId: 0, policyVersion: 0, seq: 0 }, dims, [t(0)], [{ ...ok, ...change } as never]);
      expect(() => unpackTransitions(wrong), field).toThrow(new RegExp(`malformed episode summaries \\(.*${field}`));
    }
    // JSON's 1e400 parses to Infinity: refused like any non-finite number.
    const text = packTransitions({ actorId: 'a', episodeId: 0, policyVersion: 0, seq: 0 }, dims, [t(0)], [{ ...ok, costs: { keep_out: 12345 } }]);
    const huge = text.slice();
    const at = Buffer.from(huge).lastIndexOf('12345');
    expect(at).toBeGreaterThan(0);
    huge.set(new TextEncoder().encode('1e400'), at);
    expect(() => unpackTransitions(huge)).toThrow(/costs/);
    expect(unpackTransitions(packTransitions({ actorId: 'a', episodeId: 0, policyVersion: 0, seq: 0 }, dims, [t(0)], [{ ...ok, linkLostSteps: 2, human: { steps: 1, takeovers: 1, rate: 0.5 } }])).episodes).toHaveLength(1);
    summaries[summaries.length - 2] = 0x7b; // JSON broken
    expect(() => unpackTransitions(summaries)).toThrow(/episode summaries/);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => unpackTransitions(bad)).toThrow(/bad magic/);
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(40, Number.NaN, true); // the first float, after the 39-byte header and its pad
    expect(() => unpackTransitions(nan)).toThrow(/non-finite/);
    expect(() => packTransitions({ actorId: 'a', episodeId: 0, policyVersion: 0, seq: 0 }, dims, [{ ...t(0), obs: Float32Array.of(1) }])).toThrow(/obs has length 1, expected 2/);
  });

  it('unpacks from an unaligned view (a Redis reply buffer)', () => {
    const bytes = packTransitions({ actorId: 'abc', episodeId: 1, policyVersion: 2, seq: 9 }, dims, [t(5)]);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(unpackTransitions(big.subarray(3)).transitions[0]?.reward).toBeCloseTo(0.5);
  });
});
