import type { Rng } from './rng.js';

/**
 * A box in R^n: every element i lies in [low[i], high[i]]. Bounds may be ±Infinity
 * (unbounded observation dimensions); action boxes used by learners must be finite.
 */
export interface Box {
  readonly kind: 'box';
  readonly low: Float32Array;
  readonly high: Float32Array;
  /** Tensor shape; its product equals `low.length`. Flat vectors have shape `[n]`. */
  readonly shape: readonly number[];
}

/**
 * A finite set {0, …, n−1}. A discrete action travels as a Float32Array of length 1 holding
 * the index, so every env keeps the same `step(Float32Array)` signature.
 */
export interface Discrete {
  readonly kind: 'discrete';
  readonly n: number;
}

export type Space = Box | Discrete;

/** Builds a Box; scalar bounds are broadcast to `shape`. Throws on inverted or NaN bounds. */
export function box(low: ArrayLike<number> | number, high: ArrayLike<number> | number, shape?: readonly number[]): Box {
  const n = shape ? shape.reduce((a, b) => a * b, 1) : typeof low === 'number' ? (typeof high === 'number' ? 1 : high.length) : low.length;
  const lo = broadcast(low, n, 'low');
  const hi = broadcast(high, n, 'high');
  for (let i = 0; i < n; i++) {
    const l = lo[i] as number;
    const h = hi[i] as number;
    if (Number.isNaN(l) || Number.isNaN(h) || l > h) {
      throw new RangeError(`Invalid Box bounds at index ${i}: low=${l}, high=${h}`);
    }
  }
  return { kind: 'box', low: lo, high: hi, shape: shape ? [...shape] : [n] };
}

export function discrete(n: number): Discrete {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Expected \`n\` to be a positive integer, got \`${n}\``);
  return { kind: 'discrete', n };
}

function broadcast(v: ArrayLike<number> | number, n: number, name: string): Float32Array {
  if (typeof v === 'number') return new Float32Array(n).fill(v);
  if (v.length !== n) throw new RangeError(`Expected \`${name}\` to have length ${n}, got ${v.length}`);
  return Float32Array.from(v);
}

/** Number of float elements a value of this space occupies (1 for Discrete). */
export function flatSize(space: Space): number {
  return space.kind === 'box' ? space.low.length : 1;
}

/** Whether `x` is a valid member of `space` (length, finiteness, bounds, integrality). */
export function contains(space: Space, x: Float32Array, tolerance = 0): boolean {
  if (space.kind === 'discrete') {
    const v = x[0];
    return x.length === 1 && v !== undefined && Number.isInteger(v) && v >= 0 && v < space.n;
  }
  if (x.length !== space.low.length) return false;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (Number.isNaN(v) || v < (space.low[i] as number) - tolerance || v > (space.high[i] as number) + tolerance) return false;
  }
  return true;
}

/**
 * A uniform sample. Unbounded box dimensions are sampled from a standard normal (as
 * Gymnasium does), half-bounded ones from an exponential off the finite bound.
 */
export function sample(space: Space, rng: Rng): Float32Array {
  if (space.kind === 'discrete') return Float32Array.of(rng.int(space.n));
  const out = new Float32Array(space.low.length);
  for (let i = 0; i < out.length; i++) {
    const lo = space.low[i] as number;
    const hi = space.high[i] as number;
    const loF = Number.isFinite(lo);
    const hiF = Number.isFinite(hi);
    if (loF && hiF) out[i] = rng.uniform(lo, hi);
    else if (loF) out[i] = lo - Math.log(1 - rng.random());
    else if (hiF) out[i] = hi + Math.log(1 - rng.random());
    else out[i] = rng.normal();
  }
  return out;
}

/** Whether every bound is finite (required of action boxes that get rescaled). */
export function isBounded(space: Box): boolean {
  for (let i = 0; i < space.low.length; i++) {
    if (!Number.isFinite(space.low[i] as number) || !Number.isFinite(space.high[i] as number)) return false;
  }
  return true;
}

/**
 * A camera image: `height × width × channels` bytes (uint8, row-major HWC, as cameras and
 * rasterisers deliver them). Channels: 1 (grey or depth), 3 (RGB), 4 (RGBA).
 */
