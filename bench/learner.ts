import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { percentile } from '../control/running-stats.js';
import { Rng } from '../control/rng.js';
import { selectBackend } from '../policies/backend.js';
import { loadBlasKernels, type BlasLibrary } from '../policies/kernels/blas.js';
import type { Kernels } from '../policies/kernels/kernels.js';
import { TfjsKernels } from '../policies/kernels/tfjs.js';
import { MlpPass } from '../policies/nn/net.js';
import { allocBatch, type Batch, type ReplaySpec } from '../policies/replay.js';
import { GaussianActor } from '../policies/sac/actor.js';
import { resolveSacConfig, SacConfigSchema } from '../policies/sac/config.js';
import { SacLearner } from '../policies/sac/sac.js';
import { squashedSampleInto } from '../policies/sac/squashed-gaussian.js';

/** One row: a compute path at a thread count. */
export interface LearnerRow {
  /** `blas-openblas`, `blas-blis`, `wasm`, `cpu`, `tensorflow`, `pytorch`. */
  readonly name: string;
  readonly threads: number;
  /** One SAC update: critic step + actor step + temperature + Polyak; batch 256, 256×256, 2 critics, obs 17, action 6. Median ms. */
  readonly sacUpdateMs: number;
  /** CPU time of the process per update (all its threads; mean ms): less sensitive to a loaded machine than wall time. */
  readonly sacUpdateCpuMs: number;
  /** One stochastic action at batch 1 through this path's networks (µs, p50 and p99). */
  readonly inferP50Us: number;
  readonly inferP99Us: number;
}

/** SAC from pixels (issue 23): one update with the conv encoder, on one compute path. */
export interface PixelRow {
  readonly name: string;
  readonly threads: number;
  readonly batch: number;
  /** One update (critic step with the encoder's backward, actor step, temperature, Polyak) on a 64×64×3 camera + 17-dim state; median ms. */
  readonly pixelUpdateMs: number;
  /** CPU time of the process per update (mean ms). */
  readonly pixelUpdateCpuMs: number;
  /** A frozen encoder (`encoder.frozen`: a pretrained one, `encoder.init`): no conv backward, no encoder Adam or Polyak. */
  readonly frozen: boolean;
}

export interface LearnerBenchmark {
  readonly rows: LearnerRow[];
  /** `pixelUpdateMs` at batch 128 and 256: the state bench's networks plus the default conv encoder (algo.encoder {kind: conv}). */
  readonly pixelRows: PixelRow[];
  /** The actor's own batch-1 path (typed-array MlpJs, no kernels), µs. */
  readonly actorInference: { readonly p50Us: number; readonly p99Us: number };
  /** SAC update time over PyTorch's on 1 thread, per row (when PyTorch ran). */
  readonly vsPytorch1?: Record<string, number>;
  readonly loadAverage: number[];
}

const OBS = 17;
const ACT = 6;

/**
 * A batch of `size` random transitions for timing updates: observations, actions (squashed by
 * tanh), rewards and next observations ~ 0.5·N(0, 1), camera frames uniform bytes, `discount`.
 */
export function randomBatch(rng: Rng, spec: ReplaySpec, size: number, discount: number): Batch {
  const batch = allocBatch(spec, size);
  for (const arr of [batch.obs, batch.action, batch.reward, batch.nextObs]) for (let i = 0; i < arr.length; i++) arr[i] = 0.5 * rng.normal();
  for (let i = 0; i < batch.action.length; i++) batch.action[i] = Math.tanh(batch.action[i] as number);
  for (const f of [...(batch.frames ?? []), ...(batch.nextFrames ?? [])]) for (let i = 0; i < f.length; i++) f[i] = rng.int(256);
  batch.discount.fill(discount);
  return batch;
}

/** Median wall ms and mean CPU ms of `reps` updates on `batches`, after `warmup` untimed ones; disposes the learner. */
function timeUpdates(learner: SacLearner, batches: Batch[], reps: number, warmup: number): { wall: number; cpu: number } {
  for (let i = 0; i < warmup; i++) learner.update(batches);
  const times: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    learner.update(batches);
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(c0);
  learner.dispose();
  return { wall: percentile(times, 0.5), cpu: (cpu.user + cpu.system) / 1000 / reps };
}

function sacUpdateMs(kernels: Kernels, reps: number): { wall: number; cpu: number } {
  const rng = new Rng(0);
  const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac' })), OBS, ACT, rng, [], 0, kernels);
  const batch = randomBatch(rng, { capacity: 1, obsDim: OBS, actDim: ACT, costDim: 0 }, 256, 0.99);
  return timeUpdates(learner, [batch], reps, Math.min(5, reps));
}

