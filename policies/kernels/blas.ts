import { realpathSync } from 'node:fs';
import { checkGemm, type Kernels } from './kernels.js';

/** The CBLAS libraries roborl can load, in the order `auto` tries them. */
export type BlasLibrary = 'openblas' | 'blis';

/** The Debian packages that provide them (the fast path's one install line). */
export const BLAS_INSTALL = 'apt-get install libopenblas0-pthread';

/** Where Debian puts the pthread build of BLIS (libblis4-pthread). */
const PTHREAD_BLIS = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map((arch) => `/usr/lib/${arch}/blis-pthread/libblis.so.4`);

/** BLIS's one install line: the pthread build (threads safe in Node; the OpenMP build is not). */
export const BLIS_INSTALL = 'apt-get install libblis4-pthread';

interface LibrarySpec {
  /** The file names tried in order (the first that loads wins). */
  readonly files: readonly string[];
  readonly label: string;
  readonly threadsFn: string;
  readonly versionFn: string;
}

const LIBRARIES: Record<BlasLibrary, LibrarySpec> = {
  // Debian libopenblas0-pthread: the pthread build (the OpenMP one would fight Node's threads).
  openblas: { files: ['libopenblas.so.0'], label: 'OpenBLAS', threadsFn: 'void openblas_set_num_threads(int n)', versionFn: 'const char *openblas_get_config()' },
  // Debian's BLIS (dim_t is a 64-bit integer in its builds): its pthread build (libblis4-pthread)
  // first, by path, because the plain name resolves to whichever build update-alternatives chose —
  // usually the OpenMP one, which crashes Node at exit once it has run threads.
  blis: { files: [...PTHREAD_BLIS, 'libblis.so.4'], label: 'BLIS', threadsFn: 'void bli_thread_set_num_threads(int64_t n)', versionFn: 'const char *bli_info_get_version_str()' },
};

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

type Sgemm = (order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number) => void;

interface LoadedLibrary {
  readonly sgemm: Sgemm;
  /** The file that loaded. */
  readonly file: string;
  /** Whether the library may run more than one thread in this process (not Debian's OpenMP BLIS). */
  readonly threadSafe: boolean;
  readonly setThreads: (n: number) => void;
  readonly version: string;
  /** The thread count last set in the library, shared by every entry that opened the same file. */
  readonly threads: { current: number };
}

/** Each library is opened once per process; its thread count is process-wide. */
const loaded = new Map<string, LoadedLibrary>();

/**
 * The thread count last set per library file (resolved through links): the same file opened
 * under two names is one library with one count, which each kernel set restores before its calls.
 */
const threadCounts = new Map<string, { current: number }>();

function threadCountOf(path: string): { current: number } {
  let key = path;
  try {
    key = realpathSync(path);
  } catch {
    // A bare name the dynamic loader resolved: keyed by that name.
  }
  let entry = threadCounts.get(key);
  if (!entry) threadCounts.set(key, (entry = { current: 0 }));
  return entry;
}

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
  const candidates = file ? [file] : spec.files;
  const cached = loaded.get(`${library}:${candidates.join(':')}`);
  if (cached) return cached;
  const koffi = (await import('koffi')).default;
  let lib: import('koffi').LibraryHandle | undefined;
  let path = candidates[0] as string;
  let firstError = '';
  for (const candidate of candidates) {
    try {
      lib = koffi.load(candidate);
      path = candidate;
      break;
    } catch (err) {
      firstError ||= `${candidate}: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  if (!lib) {
    const install = library === 'openblas' ? BLAS_INSTALL : BLIS_INSTALL;
    throw new BlasUnavailableError(`${spec.label} could not be loaded (${firstError}). Install it with: ${install}`);
  }
  let sgemm: Sgemm;
  let setThreads: (n: number) => void;
  let rawVersion: unknown;
  try {
    sgemm = lib.func('void cblas_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta, _Inout_ float *C, int ldc)') as Sgemm;
    setThreads = lib.func(spec.threadsFn) as (n: number) => void;
    rawVersion = lib.func(spec.versionFn)();
  } catch (err) {
    // A shared object that loads but lacks the functions (libz, another BLAS under the wrong name).
    const what = (err as Error).message.split('\n')[0];
    throw new BlasUnavailableError(/cblas_sgemm/.test(what ?? '') ? `${path} loaded but is not a CBLAS library (${what})` : `${path} loaded but is not ${spec.label} (${what})`);
  }
  const text = typeof rawVersion === 'string' ? rawVersion.trim() : '';
  // OpenBLAS's config string starts with its name; BLIS's is the bare version number.
  const version = text.startsWith(spec.label) ? text : `${spec.label} ${text}`.trim();
  // The OpenMP build of BLIS is the one that crashes at exit after running threads; a BLIS file
  // named by the caller is taken as OpenMP unless its path says pthread.
  const threadSafe = library === 'openblas' || path.includes('blis-pthread');
  const entry = { sgemm, setThreads, version, file: path, threadSafe, threads: threadCountOf(path) };
  loaded.set(`${library}:${candidates.join(':')}`, entry);
  return entry;
}

/** What a BLAS kernel set runs on. */
export interface BlasInfo {
  readonly library: BlasLibrary;
  /** The library's own version/config string, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64`. */
  readonly version: string;
  readonly threads: number;
  /** The file that loaded (e.g. /usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4). */
  readonly file: string;
}

/**
 * gemm on the system BLAS (cblas_sgemm, single precision, row-major). Every call is checked
 * ({@link checkGemm}) before it crosses the FFI boundary, where a wrong size would corrupt
 * memory instead of throwing. The thread count is the library's, process-wide; each set restores
 * its own before a call when another set changed it.
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
    // The count is the library's, process-wide: another kernel set (a second learner, the reward
    // classifier, a benchmark row) may have set its own since this one last ran.
    if (this.lib.threads.current !== this.info.threads) {
      this.lib.setThreads(this.info.threads);
      this.lib.threads.current = this.info.threads;
    }
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
   * Which library. `auto`: BLIS first, then OpenBLAS — on more than one thread BLIS only in its
   * pthread build (libblis4-pthread). Measured here (docs/benchmarks.md): BLIS's sgemm is ~3–4×
   * faster than OpenBLAS 0.3.21's on one thread and faster on two; Debian's OpenMP build of BLIS
   * crashes the process at exit once it has started threads (5 of 6 runs), so that build only
   * ever runs on one. Default `auto`.
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
  // A file under `auto`: whichever of the two it is (each library's own thread function tells).
  const order: BlasLibrary[] = !auto ? [options.library as BlasLibrary] : options.file ? ['openblas', 'blis'] : ['blis', 'openblas'];
  const errors: string[] = [];
  for (const library of order) {
    try {
      const lib = await openBlas(library, options.file);
      if (threads > 1 && !lib.threadSafe) {
        throw new BlasUnavailableError(`BLIS at ${lib.file} is the OpenMP build, which crashes the process at exit once it has started threads: it runs on one thread only. For ${threads} threads install the pthread build (${BLIS_INSTALL}) or OpenBLAS (${BLAS_INSTALL})`);
      }
      lib.setThreads(threads);
      lib.threads.current = threads;
      return new BlasKernels(lib, { library, version: lib.version, threads, file: lib.file });
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  throw new BlasUnavailableError(errors.length === 1 ? (errors[0] as string) : `No BLAS library loaded (${errors.join('; ')}). Install one with: ${BLAS_INSTALL}`);
}
