import { describe, expect, it } from 'vitest';
import type { DictObservation } from '../../control/spaces.js';
import type { Transition } from '../../control/transition.js';
import { packFrameTransitions, unpackFrameTransitions } from './frame-packing.js';
import { CorruptBatchError } from './packing.js';

const cameras = [{ name: 'front', height: 8, width: 8, channels: 3 }, { name: 'wrist', height: 4, width: 4, channels: 1 }];
const obs = (k: number): DictObservation => ({ state: Float32Array.of(k, k / 2), front: new Uint8Array(192).fill(k), wrist: new Uint8Array(16).fill(255 - k) });

/** Two episodes of 5 steps: observation k+1 follows k, a new episode starts fresh. */
function steps(): Transition<DictObservation>[] {
  const out: Transition<DictObservation>[] = [];
  for (const start of [0, 10]) {
    let o = obs(start);
    for (let k = 0; k < 5; k++) {
      const next = obs(start + k + 1);
      out.push({ obs: o, action: Float32Array.of(k), reward: k, costs: new Float32Array(0), nextObs: next, terminated: k === 4, truncated: false });
      o = next;
    }
  }
  return out;
}

describe('frame transition batches (distributed, issue 23)', () => {
  const meta = { actorId: 'a1', episodeId: 3, policyVersion: 7, seq: 2, epoch: 1 };
  const dims = { obsDim: 2, actDim: 1, costDim: 0, cameras };

  it('round-trips states, frames and flags, each frame set sent once (12 for 10 steps, not 20)', () => {
    const bytes = packFrameTransitions(meta, dims, steps());
    const back = unpackFrameTransitions(bytes);
    expect(back.cameras).toEqual(cameras);
    expect(back.transitions).toHaveLength(10);
    steps().forEach((t, i) => {
      const b = back.transitions[i]!;
      expect(Array.from(b.obs.state)).toEqual(Array.from(t.obs.state));
      expect(Array.from(b.nextObs.front as Uint8Array)).toEqual(Array.from(t.nextObs.front as Uint8Array));
      expect(Array.from(b.obs.wrist as Uint8Array)).toEqual(Array.from(t.obs.wrist as Uint8Array));
      expect(b.terminated).toBe(t.terminated);
    });
    const frameSet = 192 + 16;
    expect(bytes.length).toBeLessThan(13 * frameSet + 1000);
    expect(bytes.length).toBeGreaterThan(12 * frameSet);
  });

  it('refuses a truncated batch, a frame index out of range and a malformed camera layout', () => {
    const bytes = packFrameTransitions(meta, dims, steps());
    expect(() => unpackFrameTransitions(bytes.subarray(0, bytes.length - 1))).toThrow(CorruptBatchError);
    expect(() => unpackFrameTransitions(bytes.subarray(0, bytes.length - 1))).toThrow(/bytes of frames, expected 12 frame sets of 208/);
    const bad = Uint8Array.from(bytes);
    const view = new DataView(bad.buffer);
    // The first index sits right after the frame-set count, just before the frames.
    const framesAt = bad.length - 12 * 208;
    view.setUint32(framesAt - 80, 99, true);
    expect(() => unpackFrameTransitions(bad)).toThrow(/transition 0 obs names frame set 99 of 12/);
    expect(() => packFrameTransitions(meta, dims, [{ ...steps()[0]!, obs: { ...obs(0), wrist: new Uint8Array(3) } }])).toThrow(/obs.wrist must be a Uint8Array of 16 bytes/);
  });
});
