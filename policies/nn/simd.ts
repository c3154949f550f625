/**
 * The MLP's elementwise work (bias, LayerNorm, tanh/relu and their gradients) in WebAssembly SIMD,
 * beside the matrix products on BLAS or tfjs. Both backends use it: it replaces scalar JS loops
 * that were 60% of an RLPD update at 256×256 on the BLAS path (policies/nn/simd.wat says why).
 *
 * Data stays in the callers' Float32Arrays: each call copies its inputs into the module's memory,
 * runs, and copies the results back (a copy is ~0.13 ns an element, the work it replaces ~5–12).
 * Rows whose length is not a multiple of 4, and ELU, take the JS path ({@link simdFits}).
 * `ROBORL_SIMD=0` (or {@link setSimdEnabled}) turns it off, for comparisons and for hosts without
 * WebAssembly SIMD (detected: the module fails to validate there and the JS path runs).
 */
import { fastTanh } from './fast-tanh.js';
import { SIMD_WASM_BASE64 } from './simd-wasm.js';

interface SimdExports {
  memory: WebAssembly.Memory;
  tanh(z: number, n: number): void;
  relu(z: number, n: number): void;
  bias(z: number, rows: number, n: number, b: number): void;
  ln_fwd(z: number, rows: number, n: number, b: number, g: number, beta: number, xhat: number, inv: number): void;
  act_grad(d: number, h: number, count: number, act: number): void;
  colsum(src: number, rows: number, n: number, out: number): void;
  ln_bwd(dy: number, h: number, rows: number, n: number, g: number, xhat: number, inv: number, dg: number, dbeta: number, act: number): void;
  adam(g: number, p: number, m: number, v: number, n: number, beta1: number, beta2: number, stepSize: number, epsHat: number): void;
  lerp(t: number, s: number, n: number, tau: number): void;
  im2col(x: number, batch: number, hi: number, wi: number, ci: number, ho: number, wo: number, stride: number, cols: number): void;
  col2im(dcols: number, batch: number, hi: number, wi: number, ci: number, ho: number, wo: number, stride: number, dx: number): void;
}

/** A 3×3 convolution layer's geometry (policies/encoder/conv-encoder.ts's ConvLayerShape). */
export interface PatchShape {
  readonly hi: number;
  readonly wi: number;
  readonly ci: number;
  readonly ho: number;
  readonly wo: number;
  readonly stride: number;
}

export type SimdActivation = 'none' | 'tanh' | 'relu';
const ACT_CODE: Record<SimdActivation, number> = { none: 0, tanh: 1, relu: 2 };

/**
 * LayerNorm's parameters and the forward pass's saved values (as policies/nn/net.ts keeps them).
 * Mutable so a caller can keep one per layer and point it at this call's parameters (no allocation).
 */
export interface LayerNormState {
  g: Float32Array;
  beta: Float32Array;
  xhat: Float32Array;
  invStd: Float64Array;
}

/** Bump allocation of 16-byte-aligned float regions in the module's memory, one call at a time. */
class Arena {
  private next = 0;
  reset(): this {
    this.next = 0;
    return this;
  }
  /** A region of `floats` floats; returns its float index. */
  take(floats: number): number {
    const at = this.next;
    this.next += (floats + 3) & ~3;
    return at;
  }
  get floats(): number {
    return this.next;
  }
}

export class SimdElementwise {
  private f32: Float32Array;
  private readonly arena = new Arena();

  constructor(private readonly ex: SimdExports) {
    this.f32 = new Float32Array(ex.memory.buffer);
  }