export interface ImageSpace {
  readonly kind: 'image';
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/**
 * A dict observation space (issue 23), as SERL's `{state, wrist, front}`: a state vector and one
 * image per named camera. Camera order is the order of `cameras`' keys, everywhere (replay
 * sections, encoder features).
 */
export interface DictSpace {
  readonly kind: 'dict';
  readonly state: Box;
  readonly cameras: Readonly<Record<string, ImageSpace>>;
}

/** What an env may observe: a flat vector, or state + cameras. */
export type ObservationSpace = Box | DictSpace;

/** A member of a {@link DictSpace}: `state` and one frame per camera name. */
export interface DictObservation {
  readonly state: Float32Array;
  readonly [camera: string]: Float32Array | Uint8Array;
}

/** A flat vector or a dict observation. */
export type Observation = Float32Array | DictObservation;

/** Builds an image space; throws on a non-integer, zero or oversized dimension. */
export function image(height: number, width: number, channels = 3): ImageSpace {
  for (const [k, v, max] of [['height', height, 4096], ['width', width, 4096], ['channels', channels, 4]] as const) {
    if (!(Number.isInteger(v) && v >= 1 && v <= max)) throw new RangeError(`Expected image \`${k}\` to be an integer in 1..${max}, got \`${v}\``);
  }
  return { kind: 'image', height, width, channels };
}

const CAMERA_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Builds a dict space; camera names are identifiers (not `state`), at least one camera. */
export function dict(state: Box, cameras: Readonly<Record<string, ImageSpace>>): DictSpace {
  const names = Object.keys(cameras);
  if (names.length === 0) throw new RangeError('A dict observation space needs at least one camera (use a Box for state only)');
  for (const n of names) {
    if (n === 'state' || !CAMERA_NAME.test(n)) throw new RangeError(`Invalid camera name \`${n}\`: expected a letter then up to 63 letters, digits, _ or -, and not \`state\``);
    const c = cameras[n] as ImageSpace;
    image(c.height, c.width, c.channels);
  }
  return { kind: 'dict', state, cameras: { ...cameras } };
}

/** Bytes of one frame of `space`. */
export function frameSize(space: ImageSpace): number {
  return space.height * space.width * space.channels;
}

/** The cameras of a space in their canonical order, with their names (none for a Box). */
export function cameraList(space: ObservationSpace): (ImageSpace & { readonly name: string })[] {
  return space.kind === 'dict' ? Object.entries(space.cameras).map(([name, s]) => ({ ...s, name })) : [];
}

/** The state part of an observation space. */
export function stateSpace(space: ObservationSpace): Box {
  return space.kind === 'dict' ? space.state : space;
}

/** The state vector of an observation. */
export function stateOf(obs: Observation): Float32Array {
  return obs instanceof Float32Array ? obs : obs.state;
}

/**
 * Why `obs` is not a valid member of `space` — the entry, its shape or type, or a state value
 * out of bounds — or null when it is one. Frames must be Uint8Arrays of exactly H·W·C bytes
 * (uint8 holds only 0..255, so their range needs no check).
 */
export function observationProblem(space: ObservationSpace, obs: unknown, tolerance = 0): string | null {
  if (space.kind === 'box') {
    if (!(obs instanceof Float32Array)) return `expected a Float32Array observation, got ${kindOf(obs)}`;
    return contains(space, obs, tolerance) ? null : `observation outside the observation space (length ${obs.length}, expected ${space.low.length})`;
  }
  if (typeof obs !== 'object' || obs === null || obs instanceof Float32Array || obs instanceof Uint8Array) return `expected a dict observation {state, ${Object.keys(space.cameras).join(', ')}}, got ${kindOf(obs)}`;
  const entries = new Map(Object.entries(obs));
  const state = entries.get('state');
  if (!(state instanceof Float32Array)) return `observation.state: expected a Float32Array, got ${kindOf(state)}`;
  if (!contains(space.state, state, tolerance)) return `observation.state outside the observation space (length ${state.length}, expected ${space.state.low.length})`;
  for (const [name, cam] of Object.entries(space.cameras)) {
    const frame = entries.get(name);
    if (!(frame instanceof Uint8Array)) return `observation.${name}: expected a Uint8Array frame, got ${kindOf(frame)}`;
    if (frame.length !== frameSize(cam)) return `observation.${name}: ${frame.length} bytes, expected ${cam.height}×${cam.width}×${cam.channels} = ${frameSize(cam)}`;
  }
  for (const k of entries.keys()) if (k !== 'state' && !(k in space.cameras)) return `observation.${k}: not a camera of this space (${Object.keys(space.cameras).join(', ')})`;
  return null;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}

/**
 * `obs` with its state vector replaced (frames shared, not copied): what a wrapper that
 * transforms only the state (normalisation) returns.
 */
export function withState<O extends Observation>(obs: O, state: Float32Array): O {
  // O is Float32Array or a DictObservation: the result has the same shape in both cases.
  return (obs instanceof Float32Array ? state : { ...obs, state }) as O;
}
