import * as tf from '@tensorflow/tfjs-core';
import { checkGemm, type Kernels } from './kernels.js';

/**
 * gemm on TensorFlow.js's active backend (wasm, cpu, tfjs-node). Transposes are explicit: the
 * wasm backend runs a transposed matMul 12–19× slower than a transpose plus a plain matMul
 * (shared/facts/tfjs-perf.md). Each call copies its inputs into tensors and reads C back.
 */
export class TfjsKernels implements Kernels {
  get name(): string {
    return `tfjs (${tf.getBackend()})`;
  }

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
    checkGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
    const out = tf.tidy(() => {
      const ta = tf.tensor2d(a.subarray(0, m * k), transA ? [k, m] : [m, k]);
      const tb = tf.tensor2d(b.subarray(0, k * n), transB ? [n, k] : [k, n]);
      const prod = tf.matMul(transA ? tf.transpose(ta) : ta, transB ? tf.transpose(tb) : tb);
      return prod.dataSync() as Float32Array;
    });
    if (beta === 0) {
      if (alpha === 1) c.set(out);
      else for (let i = 0; i < m * n; i++) c[i] = alpha * (out[i] as number);
    } else {
      for (let i = 0; i < m * n; i++) c[i] = alpha * (out[i] as number) + beta * (c[i] as number);
    }
  }

  dispose(): void {}
}