  /** Bytes of the module's memory (it grows to the largest call's need and never shrinks). */
  get memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }

  /** Makes the memory hold `floats` floats (grows it; views are refreshed after a grow). */
  private reserve(floats: number): Float32Array {
    const bytes = floats * 4;
    const have = this.ex.memory.buffer.byteLength;
    if (have < bytes) {
      try {
        this.ex.memory.grow(Math.ceil((bytes - have) / 65536));
      } catch (err) {
        throw new RangeError(`SIMD kernels: one call needs ${(bytes / 2 ** 20).toFixed(0)} MiB of WebAssembly memory and could not get it (${(err as Error).message}); use a smaller batch, or ROBORL_SIMD=0 for the JS loops`);
      }
    }
    if (this.f32.buffer !== this.ex.memory.buffer) this.f32 = new Float32Array(this.ex.memory.buffer);
    return this.f32;
  }

  /** z[i] ← tanh(z[i]) for i < n (a JS tail for the last n mod 4). */
  tanhInPlace(z: Float32Array, n: number): void {
    if (n > z.length) throw new RangeError(`tanh: n=${n} exceeds the array's ${z.length} values`);
    const main = n & ~3;
    if (main > 0) {
      const m = this.reserve(main);
      m.set(z.subarray(0, main), 0);
      this.ex.tanh(0, main);
      z.set(m.subarray(0, main), 0);
    }
    for (let i = main; i < n; i++) z[i] = fastTanh(z[i] as number);
  }

  private activate(at: number, count: number, act: SimdActivation): void {
    if (act === 'tanh') this.ex.tanh(at * 4, count);
    else if (act === 'relu') this.ex.relu(at * 4, count);
  }

  /**
   * The elementwise Adam step of policies/nn/adam.ts on the first n − n mod 4 values (float32
   * arithmetic); returns how many it did — the caller finishes the rest.
   */
  adam(g: Float32Array, p: Float32Array, m: Float32Array, v: Float32Array, beta1: number, beta2: number, stepSize: number, epsHat: number): number {
    const n = p.length & ~3;
    if (n === 0) return 0;
    if (g.length < n || m.length < n || v.length < n) throw new RangeError(`adam: g, m and v need ${n} values`);
    const a = this.arena.reset();
    const gi = a.take(n);
    const pi = a.take(n);
    const mi = a.take(n);
    const vi = a.take(n);
    const mem = this.reserve(a.floats);
    mem.set(g.subarray(0, n), gi);
    mem.set(p.subarray(0, n), pi);
    mem.set(m.subarray(0, n), mi);
    mem.set(v.subarray(0, n), vi);
    this.ex.adam(gi * 4, pi * 4, mi * 4, vi * 4, n, beta1, beta2, stepSize, epsHat);
    p.set(mem.subarray(pi, pi + n), 0);
    m.set(mem.subarray(mi, mi + n), 0);
    v.set(mem.subarray(vi, vi + n), 0);
    return n;
  }

  /** t ← t + τ·(s − t) on the first n − n mod 4 values; returns how many it did. */
  lerp(t: Float32Array, src: Float32Array, tau: number): number {
    const n = t.length & ~3;
    if (n === 0) return 0;
    if (src.length < n) throw new RangeError(`lerp: the source has ${src.length} values, needs ${n}`);
    const a = this.arena.reset();
    const ti = a.take(n);
    const si = a.take(n);
    const mem = this.reserve(a.floats);
    mem.set(t.subarray(0, n), ti);
    mem.set(src.subarray(0, n), si);
    this.ex.lerp(ti * 4, si * 4, n, tau);
    t.set(mem.subarray(ti, ti + n), 0);
    return n;
  }

  /** im2col of a 3×3 convolution (see policies/encoder/conv-encoder.ts): cols ← patches of x. */
  im2col(x: Float32Array, batch: number, shape: PatchShape, cols: Float32Array): void {
    checkPatches('im2col', batch, shape, x.length, cols.length, 'x', 'cols');
    const view = this.im2colView(x, batch, shape);
    cols.set(view, 0);
  }

  /**
   * im2col into the module's memory, returning a view of the patches there instead of copying
   * them out (they are 2–3× the image, 33 MB at batch 128 for the 64×64 encoder's second layer).
   * The view is valid until this object's next call (a later call may overwrite or move it): use
   * it at once, e.g. as a gemm operand.
   */
  im2colView(x: Float32Array, batch: number, shape: PatchShape): Float32Array {
    const { inSize, colSize } = checkPatches('im2col', batch, shape, x.length, Infinity, 'x', 'cols');
    const a = this.arena.reset();
    const xi = a.take(inSize);
    const ci = a.take(colSize);
    const m = this.reserve(a.floats);
    m.set(x.subarray(0, inSize), xi);
    this.ex.im2col(xi * 4, batch, shape.hi, shape.wi, shape.ci, shape.ho, shape.wo, shape.stride, ci * 4);
    return m.subarray(ci, ci + colSize);
  }

  /** col2im, im2col's adjoint: dx ← 0, then every patch row added back where it came from. */
  col2im(dCols: Float32Array, batch: number, shape: PatchShape, dx: Float32Array): void {
    const { inSize, colSize } = checkPatches('col2im', batch, shape, dx.length, dCols.length, 'dx', 'dCols');
    const a = this.arena.reset();
    const ci = a.take(colSize);
    const xi = a.take(inSize);
    const m = this.reserve(a.floats);
    m.set(dCols.subarray(0, colSize), ci);
    this.ex.col2im(ci * 4, batch, shape.hi, shape.wi, shape.ci, shape.ho, shape.wo, shape.stride, xi * 4);
    dx.set(m.subarray(xi, xi + inSize), 0);
  }

  /**
   * One hidden layer after its matrix product, in place on z (rows × n): z ← act(z + b), or with
   * LayerNorm (`ln` given), z ← act(LayerNorm(z + b)·g + β), keeping x̂ and 1/σ in `ln`.
   * n must be a multiple of 4.
   */
  hiddenForward(z: Float32Array, rows: number, n: number, b: Float32Array, act: SimdActivation, ln: LayerNormState | null): void {
    checkRows('hiddenForward', z, rows, n, b);
    const size = rows * n;
    const a = this.arena.reset();
    const zi = a.take(size);
    const bi = a.take(n);
    if (!ln) {
      const m = this.reserve(a.floats);
      m.set(z.subarray(0, size), zi);
      m.set(b.subarray(0, n), bi);
      this.ex.bias(zi * 4, rows, n, bi * 4);
      this.activate(zi, size, act);
      z.set(m.subarray(zi, zi + size), 0);
      return;
    }
    checkLayerNorm('hiddenForward', ln, rows, n);
    const gi = a.take(n);
    const betai = a.take(n);
    const xi = a.take(size);
    const ii = a.take(rows);
    const m = this.reserve(a.floats);
    m.set(z.subarray(0, size), zi);
    m.set(b.subarray(0, n), bi);
    m.set(ln.g.subarray(0, n), gi);
    m.set(ln.beta.subarray(0, n), betai);
    this.ex.ln_fwd(zi * 4, rows, n, bi * 4, gi * 4, betai * 4, xi * 4, ii * 4);
    this.activate(zi, size, act);
    z.set(m.subarray(zi, zi + size), 0);
    ln.xhat.set(m.subarray(xi, xi + size), 0);
    ln.invStd.set(m.subarray(ii, ii + rows), 0);
  }

  /**
   * The backward pass of {@link hiddenForward}, in place on dy (dL/d output → dL/dz, rows × n):
   * through the activation (h: its output), then LayerNorm when `ln` is given (dg and dβ, when
   * given, receive its parameter gradients); dBias, when given, receives Σ_rows dL/dz.
   */
  hiddenBackward(dy: Float32Array, h: Float32Array, rows: number, n: number, act: SimdActivation, ln: LayerNormState | null, dg: Float32Array | null, dBeta: Float32Array | null, dBias: Float32Array | null): void {
    const size = rows * n;
    if (!(Number.isInteger(rows) && rows >= 0 && Number.isInteger(n) && n > 0)) throw new RangeError(`hiddenBackward: bad shape ${rows}×${n}`);
    if (n % 4 !== 0) throw new RangeError(`hiddenBackward: n=${n} is not a multiple of 4`);
    if (dy.length < size || h.length < size) throw new RangeError(`hiddenBackward: dy (${dy.length}) and h (${h.length}) need ${rows}×${n} values`);
    if ((dg && dg.length < n) || (dBeta && dBeta.length < n) || (dBias && dBias.length < n)) throw new RangeError(`hiddenBackward: dg, dβ and the bias gradient need ${n} values`);
    const a = this.arena.reset();
    const di = a.take(size);
    const hi = a.take(size);
    const ci = a.take(n);
    if (ln) {
      checkLayerNorm('hiddenBackward', ln, rows, n);
      const gi = a.take(n);
      const xi = a.take(size);
      const ii = a.take(rows);
      const dgi = a.take(n);
      const dbi = a.take(n);
      const m = this.reserve(a.floats);
      m.set(dy.subarray(0, size), di);
      m.set(h.subarray(0, size), hi);
      m.set(ln.g.subarray(0, n), gi);
      m.set(ln.xhat.subarray(0, size), xi);
      m.set(ln.invStd.subarray(0, rows), ii);
      this.ex.ln_bwd(di * 4, hi * 4, rows, n, gi * 4, xi * 4, ii * 4, dgi * 4, dbi * 4, ACT_CODE[act]);
      if (dg) dg.set(m.subarray(dgi, dgi + n), 0);
      if (dBeta) dBeta.set(m.subarray(dbi, dbi + n), 0);
    } else {
      const m = this.reserve(a.floats);
      m.set(dy.subarray(0, size), di);
      m.set(h.subarray(0, size), hi);
      this.ex.act_grad(di * 4, hi * 4, size, ACT_CODE[act]);
    }
    if (dBias) {
      this.ex.colsum(di * 4, rows, n, ci * 4);
      dBias.set(this.f32.subarray(ci, ci + n), 0);
    }
    dy.set(this.f32.subarray(di, di + size), 0);
  }
}

