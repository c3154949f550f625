/**
 * The one interface every matrix product of roborl's networks goes through (issue 20). Two
 * implementations: the system BLAS through an FFI ({@link loadBlasKernels}, native speed,
 * multi-threaded) and TensorFlow.js on its active backend ({@link TfjsKernels}: wasm, cpu,
 * tfjs-node). The networks and learners do not know which one runs.
 *
 * Every matrix is row-major and packed (leading dimension = its column count as stored).
 */
export interface Kernels {
  /** What runs, for logs: `blas (OpenBLAS 0.3.21, 2 threads)`, `tfjs (wasm)`. */
  readonly name: string;
  /**
   * C ← α·op(A)·op(B) + β·C, with op(A) m×k and op(B) k×n, C m×n (row-major, packed).
   * `transA`: A is stored k×m; `transB`: B is stored n×k. Only the first m·n elements of `c`
   * are written. Throws a RangeError naming the bad argument before any work is done.
   */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;
  /** Releases what the implementation holds (idempotent). */
  dispose(): void;
}

/**
 * Checks a gemm call's shapes and buffers. On the BLAS path a wrong size does not throw: the
 * library reads or writes past the end of the buffer, so every call is checked here, before it
 * crosses the FFI boundary.
 */
export function checkGemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!(Number.isInteger(v) && v >= 1 && v <= 0x7fffffff)) throw new RangeError(`gemm: expected \`${name}\` to be a positive integer, got ${v}`);
  }
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw new RangeError(`gemm: expected finite alpha and beta, got ${alpha} and ${beta}`);
  for (const [name, arr] of [['A', a], ['B', b], ['C', c]] as const) {
    if (!(arr instanceof Float32Array)) throw new TypeError(`gemm: expected ${name} to be a Float32Array, got ${Object.prototype.toString.call(arr)}`);
  }
  const shapeA = transA ? `${k}×${m} (transposed)` : `${m}×${k}`;
  const shapeB = transB ? `${n}×${k} (transposed)` : `${k}×${n}`;
  if (a.length < m * k) throw new RangeError(`gemm: A is ${shapeA} for m=${m}, k=${k}: needs ${m * k} elements, has ${a.length}`);
  if (b.length < k * n) throw new RangeError(`gemm: B is ${shapeB} for k=${k}, n=${n}: needs ${k * n} elements, has ${b.length}`);
  if (c.length < m * n) throw new RangeError(`gemm: C is ${m}×${n}: needs ${m * n} elements, has ${c.length}`);
  if (overlaps(c, m * n, a, m * k) || overlaps(c, m * n, b, k * n)) throw new RangeError(`gemm: C (${m}×${n}) overlaps an input in memory`);
}

function overlaps(c: Float32Array, cLen: number, x: Float32Array, xLen: number): boolean {
  if (c.buffer !== x.buffer) return false;
  const c0 = c.byteOffset;
  const x0 = x.byteOffset;
  return c0 < x0 + 4 * xLen && x0 < c0 + 4 * cLen;
}

/** Reference gemm in plain JS (float64 accumulation), for tests and as the last fallback. */
export class JsKernels implements Kernels {
  readonly name = 'js';

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
    checkGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (a[transA ? p * m + i : i * k + p] as number) * (b[transB ? j * k + p : p * n + j] as number);
        c[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * (c[i * n + j] as number));
      }
    }
  }

  dispose(): void {}
}
