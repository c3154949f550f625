import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../policies/backend.js';

const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
const config = fileURLToPath(new URL('../configs/pendulum-sac-quick.yaml', import.meta.url));

/** A fixed amount of tensor work (200 wasm matMuls of 256³), timed beside the run: how fast this machine is today. */
async function referenceSeconds(): Promise<number> {
  await selectBackend('wasm');
  const a = tf.randomNormal([256, 256]);
  const b = tf.randomNormal([256, 256]);
  for (let i = 0; i < 20; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
  const s = (performance.now() - t0) / 1000;
  a.dispose();
  b.dispose();
  return s;
}

/**
 * The README's quick start exactly as a newcomer runs it (`roborl train
 * configs/pendulum-sac-quick.yaml`, a fresh run folder): wall time, final deterministic
 * evaluation, and the same reference workload timed before and after, so a slow day shows as
 * a slow reference, not as a regression.
 */
export async function quickstartBenchmark(json: boolean): Promise<unknown> {
  const repeats = Number(process.env['QUICKSTART_RUNS'] ?? 1);
  const refBefore = await referenceSeconds();
  const runs = Array.from({ length: repeats }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-quick-'));
    const t0 = performance.now();
    const out = execFileSync(process.execPath, [bin, 'train', config, '--run-dir', join(dir, 'run'), '--quiet'], { encoding: 'utf8' });
    const seconds = (performance.now() - t0) / 1000;
    const evals = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step: number; returnMean?: number; successRate?: number })
      .filter((r) => r.type === 'eval');
    const final = evals.at(-1);
    return { seconds, finalReturn: final?.returnMean ?? Number.NaN, finalSuccess: final?.successRate ?? Number.NaN, summary: out.trim().split('\n')[0] };
  });
  const refAfter = await referenceSeconds();
  const reference = (refBefore + refAfter) / 2;
  const result = { runs, referenceSeconds: reference, secondsPerReference: runs.map((r) => r.seconds / reference) };
  if (!json) for (const r of runs) process.stdout.write(`quick start: ${r.seconds.toFixed(1)} s, final return ${r.finalReturn.toFixed(1)}, success ${(100 * r.finalSuccess).toFixed(0)}% (reference workload ${reference.toFixed(2)} s → ${(r.seconds / reference).toFixed(1)}× it)\n`);
  return result;
}