function checkPatches(what: string, batch: number, s: PatchShape, inLength: number, colLength: number, inName: string, colName: string): { inSize: number; colSize: number } {
  const dims = [batch, s.hi, s.wi, s.ci, s.ho, s.wo, s.stride];
  if (!dims.every((d) => Number.isInteger(d) && d >= 1)) throw new RangeError(`${what}: bad shape ${JSON.stringify({ batch, ...s })}`);
  // The last patch must lie inside the image: (ho − 1)·stride + 3 ≤ hi, the same for width.
  if ((s.ho - 1) * s.stride + 3 > s.hi || (s.wo - 1) * s.stride + 3 > s.wi) throw new RangeError(`${what}: a ${s.ho}×${s.wo} output at stride ${s.stride} reads past a ${s.hi}×${s.wi} input`);
  const inSize = batch * s.hi * s.wi * s.ci;
  const colSize = batch * s.ho * s.wo * 9 * s.ci;
  if (inLength < inSize) throw new RangeError(`${what}: ${inName} has ${inLength} values, needs ${inSize}`);
  if (colLength < colSize) throw new RangeError(`${what}: ${colName} has ${colLength} values, needs ${colSize}`);
  return { inSize, colSize };
}

function checkRows(what: string, z: Float32Array, rows: number, n: number, b: Float32Array): void {
  if (!(Number.isInteger(rows) && rows >= 0 && Number.isInteger(n) && n > 0)) throw new RangeError(`${what}: bad shape ${rows}×${n}`);
  if (n % 4 !== 0) throw new RangeError(`${what}: n=${n} is not a multiple of 4`);
  if (z.length < rows * n) throw new RangeError(`${what}: z has ${z.length} values, needs ${rows}×${n}`);
  if (b.length < n) throw new RangeError(`${what}: b has ${b.length} values, needs ${n}`);
}

