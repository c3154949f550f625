import { simdElementwise } from './simd.js';

export interface AdamOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  /** Default 1e-8 (PyTorch, optax); tf.train.adam uses 1e-7. */
  readonly epsilon?: number;
}

/**
 * Adam (Kingma & Ba 2015) on typed arrays, one pass per parameter array, updating the
 * parameters in place.
 *
 * Why not tf.train.adam: on the wasm backend its ~10 elementwise kernels per variable (plus the
 * Polyak averaging of targets) made up ~500 of the ~780 kernel launches of one SAC update, each
 * with ~8 µs of fixed cost (measured with tf.profile; docs/benchmarks.md). The networks' own
 * parameters are Float32Arrays (policies/nn/net.ts), so the step is one pass per array: in
 * WebAssembly SIMD (policies/nn/simd.ts) where it is on, the JS loop below for the rest.
 * Equivalence with tf.train.adam is tested.
 */
export class Adam {
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  step = 0;
  private readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  /** `params` are updated in place by {@link apply}. */
  constructor(
    readonly params: readonly Float32Array[],
    options: AdamOptions,
  ) {
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
  }

  /** One Adam step; `grads[k]` is the gradient of `params[k]`. */
  apply(grads: readonly Float32Array[]): void {
    if (grads.length !== this.params.length) throw new Error(`Adam: expected ${this.params.length} gradients, got ${grads.length}`);
    this.params.forEach((p, k) => {
      const g = grads[k] as Float32Array;
      if (g.length !== p.length) throw new Error(`Adam: gradient ${k} has ${g.length} values, its parameter ${p.length}`);
      // Checked before the step counter moves: a failure half-way would leave some arrays stepped.
      if (this.m[k]?.length !== p.length || this.v[k]?.length !== p.length) throw new Error(`Adam: moment arrays of parameter ${k} have ${this.m[k]?.length} and ${this.v[k]?.length} values, the parameter ${p.length}`);
    });
    this.step++;
    const { beta1, beta2, epsilon } = this;
    const stepSize = (this.lr * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
    const epsHat = epsilon * Math.sqrt(1 - beta2 ** this.step);
    const simd = simdElementwise();
    this.params.forEach((p, k) => {
      const g = grads[k] as Float32Array;
      const m = this.m[k] as Float32Array;
      const v = this.v[k] as Float32Array;
      const done = simd ? simd.adam(g, p, m, v, beta1, beta2, stepSize, epsHat) : 0;
      adamUpdate(g, p, m, v, beta1, beta2, stepSize, epsHat, done);
    });
  }
}

/**
 * The element-wise Adam step, m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − s·m/(√v + ε̂), with
 * the bias corrections folded into s and ε̂. A standalone function: the same loop inside the
 * per-variable closure ran ~2× slower (measured).
 */
function adamUpdate(g: Float32Array, p: Float32Array, m: Float32Array, v: Float32Array, beta1: number, beta2: number, stepSize: number, epsHat: number, from = 0): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = p.length;
  for (let i = from; i < n; i++) {
    const gi = g[i] as number;
    const mi = beta1 * (m[i] as number) + c1 * gi;
    const vi = beta2 * (v[i] as number) + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = (p[i] as number) - (stepSize * mi) / (Math.sqrt(vi) + epsHat);
  }
}

/** Polyak averaging on arrays, target ← (1 − τ)·target + τ·source, array by array. */
export function polyak(target: readonly Float32Array[], source: readonly Float32Array[], tau: number): void {
  // Checked before any array moves, as Adam's step.
  if (target.length !== source.length || target.some((t, k) => source[k]?.length !== t.length)) throw new Error(`polyak: the target's ${target.length} arrays (${target.map((t) => t.length).join(', ')}) and the source's ${source.length} (${source.map((s) => s.length).join(', ')}) differ`);
  const simd = simdElementwise();
  target.forEach((t, k) => {
    const s = source[k] as Float32Array;
    lerpInPlace(t, s, tau, simd ? simd.lerp(t, s, tau) : 0);
  });
}

/** t ← t + τ·(s − t), as a standalone loop (see adamUpdate). */
function lerpInPlace(t: Float32Array, s: Float32Array, tau: number, from = 0): void {
  const n = t.length;
  for (let i = from; i < n; i++) t[i] = (t[i] as number) + tau * ((s[i] as number) - (t[i] as number));
}