const PIXEL_CAMERA = [{ name: 'front', height: 64, width: 64, channels: 3 }];

function pixelUpdateMs(kernels: Kernels, batchSize: number, reps: number, frozen: boolean): { wall: number; cpu: number } {
  const rng = new Rng(0);
  const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', encoder: { kind: 'conv', frozen } })), OBS, ACT, rng, [], 0, kernels, PIXEL_CAMERA);
  const batch = randomBatch(rng, { capacity: 1, obsDim: OBS, actDim: ACT, costDim: 0, cameras: PIXEL_CAMERA }, batchSize, 0.99);
  return timeUpdates(learner, [batch], reps, 1);
}

async function pixelRows(name: string, threads: number, kernels: Kernels, reps: number): Promise<PixelRow[]> {
  process.stderr.write(`bench learner: pixels on ${name}, ${threads} thread(s)…\n`);
  const out: PixelRow[] = [];
  for (const batch of [128, 256]) {
    for (const frozen of [false, true]) {
      const ms = pixelUpdateMs(kernels, batch, reps, frozen);
      out.push({ name, threads, batch, pixelUpdateMs: ms.wall, pixelUpdateCpuMs: ms.cpu, frozen });
      await new Promise((r) => setImmediate(r));
    }
  }
  return out;
}

/** Batch-1 stochastic action through MlpPass on `kernels` (what a learner-side actor on this path would run). */
function inferUs(kernels: Kernels, reps: number): { p50: number; p99: number } {
  const rng = new Rng(1);
  const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac' })), OBS, ACT, rng, [], 0, kernels);
  const pass = new MlpPass(learner.actor.spec, 1, kernels);
  const obs = Float32Array.from({ length: OBS }, () => rng.normal());
  const eps = new Float32Array(ACT);
  const into = { logStd: new Float32Array(ACT), u: new Float32Array(ACT), action: new Float32Array(ACT), logProb: new Float32Array(1) };
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    for (let j = 0; j < ACT; j++) eps[j] = rng.normal();
    squashedSampleInto(pass.forward(learner.actor, obs), eps, 1, ACT, -5, 2, into);
    if (i >= reps / 10) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function actorInference(): { p50Us: number; p99Us: number } {
  const rng = new Rng(1);
  const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac' })), OBS, ACT, rng);
  const actor = new GaussianActor(learner.snapshot(), new Rng(1));
  const obs = Float32Array.from({ length: OBS }, () => rng.normal());
  const times: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t0 = process.hrtime.bigint();
    actor.act(obs, false);
    if (i >= 1000) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return { p50Us: percentile(times, 0.5), p99Us: percentile(times, 0.99) };
}

async function row(name: string, threads: number, kernels: Kernels, slow = false): Promise<LearnerRow> {
  process.stderr.write(`bench learner: ${name}, ${threads} thread(s)…\n`);
  const ms = sacUpdateMs(kernels, slow ? 3 : 40);
  const infer = inferUs(kernels, slow ? 300 : 5000);
  await new Promise((r) => setImmediate(r));
  return { name, threads, sacUpdateMs: ms.wall, sacUpdateCpuMs: ms.cpu, inferP50Us: infer.p50, inferP99Us: infer.p99 };
}

/** PyTorch rows from bench/torch_sac.py, when Debian's python3-torch is installed. */
function pytorchRows(threads: number[]): LearnerRow[] {
  const env = { ...process.env };
  // The machines set OPENBLAS_CORETYPE for old builds' sake; PyTorch's own BLAS runs without it.
  delete env['OPENBLAS_CORETYPE'];
  // Debian's python3-torch lives in the system Python, which a pyenv shim first on PATH hides.
  const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { env, encoding: 'utf8' }).status === 0);
  if (!python) {
    process.stderr.write('bench learner: python3-torch not installed, no PyTorch row\n');
    return [];
  }
  process.stderr.write(`bench learner: pytorch, threads ${threads.join(', ')}…\n`);
  const script = fileURLToPath(new URL('./torch_sac.py', import.meta.url));
  // One process per thread count: Debian's torch does its matrix products in the system OpenBLAS,
  // which sizes its own thread pool from the environment at load and ignores torch.set_num_threads
  // (a "1-thread" PyTorch measured 2 cores of CPU time per update before this).
  const lines: string[] = [];
  for (const n of threads) {
    const pinned = { ...env, OPENBLAS_NUM_THREADS: String(n), OMP_NUM_THREADS: String(n), MKL_NUM_THREADS: String(n) };
    const run = spawnSync(python, [script, String(n)], { env: pinned, encoding: 'utf8', timeout: 600_000 });
    if (run.status !== 0) {
      process.stderr.write(`bench learner: PyTorch failed: ${run.stderr.slice(-500)}\n`);
      return [];
    }
    lines.push(...run.stdout.split('\n'));
  }
  return lines
    .filter((l) => l.trim())
    .map((l) => {
      const r: unknown = JSON.parse(l);
      if (typeof r !== 'object' || r === null) throw new Error(`bench learner: unexpected PyTorch output ${l}`);
      const get = (k: string): number => {
        const v: unknown = (r as Record<string, unknown>)[k];
        if (typeof v !== 'number') throw new Error(`bench learner: PyTorch output lacks ${k}: ${l}`);
        return v;
      };
      return { name: 'pytorch', threads: get('threads'), sacUpdateMs: get('sacUpdateMs'), sacUpdateCpuMs: get('sacUpdateCpuMs'), inferP50Us: get('inferP50Us'), inferP99Us: get('inferP99Us') };
    });
}

