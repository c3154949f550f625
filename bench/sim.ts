import { isSyncEnv, type Env } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { sample } from '../control/spaces.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { PhysicsTask } from '../sim/physics-task.js';
import { listEnvs, make } from '../sim/registry.js';
import { VectorEnv } from '../sim/vector-env.js';

export interface SimTaskResult {
  readonly id: string;
  /** Env steps/s of one env through the public async API (`make(id)`: time limit included). */
  readonly stepsPerSec: number;
  /** Env steps/s summed over a VectorEnv of 8 (async API, autoreset). */
  readonly vecStepsPerSec: number;
  /** µs per control step of the raw env's synchronous step (physics + task work). */
  readonly envStepUs: number;
  /** µs of raw `world.step()` calls per control step on the same world; null for analytic tasks. */
  readonly physicsStepUs: number | null;
  /** (envStepUs − physicsStepUs) / physicsStepUs, in %; null for analytic tasks. */
  readonly overheadPct: number | null;
  /** µs per seeded reset (Rapier tasks rebuild their world). */
  readonly resetUs: number;
}

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 1.5);

/** Runs `fn` repeatedly for about `seconds`, returning calls per second. */
async function rate(seconds: number, fn: () => Promise<number>): Promise<number> {
  let count = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline) count += await fn();
  return count / ((performance.now() - t0) / 1000);
}

function actionPool(env: Env, n = 4096): Float32Array[] {
  const rng = new Rng(0);
  return Array.from({ length: n }, () => sample(env.spec.actionSpace, rng));
}

async function singleEnvRate(id: string): Promise<number> {
  const env = await make(id);
  const actions = actionPool(env);
  await env.reset({ seed: 0 });
  let i = 0;
  const result = await rate(SECONDS, async () => {
    for (let k = 0; k < 256; k++) {
      const r = await env.step(actions[i++ & 4095] as Float32Array);
      if (r.terminated || r.truncated) await env.reset();
    }
    return 256;
  });
  await env.close();
  return result;
}

async function vectorRate(id: string, n = 8): Promise<number> {
  const vec = await VectorEnv.create(n, () => make(id));
  const single = actionPool(await make(id), 512);
  const batch = Array.from({ length: 64 }, (_, b) => {
    const out = new Float32Array(n * (single[0] as Float32Array).length);
    for (let i = 0; i < n; i++) out.set(single[(b * n + i) % 512] as Float32Array, i * (single[0] as Float32Array).length);
    return out;
  });
  await vec.reset({ seed: 0 });
  let i = 0;
  const result = await rate(SECONDS, async () => {
    for (let k = 0; k < 16; k++) await vec.step(batch[i++ & 63] as Float32Array);
    return 16 * n;
  });
  await vec.close();
  return result;
}

/** Interleaves timed env steps and timed raw-physics control periods on the same world. */
async function envVsPhysics(id: string): Promise<{ envStepUs: number; physicsStepUs: number | null }> {
  const env = unwrap(await make(id));
  if (!isSyncEnv(env)) throw new Error(`${id} has no synchronous fast path`);
  const actions = actionPool(env);
  const physics = env instanceof PhysicsTask ? env : null;
  env.resetSync({ seed: 0 });
  let envNs = 0;
  let physNs = 0;
  let n = 0;
  const deadline = performance.now() + SECONDS * 1000;
  let t = 0;
  while (performance.now() < deadline) {
    for (let k = 0; k < 64; k++) {
      const t0 = process.hrtime.bigint();
      const r = env.stepSync(actions[n & 4095] as Float32Array);
      const t1 = process.hrtime.bigint();
      envNs += Number(t1 - t0);
      if (physics) {
        physics.physicsOnly();
        physNs += Number(process.hrtime.bigint() - t1);
      }
      n++;
      t++;
      const limit = env.spec.maxEpisodeSteps ?? Infinity;
      if (r.terminated || t >= limit) {
        env.resetSync();
        t = 0;
      }
    }
  }
  await env.close();
  return { envStepUs: envNs / n / 1000, physicsStepUs: physics ? physNs / n / 1000 : null };
}

async function resetTime(id: string): Promise<number> {
  const env = unwrap(await make(id));
  if (!isSyncEnv(env)) throw new Error(`${id} has no synchronous fast path`);
  for (let i = 0; i < 50; i++) env.resetSync({ seed: i });
  const perSec = await rate(SECONDS / 2, async () => {
    for (let i = 0; i < 20; i++) env.resetSync({ seed: i });
    return 20;
  });
  await env.close();
  return 1e6 / perSec;
}

export async function simBenchmark(json: boolean): Promise<{ tasks: SimTaskResult[] }> {
  const tasks: SimTaskResult[] = [];
  for (const id of listEnvs()) {
    process.stderr.write(`bench sim: ${id}…\n`);
    const stepsPerSec = await singleEnvRate(id);
    const vecStepsPerSec = await vectorRate(id);
    const { envStepUs, physicsStepUs } = await envVsPhysics(id);
    const resetUs = await resetTime(id);
    tasks.push({ id, stepsPerSec, vecStepsPerSec, envStepUs, physicsStepUs, overheadPct: physicsStepUs === null ? null : (100 * (envStepUs - physicsStepUs)) / physicsStepUs, resetUs });
  }
  if (!json) {
    const rows = tasks.map((t) => [t.id, t.stepsPerSec.toFixed(0), t.vecStepsPerSec.toFixed(0), t.envStepUs.toFixed(2), t.physicsStepUs?.toFixed(2) ?? '-', t.overheadPct === null ? '-' : `${t.overheadPct.toFixed(1)}%`, t.resetUs.toFixed(1)]);
    const header = ['task', 'steps/s', 'vec8 steps/s', 'env µs', 'physics µs', 'overhead', 'reset µs'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
    for (const r of [header, ...rows]) process.stdout.write(`${r.map((cell, c) => cell.padStart(widths[c] as number)).join('  ')}\n`);
  }
  return { tasks };
}
