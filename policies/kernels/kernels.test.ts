import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { selectBackend } from '../backend.js';
import { loadBlasKernels, openBlas } from './blas.js';
import { JsKernels, type Kernels } from './kernels.js';
import { TfjsKernels } from './tfjs.js';

const OPENMP_BLIS = '/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4';

const impls: [string, () => Promise<Kernels>][] = [
  ['blas openblas 1 thread', () => loadBlasKernels({ library: 'openblas', threads: 1 })],
  ['blas openblas 2 threads', () => loadBlasKernels({ library: 'openblas', threads: 2 })],
  ['blas blis', () => loadBlasKernels({ library: 'blis', threads: 1 })],
  ['blas blis 2 threads (pthread build)', () => loadBlasKernels({ library: 'blis', threads: 2 })],
  ['tfjs wasm', async () => new TfjsKernels()],
];

beforeAll(async () => {
  await selectBackend('wasm');
});

function random(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

describe.each(impls)('gemm on %s', (_, make) => {
  let k!: Kernels;
  beforeAll(async () => {
    k = await make();
  });
  afterAll(() => k.dispose());

  // 37×29×70 is above SMALL_GEMM_MACS and 9×7×5 below it: tfjs's two paths.
  for (const [ta, tb, m, n, kk] of [[false, false, 37, 29, 70], [true, false, 37, 29, 70], [false, true, 37, 29, 70], [true, true, 37, 29, 70], [false, false, 9, 7, 5], [true, false, 9, 7, 5], [false, true, 9, 7, 5], [true, true, 9, 7, 5]] as const) {
    it(`matches a float64 reference (${m}×${n}×${kk}, transA ${ta}, transB ${tb}, alpha and beta)`, () => {
      const rng = new Rng(7);
      const a = random(rng, m * kk);
      const b = random(rng, kk * n);
      const c0 = random(rng, m * n);
      const ours = Float32Array.from(c0);
      const ref = Float32Array.from(c0);
      k.gemm(ta, tb, m, n, kk, 0.7, a, b, 0.3, ours);
      new JsKernels().gemm(ta, tb, m, n, kk, 0.7, a, b, 0.3, ref);
      for (let i = 0; i < m * n; i++) expect(Math.abs((ours[i] as number) - (ref[i] as number))).toBeLessThan(1e-4);
    });
  }

  it('reads and writes typed-array views at their offset, and nothing past m·n of C', () => {
    const rng = new Rng(8);
    const store = random(rng, 400);
    const a = store.subarray(10, 10 + 6 * 4);
    const b = store.subarray(100, 100 + 4 * 5);
    const out = new Float32Array(40).fill(9);
    const c = out.subarray(5, 35);
    k.gemm(false, false, 6, 5, 4, 1, a, b, 0, c);
    const ref = new Float32Array(30);
    new JsKernels().gemm(false, false, 6, 5, 4, 1, Float32Array.from(a), Float32Array.from(b), 0, ref);
    for (let i = 0; i < 30; i++) expect(c[i]).toBeCloseTo(ref[i] as number, 4);
    expect([...out.subarray(0, 5), ...out.subarray(35)]).toEqual(new Array(10).fill(9));
  });

  it('refuses bad shapes and short buffers before computing, naming them', () => {
    const a = new Float32Array(12);
    const b = new Float32Array(12);
    const c = new Float32Array(9).fill(5);
    expect(() => k.gemm(false, false, 3, 3, 5, 1, a, b, 0, c)).toThrow(/A is 3×5 .*needs 15 elements, has 12/);
    expect(() => k.gemm(true, false, 3, 3, 4, 1, a, new Float32Array(11), 0, c)).toThrow(/B is 4×3 .*needs 12 elements, has 11/);
    expect(() => k.gemm(false, true, 3, 4, 4, 1, a, new Float32Array(16), 0, c)).toThrow(/C is 3×4: needs 12 elements, has 9/);
    expect(() => k.gemm(false, false, 0, 3, 4, 1, a, b, 0, c)).toThrow(/`m` to be a positive integer, got 0/);
    expect(() => k.gemm(false, false, 3, 2.5, 4, 1, a, b, 0, c)).toThrow(/`n` to be a positive integer, got 2.5/);
    expect(() => k.gemm(false, false, 3, 3, Number.NaN, 1, a, b, 0, c)).toThrow(/`k` to be a positive integer, got NaN/);
    expect(() => k.gemm(false, false, 3, 3, 4, Number.NaN, a, b, 0, c)).toThrow(/finite alpha and beta/);
    expect(() => k.gemm(false, false, 3, 3, 4, 1, a, b, 0, a.subarray(0, 9))).toThrow(/C \(3×3\) overlaps an input/);
    expect(() => k.gemm(false, false, 3, 3, 4, 1, new Float64Array(12) as unknown as Float32Array, b, 0, c)).toThrow(/A to be a Float32Array/);
    expect(Array.from(c)).toEqual(new Array(9).fill(5));
  });
});

describe('BLAS loading', () => {
  it('a library that is not installed fails with the command that installs it', async () => {
    await expect(loadBlasKernels({ library: 'openblas', file: 'libopenblas-not-here.so.0' })).rejects.toThrow(/OpenBLAS could not be loaded \(libopenblas-not-here\.so\.0: .*Install it with: apt-get install libopenblas0-pthread/);
    await expect(openBlas('blis', 'libblis-not-here.so.4')).rejects.toThrow(/BLIS could not be loaded .*Install it with: apt-get install libblis4-pthread/);
    await expect(loadBlasKernels({ threads: 0 })).rejects.toThrow(/threads to be an integer in 1\.\.256, got 0/);
  });

  it.skipIf(!existsSync(OPENMP_BLIS))('refuses threads on the OpenMP build of BLIS (it crashes Node at exit once it has run threads)', async () => {
    await expect(loadBlasKernels({ library: 'blis', file: OPENMP_BLIS, threads: 2 })).rejects.toThrow(/OpenMP build, which crashes the process at exit .*apt-get install libblis4-pthread/);
    expect((await loadBlasKernels({ library: 'blis', file: OPENMP_BLIS, threads: 1 })).info.threads).toBe(1);
  });

  it('auto takes the pthread build of BLIS on one and on two threads (faster there than OpenBLAS 0.3.21)', async () => {
    for (const threads of [1, 2]) {
      const k = await loadBlasKernels({ threads });
      expect(k.info.library).toBe('blis');
      expect(k.info.file).toMatch(/blis-pthread\/libblis\.so\.4$/);
    }
  });

  it('each kernel set runs on its own thread count, whichever set was loaded last (the count is process-wide in the library)', async () => {
    const koffi = (await import('koffi')).default;
    for (const [library, getter] of [['blis', 'int64_t bli_thread_get_num_threads()'], ['openblas', 'int openblas_get_num_threads()']] as const) {
      const one = await loadBlasKernels({ library, threads: 1 });
      const two = await loadBlasKernels({ library, threads: 2 });
      const libraryThreads = koffi.load(one.info.file).func(getter) as () => number | bigint;
      const a = new Float32Array(16).fill(1);
      const c = new Float32Array(16);
      one.gemm(false, false, 4, 4, 4, 1, a, a, 0, c);
      expect([library, Number(libraryThreads())]).toEqual([library, 1]);
      expect(one.name).toMatch(/, 1 thread\)$/);
      two.gemm(false, false, 4, 4, 4, 1, a, a, 0, c);
      expect([library, Number(libraryThreads())]).toEqual([library, 2]);
      one.gemm(false, false, 4, 4, 4, 1, a, a, 0, c);
      expect([library, Number(libraryThreads())]).toEqual([library, 1]);
    }
  });

  it('a file that is not a BLAS library is refused naming the file; a BLIS file under auto loads as BLIS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-blas-'));
    const text = join(dir, 'libfake.so');
    writeFileSync(text, 'not a shared object\n');
    await expect(loadBlasKernels({ file: text })).rejects.toThrow(/libfake\.so/);
    const libz = '/usr/lib/x86_64-linux-gnu/libz.so.1';
    if (existsSync(libz)) {
      await expect(loadBlasKernels({ file: libz })).rejects.toThrow(/libz\.so\.1 .*not a CBLAS library.*cblas_sgemm/);
      await expect(loadBlasKernels({ library: 'blis', file: libz })).rejects.toThrow(/libz\.so\.1 .*not a CBLAS library/);
    }
    const pthreadBlis = '/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4';
    if (existsSync(pthreadBlis)) expect((await loadBlasKernels({ file: pthreadBlis, threads: 2 })).info).toMatchObject({ library: 'blis', threads: 2, file: pthreadBlis });
  });

  it('names the library, its version and thread count', async () => {
    const k = await loadBlasKernels({ library: 'openblas', threads: 2 });
    expect(k.name).toBe('blas (OpenBLAS, 2 threads)');
    expect(k.info.version).toMatch(/OpenBLAS/);
  });
});
