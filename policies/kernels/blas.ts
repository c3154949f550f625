import { checkGemm, type Kernels } from './kernels.js';

/** The CBLAS libraries roborl can load, in the order `auto` tries them. */
export type BlasLibrary = 'openblas' | 'blis';

/** The Debian packages that provide them (the fast path's one install line). */
export const BLAS_INSTALL = 'apt-get install libopenblas0-pthread';

interface LibrarySpec {
  readonly file: string;
  readonly label: string;
  readonly threadsFn: string;
  readonly versionFn: string;
}

const LIBRARIES: Record<BlasLibrary, LibrarySpec> = {
  // Debian libopenblas0-pthread: the pthread build (the OpenMP one would fight Node's threads).
  openblas: { file: 'libopenblas.so.0', label: 'OpenBLAS', threadsFn: 'void openblas_set_num_threads(int n)', versionFn: 'const char *openblas_get_config()' },
  // Debian libblis4 (dim_t is a 64-bit integer in its builds).
  blis: { file: 'libblis.so.4', label: 'BLIS', threadsFn: 'void bli_thread_set_num_threads(int64_t n)', versionFn: 'const char *bli_info_get_version_str()' },
};

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

type Sgemm = (order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number) => void;

interface LoadedLibrary {
  readonly sgemm: Sgemm;
  readonly setThreads: (n: number) => void;
  readonly version: string;
}

/** Each library is opened once per process; its thread count is process-wide. */
const loaded = new Map<string, LoadedLibrary>();

/** A BLAS library that did not load, with the command that installs it. */
export class BlasUnavailableError extends Error {
  override readonly name = 'BlasUnavailableError';
}

/**
 * Opens a CBLAS library through `koffi` (an FFI whose npm tarball ships its native binary).
 * Throws a {@link BlasUnavailableError} naming the install command when it is not there.
 */
export async function openBlas(library: BlasLibrary, file?: string): Promise<LoadedLibrary> {
  const spec = LIBRARIES[library];
  const path = file ?? spec.file;
  const cached = loaded.get(`${library}:${path}`);
  if (cached) return cached;
  let lib: import('koffi').LibraryHandle;
  try {
    const koffi = (await import('koffi')).default;
    lib = koffi.load(path);
  } catch (err) {
    const install = library === 'openblas' ? BLAS_INSTALL : 'apt-get install libblis4';
    throw new BlasUnavailableError(`${spec.label} (${path}) could not be loaded: ${(err as Error).message.split('\n')[0]}. Install it with: ${install}`);
  }
  const sgemm = lib.func('void cblas_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta, _Inout_ float *C, int ldc)') as Sgemm;
  const setThreads = lib.func(spec.threadsFn) as (n: number) => void;
  const rawVersion: unknown = lib.func(spec.versionFn)();
  const text = typeof rawVersion === 'string' ? rawVersion.trim() : '';
  // OpenBLAS's config string starts with its name; BLIS's is the bare version number.
  const version = text.startsWith(spec.label) ? text : `${spec.label} ${text}`.trim();
  const entry = { sgemm, setThreads, version };
  loaded.set(`${library}:${path}`, entry);
  return entry;
}

/** What a BLAS kernel set runs on. */
export interface BlasInfo {
  readonly library: BlasLibrary;
  /** The library's own version/config string, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64`. */
  readonly version: string;
  readonly threads: number;
}

/**
 * gemm on the system BLAS (cblas_sgemm, single precision, row-major). Every call is checked
 * ({@link checkGemm}) before it crosses the FFI boundary, where a wrong size would corrupt
 * memory instead of throwing. The thread count is the library's, process-wide: the last
 * {@link loadBlasKernels} call sets it.
 */
export class BlasKernels implements Kernels {
  private disposed = false;

  constructor(
    private readonly lib: LoadedLibrary,
    readonly info: BlasInfo,
  ) {}

  get name(): string {
    return `blas (${LIBRARIES[this.info.library].label}, ${this.info.threads} thread${this.info.threads === 1 ? '' : 's'})`;
  }

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
    if (this.disposed) throw new Error('gemm: these BLAS kernels were disposed');
    checkGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
    this.lib.sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n);
  }

  /** The library stays open (other kernel sets may share it); this set refuses further calls. */
  dispose(): void {
    this.disposed = true;
  }
}

/** Options of {@link loadBlasKernels}. */
export interface BlasOptions {
  /**
   * Which library. `auto`: on one thread BLIS first, then OpenBLAS; on more, OpenBLAS only.
   * Measured here (docs/benchmarks.md): BLIS's sgemm is ~3–4× faster than OpenBLAS 0.3.21's on
   * one thread, OpenBLAS faster on two; and Debian's BLIS (its OpenMP build) crashes the process
   * at exit once it has started threads (5 of 6 runs), so it only ever runs on one. Default `auto`.
   */
  readonly library?: BlasLibrary | 'auto';
  /** Threads of the library (process-wide). Default 1. */
  readonly threads?: number;
  /** A path to load instead of the library's usual file name (a custom build). */
  readonly file?: string;
}

/** Loads BLAS kernels; throws a {@link BlasUnavailableError} with the install command when none loads. */
export async function loadBlasKernels(options: BlasOptions = {}): Promise<BlasKernels> {
  const threads = options.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 256)) throw new RangeError(`Expected BLAS threads to be an integer in 1..256, got ${threads}`);
  const auto = !options.library || options.library === 'auto';
  if (options.library === 'blis' && threads > 1) throw new BlasUnavailableError(`BLIS runs on one thread only: Debian's build (OpenMP) crashes the process at exit once it has started threads. Use threads: 1, or OpenBLAS (${BLAS_INSTALL}) for ${threads}`);
  const order: BlasLibrary[] = !auto ? [options.library as BlasLibrary] : threads === 1 && !options.file ? ['blis', 'openblas'] : ['openblas'];
  const errors: string[] = [];
  for (const library of order) {
    try {
      const lib = await openBlas(library, options.file);
      lib.setThreads(threads);
      return new BlasKernels(lib, { library, version: lib.version, threads });
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  throw new BlasUnavailableError(errors.length === 1 ? (errors[0] as string) : `No BLAS library loaded (${errors.join('; ')}). Install one with: ${BLAS_INSTALL}`);
}

/** The library's file name as a package line names it. */
export function blasFileName(library: BlasLibrary): string {
  return LIBRARIES[library].file;
}
