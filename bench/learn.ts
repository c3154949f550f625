import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { demoConfig, demoStartNamed, recordDemonstrations } from '../experiment/demos.js';
import { loadConfig, type ExperimentConfig } from '../experiment/config.js';
import { demoRecipeOrDefaults, loadRunPolicy, makeLearnerEnv, resolvedAlgo, writeRunDir } from '../experiment/setup.js';
import { EVALUATION_SEED, evaluatePolicy } from '../policies/evaluate.js';
import type { EngineName } from '../sim/physics.js';
import { writeRunStatus } from '../experiment/run-status.js';
import { selectBackend } from '../policies/backend.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { evaluationAt, positiveIntFromEnv } from './env-options.js';
import type { ReplayBuffer } from '../policies/replay.js';
import { OffPolicyTrainer } from '../policies/sac/trainer.js';
import { Rng } from '../control/rng.js';
import { randomBatch } from './learner.js';
import { SacLearner } from '../policies/sac/sac.js';
import { activeKernels } from '../policies/backend.js';

/** Options from the environment, so `npm run bench -- learn --json` stays a one-liner. */
const SEEDS = Number(process.env['LEARN_SEEDS'] ?? 5);
const REACH_SEEDS = Number(process.env['LEARN_REACH_SEEDS'] ?? 3);
const ONLY = process.env['LEARN_ONLY'];
/** Each seed's run folder (config.yaml, metrics.jsonl, checkpoints): roborl plot / compare / dashboard read them. */
const RUNS = process.env['LEARN_RUNS'] ?? join('runs', 'bench-learn');
/** A shorter smoke run (LEARN_STEPS=2000): the configs' own step counts otherwise. */
const STEPS = process.env['LEARN_STEPS'] ? Number(process.env['LEARN_STEPS']) : null;

interface Curve {
  readonly seed: number;
  readonly evals: { step: number; returnMean: number; successRate: number }[];
  readonly seconds: number;
}

/** The seeds to run: LEARN_SEED_LIST (e.g. `1,2`, to add seeds to a measured one) when set, else 0 … count − 1. */
function seedList(count: number): number[] {
  const list = process.env['LEARN_SEED_LIST'];
  if (!list) return Array.from({ length: count }, (_, i) => i);
  // Every entry a written integer: Number('') is 0, and seed 0's run folder would be deleted to retrain it.
  const entries = list.split(',').map((e) => e.trim());
  const seeds = entries.map(Number);
  if (!entries.every((e) => /^\d+$/.test(e)) || new Set(seeds).size !== seeds.length) throw new RangeError(`Expected LEARN_SEED_LIST to be seeds like \`1,2\`, got \`${list}\` (distinct non-negative integers)`);
  return seeds;
}

/** LEARN_THREADS: the learner's BLAS threads (1 when runs share the cores); undefined when unset. */
function learnThreads(): number | undefined {
  return positiveIntFromEnv('LEARN_THREADS');
}