export async function learnerBenchmark(json: boolean): Promise<LearnerBenchmark> {
  const rows: LearnerRow[] = [];
  const pixels: PixelRow[] = [];
  // LEARNER_ONLY=pixels: only pixelUpdateMs, on BLIS (auto's first choice) and wasm — the full run takes ~25 min on a loaded machine.
  const pixelsOnly = process.env['LEARNER_ONLY'] === 'pixels';
  const threadCounts = [...new Set([1, 2, availableParallelism()])].filter((t) => t <= Math.max(2, availableParallelism()));
  for (const library of (pixelsOnly ? ['blis'] : ['openblas', 'blis']) as BlasLibrary[]) {
    // BLIS on more than one thread only in its pthread build (loadBlasKernels refuses the OpenMP one).
    for (const threads of threadCounts) {
      try {
        const kernels = await loadBlasKernels({ library, threads });
        if (!pixelsOnly) rows.push(await row(`blas-${library}`, threads, kernels));
        pixels.push(...(await pixelRows(`blas-${library}`, threads, kernels, pixelsOnly ? 3 : 5)));
      } catch (err) {
        process.stderr.write(`bench learner: blas-${library} skipped: ${(err as Error).message}\n`);
        break;
      }
    }
  }
  for (const name of (pixelsOnly ? ['wasm'] : ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']) as ('tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu')[]) {
    try {
      const info = await selectBackend(name);
      if (info.name === 'blas') continue;
      if (!pixelsOnly) rows.push(await row(name, 1, new TfjsKernels(), name === 'cpu'));
      // tfjs's cpu backend would take minutes per pixel update.
      if (name !== 'cpu') pixels.push(...(await pixelRows(name, 1, new TfjsKernels(), 3)));
    } catch {
      process.stderr.write(`bench learner: ${name} not installed, skipped\n`);
    }
  }
  const actor = actorInference();
  const torch = pixelsOnly ? [] : pytorchRows([1, 2]);
  rows.push(...torch);
  const torch1 = torch.find((r) => r.threads === 1);
  const vsPytorch1 = torch1 ? Object.fromEntries(rows.filter((r) => r.name !== 'pytorch').map((r) => [`${r.name}/${r.threads}`, r.sacUpdateMs / torch1.sacUpdateMs])) : undefined;
  const { loadavg } = await import('node:os');
  const result: LearnerBenchmark = { rows, pixelRows: pixels, actorInference: actor, ...(vsPytorch1 ? { vsPytorch1 } : {}), loadAverage: loadavg() };
  if (!json) {
    for (const r of rows) process.stdout.write(`${r.name.padEnd(14)} ${String(r.threads).padStart(2)} thread(s): SAC update ${r.sacUpdateMs.toFixed(2)} ms (CPU ${r.sacUpdateCpuMs.toFixed(2)} ms) · batch-1 action p50 ${r.inferP50Us.toFixed(1)} µs p99 ${r.inferP99Us.toFixed(1)} µs${vsPytorch1?.[`${r.name}/${r.threads}`] !== undefined ? ` · ${(vsPytorch1[`${r.name}/${r.threads}`] as number).toFixed(2)}× PyTorch 1-thread` : ''}\n`);
    for (const r of pixels) process.stdout.write(`${r.name.padEnd(14)} ${String(r.threads).padStart(2)} thread(s): pixel SAC update, batch ${r.batch}${r.frozen ? ', frozen encoder' : ''}: ${r.pixelUpdateMs.toFixed(1)} ms (CPU ${r.pixelUpdateCpuMs.toFixed(1)} ms)\n`);
    process.stdout.write(`actor (typed-array MlpJs, batch 1): p50 ${actor.p50Us.toFixed(1)} µs p99 ${actor.p99Us.toFixed(1)} µs\n`);
  }
  return result;
}
