import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradient functions; the @tensorflow/tfjs bundle registers
// them into tfjs's global registry (shared with tfjs-core) when loaded.
import '@tensorflow/tfjs';

/** Tensor backends, fastest first. `tensorflow` is what tfjs-node(-gpu) registers. */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** tfjs backend name now active. */
  readonly name: string;
  /** The npm package that provided it. */
  readonly package: string;
  /** Whether a CUDA GPU is in use. */
  readonly gpu: boolean;
}

const INSTALL: Record<Exclude<BackendName, 'auto'>, string> = {
  'tensorflow-gpu': 'npm install @tensorflow/tfjs-node-gpu@4.22.0   (needs CUDA 11.2 + cuDNN 8.1 and internet access for its libtensorflow download)',
  tensorflow: 'npm install @tensorflow/tfjs-node@4.22.0   (its install script downloads libtensorflow, so it needs internet access)',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm@4.22.0',
  cpu: 'npm install @tensorflow/tfjs-backend-cpu@4.22.0',
};

export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

let active: BackendInfo | null = null;

/**
 * Selects the tensor backend. `auto` tries tfjs-node-gpu → tfjs-node → wasm → cpu and takes the
 * first that loads; the native ones are optional dependencies that most machines without
 * internet access cannot install. Naming a backend that is not installed throws a
 * {@link BackendUnavailableError} saying how to install it. Idempotent per process for the same
 * choice; every run logs the returned {@link BackendInfo}.
 */
export async function selectBackend(choice: BackendName = 'auto'): Promise<BackendInfo> {
  if (active && (choice === 'auto' || matches(active, choice))) return active;
  const order: Exclude<BackendName, 'auto'>[] = choice === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [choice];
  const errors: string[] = [];
  for (const name of order) {
    try {
      active = await load(name);
      return active;
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (choice !== 'auto') throw new BackendUnavailableError(`Tensor backend "${choice}" is not available (${errors.join('; ')}). Install it with: ${INSTALL[choice]}`);
  throw new BackendUnavailableError(`No tensor backend could be loaded: ${errors.join('; ')}`);
}

/** The backend chosen by {@link selectBackend}, or null before. */
export function activeBackend(): BackendInfo | null {
  return active;
}

function matches(info: BackendInfo, choice: BackendName): boolean {
  return choice === 'tensorflow-gpu' ? info.gpu : choice === 'tensorflow' ? info.name === 'tensorflow' && !info.gpu : info.name === choice;
}

async function load(name: Exclude<BackendName, 'auto'>): Promise<BackendInfo> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // Optional dependency: a computed specifier keeps bundlers and tsc from requiring it.
      await import(/* @vite-ignore */ pkg as string);
      await activate('tensorflow');
      return { name: 'tensorflow', package: pkg, gpu: name === 'tensorflow-gpu' };
    }
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      await activate('wasm');
      return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', gpu: false };
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      await activate('cpu');
      return { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', gpu: false };
  }
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

/** One line for logs: `tensor backend: wasm (@tensorflow/tfjs-backend-wasm)`. */
export function describeBackend(info: BackendInfo): string {
  return `tensor backend: ${info.name}${info.gpu ? ' (GPU)' : ''} (${info.package})`;
}