function checkLayerNorm(what: string, ln: LayerNormState, rows: number, n: number): void {
  if (ln.g.length < n || ln.beta.length < n) throw new RangeError(`${what}: LayerNorm g/β need ${n} values`);
  if (ln.xhat.length < rows * n || ln.invStd.length < rows) throw new RangeError(`${what}: LayerNorm x̂/σ buffers are smaller than ${rows}×${n}`);
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  if (typeof Buffer !== 'undefined') return Uint8Array.from(Buffer.from(text, 'base64'));
  const bin = atob(text);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function instantiate(): SimdElementwise | null {
  try {
    const bytes = decodeBase64(SIMD_WASM_BASE64);
    if (!WebAssembly.validate(bytes)) return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    return new SimdElementwise(instance.exports as unknown as SimdExports);
  } catch {
    return null;
  }
}

const envOff = typeof process !== 'undefined' && process.env?.ROBORL_SIMD === '0';
let shared: SimdElementwise | null | undefined;
let enabled = !envOff;

/** The shared SIMD kernels, or null when off or unsupported (callers then run their JS loops). */
export function simdElementwise(): SimdElementwise | null {
  if (!enabled) return null;
  if (shared === undefined) shared = instantiate();
  return shared;
}

/** Turns the SIMD path on or off for this thread (tests compare the two; `ROBORL_SIMD=0` starts off). */
export function setSimdEnabled(on: boolean): void {
  enabled = on;
}

/** Whether a layer of width n with this activation runs on SIMD (else the JS loops). */
export function simdFits(n: number, activation: string): activation is SimdActivation {
  return n % 4 === 0 && (activation === 'tanh' || activation === 'relu' || activation === 'none');
}
