import { percentile } from '../control/running-stats.js';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../control/rng.js';
import { selectBackend, type BackendName } from '../policies/backend.js';
import { mlpForward } from '../policies/nn/mlp.js';
import { allocBatch } from '../policies/replay.js';
import { GaussianActor } from '../policies/sac/actor.js';
import { resolveSacConfig, SacConfigSchema } from '../policies/sac/config.js';
import { SacLearner } from '../policies/sac/sac.js';

export interface LearnerBackendResult {
  readonly name: string;
  /** One SAC update: critic step + actor step + temperature + Polyak; batch 256, 256×256, 2 critics, obs 17, action 6. Median ms. */
  readonly sacUpdateMs: number;
  /** Per-tick policy inference as the actor runs it (typed-array MLP, batch 1, stochastic action), µs. */
  readonly inferP50Us: number;
  readonly inferP99Us: number;
  /** The same forward pass through tfjs on this backend (batch 1, incl. dataSync), µs. */
  readonly tfInferP50Us: number;
  readonly tfInferP99Us: number;
  /** Kernel launches in one update (tf.profile). */
  readonly kernelsPerUpdate: number;
}


async function measure(name: Exclude<BackendName, 'auto'>): Promise<LearnerBackendResult | null> {
  try {
    await selectBackend(name);
  } catch {
    return null;
  }
  const rng = new Rng(0);
  const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac' })), 17, 6, rng);
  const batch = allocBatch({ capacity: 1, obsDim: 17, actDim: 6, costDim: 0 }, 256);
  for (const arr of [batch.obs, batch.action, batch.reward, batch.nextObs]) for (let i = 0; i < arr.length; i++) arr[i] = 0.5 * rng.normal();
  batch.discount.fill(0.99);
  const slow = name === 'cpu';
  for (let i = 0; i < (slow ? 1 : 5); i++) learner.update([batch]);
  const times: number[] = [];
  for (let i = 0; i < (slow ? 3 : 40); i++) {
    const t0 = performance.now();
    learner.update([batch]);
    times.push(performance.now() - t0);
  }
  const profile = await tf.profile(() => void learner.update([batch]));
  const kernels = profile.kernels.filter((k) => !/scope|forward|__op/.test(k.name)).length;

  const actor = new GaussianActor(learner.snapshot(), new Rng(1));
  const obs = Float32Array.from({ length: 17 }, () => rng.normal());
  const infer: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t0 = process.hrtime.bigint();
    actor.act(obs, false);
    if (i >= 1000) infer.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const tfInfer: number[] = [];
  const x = tf.tensor2d(obs, [1, 17]);
  for (let i = 0; i < (slow ? 500 : 5000); i++) {
    const t0 = process.hrtime.bigint();
    tf.tidy(() => mlpForward(learner.actor, x).dataSync());
    if (i >= 100) tfInfer.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  x.dispose();
  learner.dispose();
  return {
    name,
    sacUpdateMs: percentile(times, 0.5),
    inferP50Us: percentile(infer, 0.5),
    inferP99Us: percentile(infer, 0.99),
    tfInferP50Us: percentile(tfInfer, 0.5),
    tfInferP99Us: percentile(tfInfer, 0.99),
    kernelsPerUpdate: kernels,
  };
}

export async function learnerBenchmark(json: boolean): Promise<{ backends: LearnerBackendResult[] }> {
  const backends: LearnerBackendResult[] = [];
  for (const name of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const) {
    process.stderr.write(`bench learner: ${name}…\n`);
    const r = await measure(name);
    if (r) backends.push(r);
    else process.stderr.write(`bench learner: ${name} not installed, skipped\n`);
  }
  if (!json) for (const b of backends) process.stdout.write(`${b.name}: SAC update ${b.sacUpdateMs.toFixed(2)} ms (${b.kernelsPerUpdate} kernels) · actor inference p50 ${b.inferP50Us.toFixed(1)} µs p99 ${b.inferP99Us.toFixed(1)} µs · tfjs batch-1 p50 ${b.tfInferP50Us.toFixed(1)} µs p99 ${b.tfInferP99Us.toFixed(1)} µs\n`);
  return { backends };
}
