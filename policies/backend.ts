import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradient functions; the @tensorflow/tfjs bundle registers
// them into tfjs's global registry (shared with tfjs-core) when loaded.
import '@tensorflow/tfjs';
import { BLAS_INSTALL, loadBlasKernels, type BlasInfo } from './kernels/blas.js';
import type { Kernels } from './kernels/kernels.js';
import { TfjsKernels } from './kernels/tfjs.js';

/**
 * Compute backends, fastest first. `blas`: the networks' matrix products on the system BLAS
 * (OpenBLAS through koffi, issue 20); `tensorflow` is what tfjs-node(-gpu) registers.
 */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'blas' | 'tensorflow' | 'wasm' | 'cpu';

/** Every name {@link selectBackend} takes, for configs and flags. */
export const BACKEND_NAMES = ['auto', 'tensorflow-gpu', 'blas', 'tensorflow', 'wasm', 'cpu'] as const satisfies readonly BackendName[];

export interface BackendInfo {
  /** Backend now active: `blas`, or the tfjs backend's name. */
  readonly name: string;
  /** The npm package that provided it. */
  readonly package: string;
  /** Whether a CUDA GPU is in use. */
  readonly gpu: boolean;
  /** Where the networks' matrix products run (the {@link Kernels}' name). */
  readonly kernels: string;
  /** The BLAS library, its version and thread count (`blas` only). */
  readonly blas?: BlasInfo;
  /** The tfjs backend beside it (what is not a network of ours: the reward classifier's CNN, tests' references). */
  readonly tfjs: string;
  /** How to get a faster one, when `auto` settled for a tfjs CPU backend because the BLAS did not load. */
  readonly hint?: string;
}

/** Options of {@link selectBackend}. */
export interface BackendOptions {
  /** BLAS threads (`blas`). Default {@link DEFAULT_TRAIN_THREADS}. */
  readonly threads?: number;
  /** A BLAS library path instead of libopenblas.so.0 (a custom build). */
  readonly blasFile?: string;
}

const INSTALL: Record<Exclude<BackendName, 'auto'>, string> = {
  'tensorflow-gpu': 'npm install @tensorflow/tfjs-node-gpu@4.22.0   (needs CUDA 11.2 + cuDNN 8.1 and internet access for its libtensorflow download)',
  blas: `${BLAS_INSTALL}   (Debian/Ubuntu; the koffi npm package is already a dependency)`,
  tensorflow: 'npm install @tensorflow/tfjs-node@4.22.0   (its install script downloads libtensorflow, so it needs internet access)',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm@4.22.0',
  cpu: 'npm install @tensorflow/tfjs-backend-cpu@4.22.0',
};

export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

let active: BackendInfo | null = null;
let kernels: Kernels | null = null;

/**
 * The number of BLAS threads training uses unless `train.threads` says otherwise: one. A second thread buys ~1.17× on a quiet
 * machine (SAC update 43.9 → 37.6 ms, docs/benchmarks.md), but BLIS's threads wait for each
 * other by spinning, so when another process holds the cores every product waits for a thread
 * that is not running: a 150-step PandaReach run with 16×16 networks took 2.3 s alone and over
 * 100 s beside `stress-ng --cpu 2` on two threads, 6.3 s on one. `train.threads` asks for more
 * on a machine the run has to itself (leave a core to actors on worker threads).
 */
export const DEFAULT_TRAIN_THREADS = 1;

/**
 * Selects the compute backend. `auto` tries tfjs-node-gpu → blas → tfjs-node → wasm → cpu and
 * takes the first that loads (the system BLAS runs the networks' matrix products several times
 * faster than tfjs-wasm: docs/benchmarks.md); the native tfjs ones are optional
 * dependencies that most machines without internet access cannot install. Naming a backend that
 * is not installed throws a {@link BackendUnavailableError} saying how to install it.
 * Idempotent per process for the same choice; every run logs {@link describeBackend}.
 */
