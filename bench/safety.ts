import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoConfig, recordDemonstrations } from '../experiment/demos.js';
import { loadConfig, type ExperimentConfig } from '../experiment/config.js';
import { makeLearnerEnv, resolvedAlgo } from '../experiment/setup.js';
import { selectBackend } from '../policies/backend.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { OffPolicyTrainer } from '../policies/sac/trainer.js';
import type { ReplayBuffer } from '../policies/replay.js';
import { Rng } from '../control/rng.js';
import { SafetyLimits } from '../control/safety/safety-limits.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { make } from '../tasks/registry.js';
import type { PandaReach } from '../tasks/panda-reach.js';
import { PANDA_TABLE_WORKSPACE } from '../tasks/panda.js';

const STEPS = Number(process.env['SAFETY_FUZZ_STEPS'] ?? 100_000);
/** The physics engine of the fuzz (`SAFETY_FUZZ_ENGINE=mujoco`; default rapier). */
const FUZZ_ENGINE = process.env['SAFETY_FUZZ_ENGINE'] ?? 'rapier';
/** Seeds per method of the keep-out learning runs (0 skips them); SAFETY_ONLY=lagrangian,shield picks methods. */
const SEEDS = Number(process.env['SAFETY_SEEDS'] ?? 3);
/** The first of those seeds (SAFETY_FIRST_SEED=2 SAFETY_SEEDS=1: seed 2 alone, e.g. one process per seed). */
const FIRST_SEED = Number(process.env['SAFETY_FIRST_SEED'] ?? 0);
if (!Number.isSafeInteger(FIRST_SEED) || FIRST_SEED < 0) throw new Error(`SAFETY_FIRST_SEED must be a whole number ≥ 0, got ${process.env['SAFETY_FIRST_SEED']}`);
if (!Number.isSafeInteger(SEEDS) || SEEDS < 0) throw new Error(`SAFETY_SEEDS must be a whole number ≥ 0, got ${process.env['SAFETY_SEEDS']}`);
const ONLY = process.env['SAFETY_ONLY'];
/** A joint counts as violating its limit when the simulator reports it this far past a bound (rad). */
const TOLERANCE = 0.005;

/**
 * Tier 0 fuzz: STEPS actions on PandaReach-v0 — uniform random, bang-bang (±1 held for 25–250
 * steps on every joint), and random extremes (each element ±1) — through SafetyLimits with its
 * default joint settings and the table-top workspace box (every link frame 8 cm above the table). Violations are measured from the simulator's joint state, not from the
 * filter's bookkeeping. The same stream without Tier 0 is reported for contrast.
 */
async function fuzz(withTier0: boolean): Promise<{ steps: number; violations: number; worstRad: number; limitHits: number; tableContactSteps: number }> {
  const inner = await make('PandaReach-v0', { timeLimit: 1000, options: { engine: FUZZ_ENGINE } });
  const panda = unwrap(inner) as PandaReach;
  const safe = new SafetyLimits(inner, panda, { workspace: PANDA_TABLE_WORKSPACE });
  const env = withTier0 ? safe : inner;
  const rng = new Rng(11);
  const { lower, upper } = panda.jointLimits;
  await env.reset({ seed: 0 });
  let violations = 0;
  let worst = 0;
  let hits = 0;
  let tableContacts = 0;
  let mode = 0;
  let hold = 0;
  let held = new Float32Array(7);
  for (let t = 0; t < STEPS; t++) {
    if (hold-- <= 0) {
      mode = rng.int(3);
      hold = 25 + rng.int(225);
      held = Float32Array.from({ length: 7 }, () => (rng.random() < 0.5 ? -1 : 1));
    }
    const action = mode === 0 ? Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1)) : mode === 1 ? held : Float32Array.from({ length: 7 }, () => (rng.random() < 0.5 ? -1 : 1));
    const r = await env.step(action);
    const hit = r.info.safety?.hits;
    if (hit) hits += (hit['position'] ?? 0) + (hit['velocity'] ?? 0) + (hit['workspace'] ?? 0);
    if (r.costs[1]) tableContacts++;
    const q = panda.jointPositions();
    let stepWorst = 0;
    for (let i = 0; i < 7; i++) stepWorst = Math.max(stepWorst, (lower[i] as number) - (q[i] as number), (q[i] as number) - (upper[i] as number));
    worst = Math.max(worst, stepWorst);
    if (stepWorst > TOLERANCE) violations++;
    if (r.terminated || r.truncated) await env.reset();
  }
  await env.close();
  return { steps: STEPS, violations, worstRad: worst, limitHits: hits, tableContactSteps: tableContacts };
}

