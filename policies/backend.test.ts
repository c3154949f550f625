import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../experiment/config.js';
import { useBackend } from '../experiment/setup.js';
import { tinySacConfig } from '../cli/test-configs.js';
import { activeBackend, DEFAULT_TRAIN_THREADS, selectBackend } from './backend.js';

afterAll(async () => {
  await selectBackend('wasm');
});

describe('compute backend of a run', () => {
  it('backend: blas with train.threads logs the backend, the BLAS library and its thread count', async () => {
    const raw = parse(tinySacConfig(100)) as Record<string, unknown>;
    const config = validateConfig({ ...raw, backend: 'blas', train: { ...(raw['train'] as object), threads: 1 } }, 'test');
    const lines: string[] = [];
    await useBackend(config, (s) => lines.push(s));
    expect(lines).toEqual([expect.stringMatching(/^compute backend: blas \((OpenBLAS|BLIS) [^,]*, 1 thread; tfjs wasm beside it\)$/)]);
    expect(activeBackend()?.blas?.threads).toBe(1);
  });

  it('train.threads defaults to one (a second BLIS thread spins when the cores are busy); bad values are refused', async () => {
    const raw = parse(tinySacConfig(100)) as Record<string, unknown>;
    const config = validateConfig({ ...raw, backend: 'blas' }, 'test');
    await useBackend(config, () => {});
    expect(activeBackend()?.blas?.threads).toBe(1);
    expect(DEFAULT_TRAIN_THREADS).toBe(1);
    expect(() => validateConfig({ ...raw, train: { ...(raw['train'] as object), threads: 0 } }, 'test')).toThrow(/threads/);
    expect(() => validateConfig({ ...raw, backend: 'blast' }, 'test')).toThrow(/backend/);
  });
});