export async function selectBackend(choice: BackendName = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  const sameThreads = active?.name !== 'blas' || options.threads === undefined || active.blas?.threads === options.threads;
  if (active && (choice === 'auto' || matches(active, choice)) && sameThreads && options.blasFile === undefined) return active;
  const order: Exclude<BackendName, 'auto'>[] = choice === 'auto' ? ['tensorflow-gpu', 'blas', 'tensorflow', 'wasm', 'cpu'] : [choice];
  const errors: string[] = [];
  for (const name of order) {
    try {
      const info = await load(name, options);
      const slow = choice === 'auto' && (name === 'wasm' || name === 'cpu') && errors.some((e) => e.startsWith('blas:'));
      active = slow ? { ...info, hint: `for native speed: ${BLAS_INSTALL}` } : info;
      return active;
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (choice !== 'auto') throw new BackendUnavailableError(`Compute backend "${choice}" is not available (${errors.join('; ')}). Install it with: ${INSTALL[choice]}`);
  throw new BackendUnavailableError(`No compute backend could be loaded: ${errors.join('; ')}`);
}

/** The backend chosen by {@link selectBackend}, or null before. */
export function activeBackend(): BackendInfo | null {
  return active;
}

/** The kernels {@link selectBackend} chose; before any choice, tfjs on its current backend. */
export function activeKernels(): Kernels {
  return kernels ?? new TfjsKernels();
}

function matches(info: BackendInfo, choice: BackendName): boolean {
  return choice === 'tensorflow-gpu' ? info.gpu : choice === 'tensorflow' ? info.name === 'tensorflow' && !info.gpu : info.name === choice;
}

async function load(name: Exclude<BackendName, 'auto'>, options: BackendOptions): Promise<BackendInfo> {
  if (name === 'blas') {
    const blas = await loadBlasKernels({ threads: options.threads ?? DEFAULT_TRAIN_THREADS, ...(options.blasFile ? { file: options.blasFile } : {}) });
    // tfjs stays available beside the BLAS for what is not one of our networks.
    const tfjs = active && active.name !== 'blas' ? active : await loadTfjs('wasm').catch(() => loadTfjs('cpu'));
    kernels = blas;
    return { name: 'blas', package: `koffi + ${blas.info.file}`, gpu: false, kernels: blas.name, blas: blas.info, tfjs: tfjs.tfjs };
  }
  const info = await loadTfjs(name);
  kernels = new TfjsKernels();
  return info;
}

async function loadTfjs(name: Exclude<BackendName, 'auto' | 'blas'>): Promise<BackendInfo> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // Optional dependency: a computed specifier keeps bundlers and tsc from requiring it.
      await import(/* @vite-ignore */ pkg as string);
      await activate('tensorflow');
      return tfjsInfo('tensorflow', pkg, name === 'tensorflow-gpu');
    }
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      await activate('wasm');
      return tfjsInfo('wasm', '@tensorflow/tfjs-backend-wasm', false);
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      await activate('cpu');
      return tfjsInfo('cpu', '@tensorflow/tfjs-backend-cpu', false);
  }
}

function tfjsInfo(name: string, pkg: string, gpu: boolean): BackendInfo {
  return { name, package: pkg, gpu, kernels: `tfjs (${name})`, tfjs: name };
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

/**
 * One line for logs: `compute backend: blas (OpenBLAS 0.3.21 …, 2 threads; tfjs wasm beside it)`
 * or `compute backend: wasm (@tensorflow/tfjs-backend-wasm)`.
 */
export function describeBackend(info: BackendInfo): string {
  if (info.blas) return `compute backend: blas (${info.blas.version || info.blas.library}, ${info.blas.threads} thread${info.blas.threads === 1 ? '' : 's'}; tfjs ${info.tfjs} beside it)`;
  return `compute backend: ${info.name}${info.gpu ? ' (GPU)' : ''} (${info.package})${info.hint ? ` — ${info.hint}` : ''}`;
}