interface SafeRun {
  readonly method: string;
  readonly seed: number;
  readonly return: number;
  readonly success: number;
  readonly cost: number;
  readonly violationsDuringTraining: number;
  readonly trainingEpisodes: number;
  readonly finalLambda?: number;
  readonly seconds: number;
}

const METHODS: Record<string, string> = { unconstrained: 'configs/panda-keep-out-sac.yaml', lagrangian: 'configs/panda-keep-out-lagrangian.yaml', shield: 'configs/panda-keep-out-shield.yaml' };

/**
 * The three methods on PandaKeepOut-v0, each seed with 20 scripted demos recorded through the
 * method's config (the same starts; the shield's through its shield, as `roborl record-demos
 * --config` records them): final evaluation (20 episodes) return, success, mean keep_out cost per
 * episode; and the keep_out steps summed over every training episode.
 */
async function learningRuns(seeds: number): Promise<SafeRun[]> {
  await selectBackend('auto');
  const runs: SafeRun[] = [];
  // Configs whose demos carry the same label share one recording (the unconstrained and Lagrangian ones).
  const recorded = new Map<string, ReplayBuffer>();
  for (const [method, path] of Object.entries(METHODS)) {
    if (ONLY && !ONLY.split(',').includes(method)) continue;
    const base = loadConfig(path);
    const demos = demoConfig(undefined, path);
    const key = JSON.stringify({ options: demos.env.options, safety: demos.safety });
    const table = recorded.get(key) ?? (await recordDemonstrations(demos, 20, 5_000_000, false)).table;
    recorded.set(key, table);
    for (let seed = FIRST_SEED; seed < FIRST_SEED + seeds; seed++) {
      const config: ExperimentConfig = { ...base, seed };
      const dir = mkdtempSync(join(tmpdir(), `roborl-safety-${method}-`));
      const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
      const t0 = performance.now();
      const trainer = new OffPolicyTrainer({ env: await makeLearnerEnv(config), evalEnv: await makeLearnerEnv(config), config: resolvedAlgo(config), schedule: { ...config.train, checkpointEvery: config.train.steps }, seed, checkpointDir: join(dir, 'checkpoints'), metrics, demos: table });
      const final = await trainer.run();
      const episodes = metrics.read().filter((r) => r.type === 'episode');
      const violations = episodes.reduce((a, r) => a + ((r['costs'] as Record<string, number>)['keep_out'] ?? 0), 0);
      const run: SafeRun = {
        method,
        seed,
        return: final.returnMean,
        success: final.successRate,
        cost: final.costMeans['keep_out'] ?? NaN,
        violationsDuringTraining: violations,
        trainingEpisodes: episodes.length,
        ...(trainer.multipliers.length ? { finalLambda: (trainer.multipliers[0] as { lambda: number }).lambda } : {}),
        seconds: (performance.now() - t0) / 1000,
      };
      trainer.dispose();
      runs.push(run);
      process.stderr.write(`bench safety: ${JSON.stringify(run)}\n`);
    }
  }
  return runs;
}

function summarize(runs: SafeRun[]): Record<string, unknown>[] {
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [...new Set(runs.map((r) => r.method))].map((method) => {
    const rs = runs.filter((r) => r.method === method);
    return { method, seeds: rs.length, return: mean(rs.map((r) => r.return)), success: mean(rs.map((r) => r.success)), cost: mean(rs.map((r) => r.cost)), violationsDuringTraining: rs.reduce((a, r) => a + r.violationsDuringTraining, 0), perSeed: rs };
  });
}

export async function safetyBenchmark(json: boolean): Promise<unknown> {
  const tier0 = await fuzz(true);
  const raw = await fuzz(false);
  const runs = SEEDS > 0 ? summarize(await learningRuns(SEEDS)) : [];
  if (!json) for (const r of runs) process.stdout.write(`${String(r['method']).padEnd(14)} return ${(r['return'] as number).toFixed(2)} success ${(100 * (r['success'] as number)).toFixed(0)}% cost ${(r['cost'] as number).toFixed(2)} violations during training ${String(r['violationsDuringTraining'])}\n`);
  if (!json) {
    process.stdout.write(`Tier 0 fuzz on PandaReach-v0 (${FUZZ_ENGINE}), ${tier0.steps} steps: ${tier0.violations} steps with a joint > ${TOLERANCE} rad past a limit (worst ${tier0.worstRad.toFixed(4)} rad, ${tier0.limitHits} limit hits corrected, ${tier0.tableContactSteps} steps touching the table)\n`);
    process.stdout.write(`without Tier 0: ${raw.violations} violating steps (worst ${raw.worstRad.toFixed(4)} rad), ${raw.tableContactSteps} steps touching the table\n`);
  }
  return { fuzz: { ...tier0, toleranceRad: TOLERANCE }, fuzzWithoutTier0: raw, runs };
}
