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
