import type { EpisodeSummary } from '../../control/env.js';
import type { DictObservation } from '../../control/spaces.js';
import type { Transition } from '../../control/transition.js';
import type { CameraShape } from '../replay.js';
import { CorruptBatchError, packTransitions, unpackTransitions, type BatchMeta, type TransitionBatch } from './packing.js';

const MAGIC = 0x31465252; // "RRF1" little-endian

/** A transition batch with camera frames (issue 23). */
export interface FrameTransitionBatch extends Omit<TransitionBatch, 'transitions'> {
  readonly cameras: CameraShape[];
  readonly transitions: Transition<DictObservation>[];
}

/**
 * Packs transitions with dict observations: the state part exactly as {@link packTransitions}
 * (an RRT2 frame inside), the camera layout as JSON, then each distinct frame set once — a
 * transition's next observation is usually the next one's observation, so a batch of n steps of
 * one episode carries n + 1 frame sets, not 2n — and per transition the indices of its two.
 *
 *   "RRF1" | u32 RRT2 length | RRT2 | u32 JSON length | cameras JSON | pad to 4 |
 *   u32 frame sets m | u32 index × 2n | m × (camera 0 bytes, camera 1 bytes, …)
 */
export function packFrameTransitions(meta: BatchMeta, dims: { obsDim: number; actDim: number; costDim: number; cameras: readonly CameraShape[] }, transitions: readonly Transition<DictObservation>[], episodes: readonly EpisodeSummary[] = []): Uint8Array {
  const { cameras } = dims;
  if (!cameras.length) throw new RangeError('packFrameTransitions: no cameras (use packTransitions)');
  const frameOf = (o: DictObservation, what: string): Uint8Array[] =>
    cameras.map((c) => {
      const f = o[c.name];
      const n = c.height * c.width * c.channels;
      if (!(f instanceof Uint8Array) || f.length !== n) throw new RangeError(`transition ${what}.${c.name} must be a Uint8Array of ${n} bytes`);
      return f;
    });
  const sets: Uint8Array[][] = [];
  const index = new Uint32Array(2 * transitions.length);
  const same = (a: Uint8Array[], b: Uint8Array[]): boolean => a.every((f, c) => f === b[c] || (f.length === (b[c] as Uint8Array).length && f.every((v, i) => v === (b[c] as Uint8Array)[i])));
  const add = (frames: Uint8Array[]): number => {
    const last = sets[sets.length - 1];
    if (last && same(last, frames)) return sets.length - 1;
    sets.push(frames);
    return sets.length - 1;
  };
  transitions.forEach((t, i) => {
    index[2 * i] = add(frameOf(t.obs, 'obs'));
    index[2 * i + 1] = add(frameOf(t.nextObs, 'nextObs'));
  });
  const inner = packTransitions(meta, dims, transitions.map((t) => ({ ...t, obs: t.obs.state, nextObs: t.nextObs.state })), episodes);
  const json = new TextEncoder().encode(JSON.stringify(cameras.map((c) => ({ name: c.name, height: c.height, width: c.width, channels: c.channels }))));
  const setBytes = cameras.reduce((a, c) => a + c.height * c.width * c.channels, 0);
  const head = 8 + inner.length + 4 + json.length;
  const pad = (4 - (head % 4)) % 4;
  const out = new Uint8Array(head + pad + 4 + 4 * index.length + sets.length * setBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, inner.length, true);
  out.set(inner, 8);
  view.setUint32(8 + inner.length, json.length, true);
  out.set(json, 12 + inner.length);
  let o = head + pad;
  view.setUint32(o, sets.length, true);
  o += 4;
  index.forEach((v, i) => view.setUint32(o + 4 * i, v, true));
  o += 4 * index.length;
  for (const s of sets) for (const f of s) (out.set(f, o), (o += f.length));
  return out;
}

/** Unpacks {@link packFrameTransitions}' bytes; anything malformed throws {@link CorruptBatchError} naming what. */
export function unpackFrameTransitions(bytes: Uint8Array): FrameTransitionBatch {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || view.getUint32(0, true) !== MAGIC) throw new CorruptBatchError('not a frame transition batch (bad magic)');
  const innerLength = view.getUint32(4, true);
  if (8 + innerLength + 4 > bytes.length) throw new CorruptBatchError(`frame transition batch: its state part (${innerLength} bytes) runs past the end`);
  const batch = unpackTransitions(bytes.subarray(8, 8 + innerLength));
  const jsonLength = view.getUint32(8 + innerLength, true);
  const head = 12 + innerLength + jsonLength;
  if (head > bytes.length) throw new CorruptBatchError('frame transition batch: camera layout runs past the end');
  const cameras = parseCameras(new TextDecoder().decode(bytes.subarray(12 + innerLength, head)));
  let o = head + ((4 - (head % 4)) % 4);
  const n = batch.transitions.length;
  if (o + 4 + 8 * n > bytes.length) throw new CorruptBatchError('frame transition batch: frame indices run past the end');
  const m = view.getUint32(o, true);
  o += 4;
  const setBytes = cameras.reduce((a, c) => a + c.height * c.width * c.channels, 0);
  const framesAt = o + 8 * n;
  if (bytes.length !== framesAt + m * setBytes) throw new CorruptBatchError(`frame transition batch from ${batch.actorId} (seq ${batch.seq}): ${bytes.length - framesAt} bytes of frames, expected ${m} frame sets of ${setBytes}`);
  const frames = bytes.slice(framesAt);
  const setAt = (k: number, what: string): Record<string, Uint8Array> => {
    if (!(k < m)) throw new CorruptBatchError(`frame transition batch from ${batch.actorId} (seq ${batch.seq}): ${what} names frame set ${k} of ${m}`);
    let off = k * setBytes;
    return Object.fromEntries(
      cameras.map((c) => {
        const size = c.height * c.width * c.channels;
        const f = frames.subarray(off, off + size);
        off += size;
        return [c.name, f];
      }),
    );
  };
  const transitions = batch.transitions.map((t, i) => ({
    ...t,
    obs: { ...setAt(view.getUint32(o + 8 * i, true), `transition ${i} obs`), state: t.obs },
    nextObs: { ...setAt(view.getUint32(o + 8 * i + 4, true), `transition ${i} nextObs`), state: t.nextObs },
  }));
  return { ...batch, cameras, transitions };
}

function parseCameras(text: string): CameraShape[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CorruptBatchError('frame transition batch: camera layout is not JSON');
  }
  if (!Array.isArray(v) || v.length === 0) throw new CorruptBatchError('frame transition batch: no cameras');
  return v.map((c: unknown, i) => {
    const m = typeof c === 'object' && c !== null ? new Map(Object.entries(c)) : new Map<string, unknown>();
    const name = m.get('name');
    const dims = ['height', 'width', 'channels'].map((k) => m.get(k));
    if (typeof name !== 'string' || name === 'state' || !dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 4096)) throw new CorruptBatchError(`frame transition batch: camera ${i} is malformed`);
    return { name, height: Number(dims[0]), width: Number(dims[1]), channels: Number(dims[2]) };
  });
}
