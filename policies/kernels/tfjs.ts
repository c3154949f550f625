import * as tf from '@tensorflow/tfjs-core';
import { checkGemm, type Kernels } from './kernels.js';

/**
 * Products of at most this many multiply-adds run as a JS loop: below it, a tfjs call's fixed
 * cost (two tensors in, up to two transposes, the matMul, a read back: ~6 kernels at ~8 µs) is
 * more than the arithmetic (a JS loop does ~1 multiply-add per ns).
 */
export const SMALL_GEMM_MACS = 65_536;

/**
 * gemm on TensorFlow.js's active backend (wasm, cpu, tfjs-node). Transposes are explicit: the
 * wasm backend runs a transposed matMul 12–19× slower than a transpose plus a plain matMul
 * (shared/facts/tfjs-perf.md). Each call copies its inputs into tensors and reads C back;
 * small products ({@link SMALL_GEMM_MACS}) stay in JS.
 */
export class TfjsKernels implements Kernels {
  get name(): string {
    return `tfjs (${tf.getBackend()})`;
  }

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
    checkGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
    if (m * n * k <= SMALL_GEMM_MACS) {
      smallGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
      return;
    }
    // C is written inside the tidy, which returns nothing: tidy walks whatever it returns looking
    // for tensors, and over a 65,536-element typed array that walk took ~100 ms (measured).
    tf.tidy(() => {
      const ta = tf.tensor2d(a.subarray(0, m * k), transA ? [k, m] : [m, k]);
      const tb = tf.tensor2d(b.subarray(0, k * n), transB ? [n, k] : [k, n]);
      const out = tf.matMul(transA ? tf.transpose(ta) : ta, transB ? tf.transpose(tb) : tb).dataSync() as Float32Array;
      if (beta === 0) {
        if (alpha === 1) c.set(out);
        else for (let i = 0; i < m * n; i++) c[i] = alpha * (out[i] as number);
      } else {
        for (let i = 0; i < m * n; i++) c[i] = alpha * (out[i] as number) + beta * (c[i] as number);
      }
    });
  }

  dispose(): void {}
}

/** C ← α·op(A)·op(B) + β·C in JS, row by row (float64 accumulation in a scratch row). */
let row = new Float64Array(256);
function smallGemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
  if (row.length < n) row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    if (transB) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (a[transA ? p * m + i : i * k + p] as number) * (b[j * k + p] as number);
        row[j] = s;
      }
    } else {
      row.fill(0, 0, n);
      for (let p = 0; p < k; p++) {
        const x = a[transA ? p * m + i : i * k + p] as number;
        if (x === 0) continue;
        const o = p * n;
        for (let j = 0; j < n; j++) row[j] = (row[j] as number) + x * (b[o + j] as number);
      }
    }
    const o = i * n;
    for (let j = 0; j < n; j++) c[o + j] = alpha * (row[j] as number) + (beta === 0 ? 0 : beta * (c[o + j] as number));
  }
}