async function trainSeeds(configPath: string, seeds: number, demos?: ReplayBuffer, engine?: EngineName, withoutDemos = false): Promise<(Curve & { dir: string })[]> {
  const loaded = loadConfig(configPath);
  const onIt = engine ? onEngine(loaded, engine) : loaded;
  // SAC beside RLPD: the same config without its demo table (and its own run folders).
  const base: ExperimentConfig = withoutDemos && onIt.algo.kind === 'sac' ? { ...onIt, name: `${onIt.name}-nodemos`, algo: withoutDemoTable(onIt.algo) } : onIt;
  const curves: (Curve & { dir: string })[] = [];
  for (const seed of seedList(seeds)) {
    const config: ExperimentConfig = { ...base, seed, ...(STEPS ? { train: { ...base.train, steps: STEPS, evalEvery: Math.min(base.train.evalEvery, STEPS / 2) } } : {}) };
    const dir = join(RUNS, `${base.name}-seed${seed}`);
    rmSync(dir, { recursive: true, force: true });
    writeRunDir(dir, config);
    writeRunStatus(dir, { state: 'running', pid: process.pid, step: 0, steps: config.train.steps });
    const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
    const t0 = performance.now();
    const trainer = new OffPolicyTrainer({
      env: await makeLearnerEnv(config),
      evalEnv: await makeLearnerEnv(config),
      config: resolvedAlgo(config),
      schedule: { ...config.train, checkpointEvery: config.train.steps },
      seed,
      checkpointDir: join(dir, 'checkpoints'),
      metrics,
      demos,
    });
    await trainer.run();
    trainer.dispose();
    writeRunStatus(dir, { state: 'finished', pid: process.pid, step: config.train.steps, steps: config.train.steps });
    const evals = metrics.read().filter((r) => r.type === 'eval').map((r) => ({ step: r.step, returnMean: r['returnMean'] as number, successRate: r['successRate'] as number }));
    curves.push({ seed, evals, seconds: (performance.now() - t0) / 1000, dir });
    process.stderr.write(`bench learn: ${base.name} seed ${seed}: ${JSON.stringify(evals.at(-1))} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  return curves;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]): number => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

export async function learnBenchmark(json: boolean): Promise<unknown> {
  const threads = learnThreads();
  const backend = await selectBackend('auto', threads ? { threads } : {});
  const out: Record<string, unknown> = { backend: backend.name };
  if (!ONLY || ONLY === 'pendulum') {
    const curves = await trainSeeds('configs/pendulum-sac.yaml', SEEDS);
    const finals = curves.map((c) => (c.evals.at(-1) as { returnMean: number }).returnMean);
    out['pendulum'] = { config: 'configs/pendulum-sac.yaml', steps: STEPS ?? 20000, seeds: curves.map((c) => c.seed), finalReturns: finals, mean: mean(finals), std: std(finals), published: { sac: -157, std: 89 }, target: -200, secondsPerSeed: mean(curves.map((c) => c.seconds)), curves };
    if (!json) process.stdout.write(`Pendulum-v1 SAC @20k: ${mean(finals).toFixed(1)} ± ${std(finals).toFixed(1)} over ${curves.length} seeds (published −157 ± 89)\n`);
  }
  if (ONLY === 'reacher') {
    // SAC beside Stream AC(λ) on the reacher (bench stream), compared at the same env steps.
    const curves = await trainSeeds('configs/reacher-sac.yaml', SEEDS);
    const steps = (curves[0] as Curve).evals.map((e) => e.step);
    out['reacherSac'] = { config: 'configs/reacher-sac.yaml', seeds: curves.map((c) => c.seed), curve: steps.map((step, i) => ({ step, returnMean: mean(curves.map((c) => (c.evals[i] as { returnMean: number }).returnMean)), successMean: mean(curves.map((c) => (c.evals[i] as { successRate: number }).successRate)) })), secondsPerSeed: mean(curves.map((c) => c.seconds)) };
  }
  if (!ONLY || ONLY === 'reach') {
    const { table } = await recordDemonstrations(demoConfig('PandaReach-v0', undefined), 20, 5_000_000, false);
    const curves = await trainSeeds('configs/panda-reach-rlpd.yaml', REACH_SEEDS, table);
    const steps = (curves[0] as Curve).evals.map((e) => e.step);
    const successVsSteps = steps.map((step, i) => ({ step, successMean: mean(curves.map((c) => (c.evals[i] as { successRate: number }).successRate)), returnMean: mean(curves.map((c) => (c.evals[i] as { returnMean: number }).returnMean)) }));
    out['pandaReachRlpd'] = { config: 'configs/panda-reach-rlpd.yaml', demos: 20, seeds: curves.map((c) => c.seed), successVsSteps, secondsPerSeed: mean(curves.map((c) => c.seconds)), curves };
    if (!json) for (const p of successVsSteps) process.stdout.write(`PandaReach-v0 RLPD @${p.step}: success ${(100 * p.successMean).toFixed(0)}%\n`);
  }
  if (ONLY === 'manipulation') out['manipulation'] = await manipulation(json);
  if (ONLY === 'sim2sim') out['sim2sim'] = await simToSim(json);
  if (ONLY === 'speed') out['speed'] = await learnerSpeed(json);
  if (ONLY === 'retune') out['retune'] = await retune(json);
  return out;
}

/**
 * Manipulation (issue 22): PandaPickCube-v0 and PandaPush-v1 in the tool frame (their configs),
 * RLPD with the scripted demos the configs' algo.demos records (pick 20; push 20 from spread
 * starts; LEARN_DEMOS for another count, LEARN_DEMO_STARTS=all|spread; recorded in the config's
 * frame) and SAC without, LEARN_SEEDS
 * seeds each (LEARN_METHODS=rlpd,sac; LEARN_TASKS=pick,push). One row per run: the first
 * evaluation at ≥ 80% success (`stepsTo80`, null if never), the last evaluation's success, and
 * the run's wall-clock.
 */
async function manipulation(json: boolean): Promise<unknown[]> {
  const configs: Record<string, string> = { pick: 'configs/panda-pick-rlpd.yaml', push: 'configs/panda-push-rlpd.yaml' };
  const tasks = (process.env['LEARN_TASKS'] ?? 'pick,push').split(',');
  const methods = (process.env['LEARN_METHODS'] ?? 'rlpd,sac').split(',');
  const rows: { task: string; method: string; seed: number; stepsTo80: number | null; finalSuccess: number; wallClockS: number }[] = [];
  for (const task of tasks) {
    const path = configs[task];
    if (!path) throw new Error(`LEARN_TASKS: unknown task ${task} (pick, push)`);
    // As the config's algo.demos records them (push: 20 from spread starts since 2026-12-06).
    const config = demoConfig(undefined, path);
    const wanted = demoRecipeOrDefaults(config.algo.kind === 'sac' ? config.algo.demos : undefined);
    const demos = Number(process.env['LEARN_DEMOS'] ?? wanted.episodes);
    const startsName = process.env['LEARN_DEMO_STARTS'] ?? wanted.starts;
    if (startsName !== 'all' && startsName !== 'spread') throw new Error(`LEARN_DEMO_STARTS: all or spread, got ${startsName}`);
    const starts = demoStartNamed(startsName);
    const { table } = await recordDemonstrations(config, demos, 5_000_000, false, undefined, starts);
    for (const method of methods) {
      if (method !== 'rlpd' && method !== 'sac') throw new Error(`LEARN_METHODS: unknown method ${method} (rlpd, sac)`);
      const curves = await trainSeeds(path, SEEDS, method === 'rlpd' ? table : undefined, undefined, method === 'sac');
      for (const c of curves) {
        const row = { task: loadConfig(path).env.id, method: method === 'rlpd' ? `rlpd+${demos}demos${starts ? '(spread)' : ''}` : 'sac', seed: c.seed, stepsTo80: c.evals.find((e) => e.successRate >= 0.8)?.step ?? null, finalSuccess: c.evals.at(-1)?.successRate ?? 0, wallClockS: c.seconds };
        rows.push(row);
        if (!json) process.stdout.write(`${row.task} ${row.method} seed ${row.seed}: 80% at ${row.stepsTo80 ?? '—'} steps, final ${(100 * row.finalSuccess).toFixed(0)}%, ${row.wallClockS.toFixed(0)} s\n`);
      }
    }
  }
  return rows;
}

function withoutDemoTable<T extends { demos?: unknown }>(algo: T): T {
  const { demos: _demos, ...rest } = algo;
  return rest as T;
}

/** The config with its task on `engine` (and the engine in its name, so runs do not collide). */
function onEngine(config: ExperimentConfig, engine: EngineName): ExperimentConfig {
  return { ...config, name: `${config.name}-${engine}`, env: { ...config.env, options: { ...config.env.options, engine } } };
}

/**
 * Sim-to-sim transfer (issue 21): RLPD + 20 demos on PandaReach-v0 trained on each engine
 * (REACH_SEEDS seeds, demos recorded on that engine), then each final policy evaluated on both
 * engines, 20 deterministic episodes from the common evaluation seeds. Aim: the other engine
 * keeps ≥ 80% of the success on the engine trained on.
 */
async function simToSim(json: boolean): Promise<unknown[]> {
  const rows: { trainedOn: EngineName; seed: number; success: Record<string, number>; kept: number; seconds: number }[] = [];
  for (const engine of ['rapier', 'mujoco'] as const) {
    const { table } = await recordDemonstrations(onEngine(demoConfig('PandaReach-v0', undefined), engine), 20, 5_000_000, false);
    const curves = await trainSeeds('configs/panda-reach-rlpd.yaml', REACH_SEEDS, table, engine);
    for (const c of curves) {
      const { config, policy } = await loadRunPolicy(c.dir);
      const success: Record<string, number> = {};
      for (const on of ['rapier', 'mujoco'] as const) {
        const env = await makeLearnerEnv({ ...config, env: { ...config.env, options: { ...config.env.options, engine: on } } }, undefined, { evaluation: true });
        success[on] = (await evaluatePolicy(env, policy, 20, EVALUATION_SEED)).successRate;
        await env.close();
      }
      const other = engine === 'rapier' ? 'mujoco' : 'rapier';
      const own = success[engine] as number;
      rows.push({ trainedOn: engine, seed: c.seed, success, kept: own > 0 ? (success[other] as number) / own : Number.NaN, seconds: c.seconds });
      if (!json) process.stdout.write(`PandaReach-v0 trained on ${engine}, seed ${c.seed}: success ${(100 * own).toFixed(0)}% there, ${(100 * (success[other] as number)).toFixed(0)}% on ${other}\n`);
    }
  }
  return rows;
}

/**
 * Trains `config` in a fresh run folder `dir` until its first evaluation that `done` accepts (or
 * the config's steps), with `demos` as the demo table. Evaluations should fall on multiples of
 * 1,000 steps. Returns the step and wall-clock of that evaluation (null if none passed), the
 * run's metrics and its whole wall-clock.
 */
async function trainUntil(config: ExperimentConfig, dir: string, demos: ReplayBuffer | undefined, done: (evaluation: Record<string, unknown>) => boolean): Promise<{ reached: { step: number; seconds: number } | null; metrics: MetricsLog; seconds: number }> {
  rmSync(dir, { recursive: true, force: true });
  writeRunDir(dir, config);
  const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
  let reached: { step: number; seconds: number } | null = null;
  const start = performance.now();
  const trainer: OffPolicyTrainer = new OffPolicyTrainer({
    env: await makeLearnerEnv(config),
    evalEnv: await makeLearnerEnv(config),
    config: resolvedAlgo(config),
    schedule: { ...config.train, checkpointEvery: config.train.steps },
    seed: config.seed,
    checkpointDir: join(dir, 'checkpoints'),
    metrics,
    ...(demos ? { demos } : {}),
    onStep: (p) => {
      if (reached) return;
      const last = evaluationAt(metrics, p.step, 1000);
      if (last && done(last)) {
        reached = { step: last.step, seconds: (performance.now() - start) / 1000 };
        trainer.requestStop();
      }
    },
  });
  await trainer.run();
  trainer.dispose();
  return { reached, metrics, seconds: (performance.now() - start) / 1000 };
}

/**
 * The Panda retune (issue 20, item 6): each config of LEARN_CONFIGS (default today's
 * configs/panda-reach-rlpd.yaml) on the seeds of LEARN_SEED_LIST (default 0,1,2), RLPD with 20
 * scripted demos, a deterministic evaluation of 20 episodes every 1,000 env steps, stopped at the
 * first one ≥ 80% success (the config's steps at most). One row per run: steps and wall-clock to
 * 80%, and the learner's cost per env step. Seeds run one after another in this process; run one
 * process per seed to use both cores (then say so beside the figures).
 */
async function retune(json: boolean): Promise<unknown[]> {
  const configs = (process.env['LEARN_CONFIGS'] ?? 'configs/panda-reach-rlpd.yaml').split(',');
  const seeds = seedList(3);
  const { table } = await recordDemonstrations(demoConfig('PandaReach-v0', undefined), 20, 5_000_000, false);
  const rows: { config: string; seed: number; stepsTo80: number | null; secondsTo80: number | null; lastSuccess: number; lastStep: number; seconds: number; updatesPerSec: number | null }[] = [];
  for (const path of configs) {
    const loaded = loadConfig(path);
    for (const seed of seeds) {
      // LEARN_THREADS: e.g. 1 when two retune processes share two cores.
      const threads = learnThreads() ?? loaded.train.threads;
      const config: ExperimentConfig = { ...loaded, seed, train: { ...loaded.train, evalEvery: 1000, evalEpisodes: 20, ...(threads ? { threads } : {}) } };
      const { reached, metrics, seconds } = await trainUntil(config, join(RUNS, `retune-${loaded.name}-seed${seed}`), table, (e) => (e['successRate'] as number) >= 0.8);
      const ev = metrics.read().filter((r) => r.type === 'eval').at(-1);
      const last = { step: ev?.step ?? 0, successRate: (ev?.['successRate'] as number | undefined) ?? 0 };
      const train = metrics.read().filter((r) => r.type === 'train').map((r) => r['updatesPerSec'] as number);
      const row = { config: path, seed, stepsTo80: reached?.step ?? null, secondsTo80: reached?.seconds ?? null, lastSuccess: last.successRate, lastStep: last.step, seconds, updatesPerSec: train.length ? mean(train) : null };
      rows.push(row);
      process.stderr.write(`bench learn retune: ${JSON.stringify(row)}\n`);
      if (!json) process.stdout.write(`${path} seed ${seed}: 80% at ${row.stepsTo80 ?? '—'} steps, ${row.secondsTo80?.toFixed(0) ?? '—'} s\n`);
    }
  }
  return rows;
}

/** The RLPD config whose networks the updates/s row times (LEARN_SPEED_CONFIG; a PandaReach-v0 config). */
const SPEED_CONFIG = process.env['LEARN_SPEED_CONFIG'] ?? 'configs/panda-reach-rlpd.yaml';

/**
 * What the native learner buys (issue 20), each backend in turn in one run: RLPD updates per
 * second with configs/panda-reach-rlpd.yaml's networks (obs 23, action 7; one update = the
 * config's critic steps, each on a batch of batchSize, + an actor step, as the trainer runs it), and the wall-clock of
 * configs/pendulum-sac.yaml to its first deterministic evaluation ≥ −200 (evaluations every
 * 1,000 steps, LEARN_SEEDS seeds, stopped there; 20k steps at most; LEARN_SEEDS=0 times the
 * updates only). LEARN_SPEED_CONFIG times another PandaReach config's networks (e.g. the 256 one).
 */
async function learnerSpeed(json: boolean): Promise<unknown> {
  const backends = (process.env['LEARN_BACKENDS'] ?? 'blas,wasm').split(',') as ('blas' | 'wasm')[];
  const seeds = Number(process.env['LEARN_SEEDS'] ?? 1);
  const rows: Record<string, unknown>[] = [];
  for (const name of backends) {
    const info = await selectBackend(name);
    const reach = resolvedAlgo(loadConfig(SPEED_CONFIG));
    const learner = new SacLearner(reach, 23, 7, new Rng(0), [], 0, activeKernels());
    const rng = new Rng(1);
    // As the trainer samples them: criticActorRatio batches of batchSize (each half online, half demos).
    const batches = Array.from({ length: reach.criticActorRatio }, () => randomBatch(rng, { capacity: 1, obsDim: 23, actDim: 7, costDim: 0 }, reach.batchSize, 0.97));
    for (let i = 0; i < 10; i++) learner.update(batches);
    const n = 200;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) learner.update(batches);
    const rlpdUpdatesPerSec = n / ((performance.now() - t0) / 1000);
    learner.dispose();
    const toTarget: { seed: number; seconds: number | null; steps: number | null }[] = [];
    const pendulum = loadConfig('configs/pendulum-sac.yaml');
    for (let seed = 0; seed < seeds; seed++) {
      const config: ExperimentConfig = { ...pendulum, seed, train: { ...pendulum.train, evalEvery: 1000, evalEpisodes: 10 } };
      const { reached: r } = await trainUntil(config, join(RUNS, `speed-${name}-seed${seed}`), undefined, (e) => (e['returnMean'] as number) >= -200);
      toTarget.push({ seed, seconds: r?.seconds ?? null, steps: r?.step ?? null });
      process.stderr.write(`bench learn speed: ${name} Pendulum seed ${seed}: ${r ? `−200 at ${r.step} steps, ${r.seconds.toFixed(0)} s` : 'not reached'}\n`);
    }
    rows.push({ backend: info.name, kernels: activeKernels().name, rlpdUpdatesPerSec, pendulumToMinus200: toTarget });
    if (!json) process.stdout.write(`${activeKernels().name}: RLPD PandaReach ${rlpdUpdatesPerSec.toFixed(1)} updates/s; Pendulum to −200: ${toTarget.map((t) => (t.seconds === null ? '—' : `${t.seconds.toFixed(0)} s @${t.steps}`)).join(', ')}\n`);
  }
  return rows;
}
