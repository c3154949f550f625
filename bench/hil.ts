/**
 * `npm run bench -- hil --json`: what a person in the loop buys, on PandaPickCube-v0 by default
 * (PandaReach-v0 where pick is not registered; HIL_ENV for another task), 3 seeds per method,
 * each (method, seed) in its own process, two at a time. The setup measures what HIL-SERL claims — corrections that cover what the demos do not:
 *
 * - demos: 5 scripted ones (HIL_DEMOS) from the central quarter of the task's start states
 *   (HIL_DEMO_SHARE; experiment/demos `centralStartSeeds`), while training draws from all of them;
 * - `sac`: SAC, no demos;
 * - `rlpd`: RLPD with those demos;
 * - `rlpd+human`: the same with a simulated person (hil/devices/simulated-human.ts: the scripted
 *   expert with reaction delay and hand noise, taking over only when the policy is failing —
 *   stuck, drifting away, dropping the cube — and handing back once it has recovered, within a
 *   budget of 20% of the run's steps) whose transitions go to both buffers (HIL-SERL);
 * - `rlpd+human+classifier`: the same, with the task's reward replaced by a learned success
 *   classifier (trained here from expert episodes; its precision / recall are measured on
 *   episodes it never saw).
 *
 * Evaluation is always deterministic, without a person, on the task's own success. Options by
 * environment: HIL_ENV, HIL_STEPS (default 10000), HIL_SEEDS (3; from HIL_FIRST_SEED, 0), HIL_METHODS (comma list),
 * HIL_EVAL_EVERY (1000), HIL_PARALLEL (2), HIL_DEMOS (5), HIL_DEMO_SHARE (0.25; 1 = the
 * training distribution), HIL_HUMAN (the person's settings as JSON), HIL_CONFIG (a train config
 * whose env options, time limit, safety, algorithm and evaluation the runs take — default
 * configs/panda-pick-rlpd.yaml on PandaPickCube-v0, the settings that learn pick; `none`, and
 * on other tasks, the small settings below on wasm; HIL_STEPS / HIL_EVAL_EVERY default to its own),
 * HIL_THREADS (BLAS threads per run with a config, default 1: two runs share two cores),
 * HIL_UNTIL80=1 (stop each run at its first evaluation ≥ 80%), HIL_TIME_LIMIT (episode steps),
 * HIL_BUDGET (`run` or `running`, below), HIL_RUNS (a folder to keep each run's folder in, as
 * `<method>-seed<N>`, with the demos and classifier they name, for `roborl eval`, `train --resume`
 * and bench/hil-takeovers.ts; relative to where the bench was started; without it the temporary
 * folders, ~20 MB a run, are removed however the bench ends). Each run with a person
 * reports its intervention rate per tenth of its episodes, its budget and what triggered it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoConfig, recordDemonstrations, type DemoStart } from '../experiment/demos.js';
import { loadConfig, validateConfig, type ExperimentConfig } from '../experiment/config.js';
import { absolutizePaths, makeLearnerEnv, resolvedAlgo, scriptedInLearnerUnits, writeRunDir } from '../experiment/setup.js';
import type { Env } from '../control/env.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { SimulatedHuman } from '../hil/devices/simulated-human.js';
import { Intervention } from '../hil/intervention.js';
import { Rng } from '../control/rng.js';
import { allFrames, precisionRecall, RewardClassifier, sampleFrames, type LabelledEpisode } from '../hil/reward-classifier.js';
import { describeBackend, selectBackend } from '../policies/backend.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { evaluationAt, positiveIntFromEnv } from './env-options.js';
import { ReplayBuffer } from '../policies/replay.js';
import { OffPolicyTrainer } from '../policies/sac/trainer.js';
import { listEnvs } from '../tasks/registry.js';

/** PandaPickCube-v0 (issue 22's HIL aim) by default; PandaReach-v0 in a tree where pick is not registered yet. */
const ENV = process.env['HIL_ENV'] ?? (listEnvs().includes('PandaPickCube-v0') ? 'PandaPickCube-v0' : 'PandaReach-v0');
/** Demos: how many, and from which central share of the task's start states (training draws from all). */
const DEMOS = Number(process.env['HIL_DEMOS'] ?? 5);
const DEMO_START: DemoStart | undefined = Number(process.env['HIL_DEMO_SHARE'] ?? 0.25) < 1 ? { share: Number(process.env['HIL_DEMO_SHARE'] ?? 0.25) } : undefined;
/** HIL_UNTIL80=1: each run stops at its first evaluation at ≥ 80% success. */
const UNTIL80 = process.env['HIL_UNTIL80'] === '1';

interface PersonSettings {
  /** The simulated person's settings (HIL_HUMAN as JSON; see hil/devices/simulated-human.ts). */
  readonly human: Record<string, unknown>;
  /**
   * HIL_BUDGET: the person's 20% as a share of the whole run (`run`: spend it whenever they choose)
   * or of the steps so far (`running`: at most 20% at every moment). Default `run`, but `running`
   * with HIL_UNTIL80 (a run stopped at 80% has no known length).
   */
  readonly budget: 'run' | 'running';
  /**
   * HIL_TIME_LIMIT: the episode's length in steps for both methods (env.timeLimit; default the
   * task's, 100 on pick). A person finishing a pick from where a failing policy left the arm needs
   * 45–85 steps (the scripted expert, slowed by the reaction delay), so on 100-step episodes most
   * corrections end unfinished.
   */
  readonly timeLimit: number | undefined;
}

/** The HIL_* settings, checked when the bench runs, not when bench/run.ts imports every bench. */
function personSettings(): PersonSettings {
  let human: unknown;
  try {
    human = JSON.parse(process.env['HIL_HUMAN'] ?? '{}');
  } catch (e) {
    throw new Error(`HIL_HUMAN: not JSON (${(e as Error).message})`);
  }
  if (typeof human !== 'object' || human === null || Array.isArray(human)) throw new Error('HIL_HUMAN: expected a JSON object of the simulated person\'s settings');
  if ('runSteps' in human) throw new Error('HIL_HUMAN: runSteps is the bench\'s to set (HIL_BUDGET=run takes HIL_STEPS)');
  const budget = process.env['HIL_BUDGET'] ?? (UNTIL80 ? 'running' : 'run');
  if (budget !== 'run' && budget !== 'running') throw new Error(`HIL_BUDGET: expected run or running, got ${budget}`);
  if (budget === 'run' && UNTIL80) throw new Error('HIL_BUDGET=run with HIL_UNTIL80=1: a run stopped at 80% has no known length to take 20% of');
  const timeLimit = process.env['HIL_TIME_LIMIT'] === undefined ? undefined : Number(process.env['HIL_TIME_LIMIT']);
  if (timeLimit !== undefined && !(Number.isInteger(timeLimit) && timeLimit > 0)) throw new Error(`HIL_TIME_LIMIT: expected a positive integer (steps), got ${process.env['HIL_TIME_LIMIT']}`);
  return { human: human as Record<string, unknown>, budget, timeLimit };
}
/**
 * The config the runs take their task options, time limit, safety, algorithm and evaluation from:
 * HIL_CONFIG (`none`: the small settings), by default the pick config on PandaPickCube-v0. Read
 * when the bench runs (bench/run.ts imports every bench), its paths relative to its own folder.
 */
let base: { path: string; config: ExperimentConfig } | null | undefined;
function baseConfig(): { path: string; config: ExperimentConfig } | null {
  if (base !== undefined) return base;
  const named = process.env['HIL_CONFIG'];
  const path = named === 'none' ? undefined : named ? resolve(named) : ENV === 'PandaPickCube-v0' ? fileURLToPath(new URL('../configs/panda-pick-rlpd.yaml', import.meta.url)) : undefined;
  if (!path) return (base = null);
  const config = absolutizePaths(loadConfig(path), path);
  if (config.env.id !== ENV) throw new Error(`HIL_CONFIG ${path} trains ${config.env.id}, not HIL_ENV ${ENV}`);
  if (config.algo.kind !== 'sac') throw new Error(`HIL_CONFIG ${path}: the HIL benchmark compares SAC / RLPD runs; its algo.kind is ${config.algo.kind}`);
  return (base = { path, config });
}
const METHODS = ['sac', 'rlpd', 'rlpd+human', 'rlpd+human+classifier'] as const;
type Method = (typeof METHODS)[number];

interface WorkerJob {
  readonly method: Method;
  readonly seed: number;
  readonly steps: number;
  readonly evalEvery: number;
  readonly demos: string;
  readonly classifier: string;
  /** The run's folder (under HIL_RUNS, or a temporary one the bench removes). */
  readonly runDir: string;
}

export interface HilRun {
  readonly method: Method;
  readonly seed: number;
  readonly stepsTo80: number | null;
  readonly finalSuccess: number;
  readonly interventionRateFirst: number | null;
  readonly interventionRateLast: number | null;
  readonly humanSteps: number;
  /** humanSteps / the steps run (the person's budget is 20% unless HIL_HUMAN says otherwise). */
  readonly humanShare: number | null;
  /** The steps the run took (fewer than asked when HIL_UNTIL80 stopped it). */
  readonly stepsRun: number;
  /** The intervention rate (share of an episode's steps) per tenth of the run's episodes. */
  readonly interventionRates: number[] | null;
  /**
   * Per tenth of the run's finished training episodes (one part per episode when there are fewer
   * than ten): how many, the share that ended in success (the person's included), and with a
   * person the share they acted in and their steps spent to the part's end (an episode cut off by
   * the run's end is not counted). A rate held flat by the budget shows here: the policy failing
   * less while the person still spends.
   */
  readonly tenths: { episodes: number; success: number; corrected: number | null; humanStepsSoFar: number | null }[];
  /** The simulated person's counts: budget, takeovers by reason, hand-backs by reason. */
  readonly person: SimulatedHuman['stats'] | null;
  /** Training episodes the person acted in, and how many of those ended in success (the task's success at the last step): what the corrections showed the learner. */
  readonly corrected: { readonly episodes: number; readonly successes: number } | null;
  readonly curve: { step: number; success: number }[];
  readonly seconds: number;
  /** The run's folder (config, metrics, final checkpoint) under HIL_RUNS; null without HIL_RUNS (its temporary folder was removed). */
  readonly runDir: string | null;
}

/**
 * The experiment each method runs: with a base config (HIL_CONFIG; pick's by default), its env
 * options, network, ratios and evaluation, with this bench's demos, person and steps; without,
 * small networks so 12 runs fit on two cores.
 */
export function hilConfig(method: Method, seed: number, steps: number, evalEvery: number, demos: string, classifier: string): ExperimentConfig {
  const rlpd = method !== 'sac';
  const human = method.includes('human');
  const person = personSettings();
  const small = { hidden: [64, 64], critics: rlpd ? 4 : 2, criticSubset: 2, criticActorRatio: 2, batchSize: 128, gamma: 0.97, learningStarts: 500 };
  const from = baseConfig()?.config;
  const { demos: _baseDemos, preset: _basePreset, ...baseAlgo } = (from?.algo ?? {}) as Record<string, unknown>;
  const { rewardClassifier: _baseClassifier, id: _baseId, ...baseEnv } = from?.env ?? { id: ENV };
  return validateConfig(
    {
      name: `hil-${method.replace(/\+/g, '-')}`,
      // The base's task options and time limit (not its learned reward: the classifier method brings its own).
      env: { id: ENV, ...baseEnv, ...(person.timeLimit ? { timeLimit: person.timeLimit } : {}), ...(method.endsWith('classifier') ? { rewardClassifier: classifier } : {}) },
      seed,
      algo: { ...(from ? baseAlgo : small), kind: 'sac', preset: rlpd ? 'rlpd' : 'sac', ...(rlpd ? { demos: { path: demos, ratio: 0.5 } } : {}) },
      ...(from ? { safety: from.safety } : {}),
      // HIL_BUDGET: a share of the run's steps, or a running share (≤ 20% of the steps so far at every moment).
      ...(human ? { hil: { device: 'simulated', buffers: 'both', simulated: { ...(person.budget === 'running' ? {} : { runSteps: steps }), ...person.human } } } : {}),
      train: { steps, evalEvery, evalEpisodes: from?.train.evalEpisodes ?? 10, checkpointEvery: steps, logEvery: 1000 },
    },
    `bench hil ${method}`,
  );
}

/** One (method, seed) run: trains, then reads its metrics. */
async function runWorker(job: WorkerJob): Promise<HilRun> {
  await workerBackend();
  const config = hilConfig(job.method, job.seed, job.steps, job.evalEvery, job.demos, job.classifier);
  // A roborl run folder (config.yaml, metrics, the final checkpoint): `roborl eval` and bench/hil-takeovers.ts read it.
  const dir = job.runDir;
  writeRunDir(dir, config);
  const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
  const t0 = performance.now();
  const env = await makeLearnerEnv(config, undefined, { human: true });
  const evalEnv = await makeLearnerEnv(config, undefined, { evaluation: true });
  // Demos carry the reward the learner is trained on: with the classifier, they are recorded through it.
  const demos = config.algo.kind === 'sac' && config.algo.demos ? (config.env.rewardClassifier ? (await recordDemonstrations(config, DEMOS, 5_000_000, false, undefined, DEMO_START)).table : ReplayBuffer.load(config.algo.demos.path)) : undefined;
  const trainer: OffPolicyTrainer = new OffPolicyTrainer({
    env,
    evalEnv,
    config: resolvedAlgo(config),
    schedule: config.train,
    seed: job.seed,
    checkpointDir: join(dir, 'checkpoints'),
    metrics,
    demos,
    interventions: config.hil ? { toDemos: true, upsample: 1 } : undefined,
    onStep: UNTIL80
      ? (p) => {
          const last = evaluationAt(metrics, p.step, job.evalEvery);
          if (last && (last['successRate'] as number) >= 0.8) trainer.requestStop();
        }
      : undefined,
  });
  await trainer.run();
  trainer.dispose();
  const device = findWrapper(env, Intervention)?.device;
  const person = device instanceof SimulatedHuman ? structuredClone(device.stats) : null;
  await Promise.all([env.close(), evalEnv.close()]);
  const records = metrics.read();
  const curve = records.filter((r) => r.type === 'eval').map((r) => ({ step: r.step, success: r['successRate'] as number }));
  const episodes = records.filter((r) => r.type === 'episode');
  const rates = episodes.map((r) => (r['human'] as { rate: number } | undefined)?.rate ?? 0);
  const tenth = Math.max(1, Math.floor(rates.length / 10));
  const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const tenthsOf = <T>(xs: T[]): T[][] => Array.from({ length: 10 }, (_, k) => xs.slice(Math.floor((k * xs.length) / 10), Math.floor(((k + 1) * xs.length) / 10))).filter((part) => part.length > 0);
  const humanStepsOf = (r: Record<string, unknown>): number => (r['human'] as { steps: number } | undefined)?.steps ?? 0;
  const correctedEpisodes = episodes.filter((r) => humanStepsOf(r) > 0);
  let humanSoFar = 0;
  const tenths = tenthsOf(episodes).map((part) => {
    humanSoFar += part.reduce((sum, r) => sum + humanStepsOf(r), 0);
    const corrected = config.hil ? part.filter((r) => humanStepsOf(r) > 0).length / part.length : null;
    return { episodes: part.length, success: part.filter((r) => r['success'] === true).length / part.length, corrected, humanStepsSoFar: config.hil ? humanSoFar : null };
  });
  return {
    method: job.method,
    seed: job.seed,
    stepsTo80: curve.find((c) => c.success >= 0.8)?.step ?? null,
    finalSuccess: curve.at(-1)?.success ?? 0,
    interventionRateFirst: config.hil ? meanOf(rates.slice(0, tenth)) : null,
    interventionRateLast: config.hil ? meanOf(rates.slice(-tenth)) : null,
    humanSteps: trainer.humanTransitions,
    // Of the steps run (a run stopped at 80% ran fewer than job.steps).
    humanShare: config.hil ? trainer.humanTransitions / Math.max(1, trainer.step) : null,
    stepsRun: trainer.step,
    interventionRates: config.hil ? tenthsOf(rates).map(meanOf) : null,
    tenths,
    person,
    corrected: config.hil ? { episodes: correctedEpisodes.length, successes: correctedEpisodes.filter((r) => r['success'] === true).length } : null,
    curve,
    seconds: (performance.now() - t0) / 1000,
    runDir: dir,
  };
}

/**
 * Frames for the classifier as a person labels them: the scripted expert (with hand noise)
 * works; once the task is in its success region, the person holds it there while success frames
 * are recorded (`successHold` steps of the task, each labelled by the task's own success). Failed
 * and wandering episodes give the negatives.
 */
async function labelledEpisodes(env: Env, expert: (obs: Float32Array) => Float32Array, episodes: number, seed: number, noise: number): Promise<LabelledEpisode[]> {
  const rng = new Rng(seed);
  const out: LabelledEpisode[] = [];
  for (let e = 0; e < episodes; e++) {
    let { obs } = await env.reset({ seed: seed + e });
    const frames = [obs];
    const labels = [0];
    let reached = false;
    for (;;) {
      // Once there, a person holds the success state: the arm still (push: the cube stays put) or, on reach, on the target.
      const a = reached ? (ENV.startsWith('PandaPush-') ? new Float32Array(expert(obs).length) : expert(obs)) : Float32Array.from(expert(obs), (v) => Math.max(-1, Math.min(1, v + noise * rng.normal())));
      const r = await env.step(a);
      reached ||= r.info.success === true;
      frames.push(r.obs);
      labels.push(r.info.success === true ? 1 : 0);
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    out.push({ frames, labels });
  }
  return out;
}

/** Trains the success classifier the last method uses; reports precision / recall on unseen episodes. */
async function trainClassifier(path: string): Promise<{ precision: number; recall: number; threshold: number; heldOutPrecision: number; heldOutRecall: number; trainEpisodes: number; testEpisodes: number; testFrames: number; testPositives: number }> {
  const config = validateConfig({ name: 'classifier-frames', env: { id: ENV, options: { successHold: 10 } }, algo: { kind: 'sac' }, train: { steps: 1 } }, 'bench hil');
  const env = await makeLearnerEnv(config);
  const expert = scriptedInLearnerUnits(ENV, env);
  // Hand noise 0.3 in learner units: some episodes miss (negatives a classifier must refuse).
  const train = await labelledEpisodes(env, expert, 300, 7_000_000, 0.3);
  const thresholdSet = await labelledEpisodes(env, expert, 60, 8_000_000, 0.3);
  const test = await labelledEpisodes(env, expert, 60, 9_000_000, 0.3);
  await env.close();
  const clf = RewardClassifier.train(sampleFrames(train, { negativesPerPositive: 3, seed: 1 }), allFrames(thresholdSet), { envId: ENV, seed: 1, epochs: Number(process.env['HIL_CLF_EPOCHS'] ?? 200), minPrecision: 0.98 });
  clf.save(path);
  const testFrames = allFrames(test);
  const pr = precisionRecall(clf.probabilities(testFrames.obs), testFrames.labels, clf.threshold);
  const heldOut = clf.meta.thresholdPick as { precision: number; recall: number };
  clf.dispose();
  return { precision: pr.precision, recall: pr.recall, threshold: clf.threshold, heldOutPrecision: heldOut.precision, heldOutRecall: heldOut.recall, trainEpisodes: train.length, testEpisodes: test.length, testFrames: testFrames.obs.length, testPositives: pr.positives };
}

/** The workers' compute: with a base config, the fastest backend at HIL_THREADS threads (1 by default: two runs share two cores); else wasm, as the small settings' figures were taken. */
async function workerBackend(): Promise<void> {
  if (!baseConfig()) {
    await selectBackend('wasm');
    return;
  }
  const info = await selectBackend('auto', { threads: positiveIntFromEnv('HIL_THREADS') ?? 1 });
  process.stderr.write(`bench hil worker: ${describeBackend(info)}\n`);
}

/** Runs one job in a worker process; `children` holds it while it runs (to be stopped if another fails). */
function spawnWorker(job: WorkerJob, children: Set<ChildProcess>): Promise<HilRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, HIL_WORKER: JSON.stringify(job) }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as HilRun);
      else reject(new Error(`bench hil worker ${job.method} seed ${job.seed} ${signal ? `was killed (${signal})` : `exited ${code}`}`));
    });
  });
}

/**
 * HIL_RUNS, resolved against the folder the bench was started from (npm runs it in the package
 * root; INIT_CWD is the user's); refused when it or one of this bench's run folders is taken.
 */
function runsFolder(methods: readonly Method[], seeds: number, firstSeed: number): string | null {
  const named = process.env['HIL_RUNS'];
  if (!named) return null;
  const dir = resolve(process.env['INIT_CWD'] ?? process.cwd(), named);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`HIL_RUNS: ${dir} is not a folder`);
  const taken = methods.flatMap((m) => Array.from({ length: seeds }, (_, k) => join(dir, runName(m, firstSeed + k)))).filter((d) => existsSync(d) && (!statSync(d).isDirectory() || readdirSync(d).length > 0));
  if (taken.length) throw new Error(`HIL_RUNS: ${taken.join(', ')} already hold runs (or files); move them or pick another HIL_RUNS`);
  return dir;
}

function runName(method: Method, seed: number): string {
  return `${method.replace(/\+/g, '-')}-seed${seed}`;
}

export async function hilBenchmark(json: boolean): Promise<unknown> {
  personSettings(); // refuse bad HIL_* settings before demos are recorded
  const steps = Number(process.env['HIL_STEPS'] ?? baseConfig()?.config.train.steps ?? 10000);
  const seeds = Number(process.env['HIL_SEEDS'] ?? 3);
  const evalEvery = Number(process.env['HIL_EVAL_EVERY'] ?? baseConfig()?.config.train.evalEvery ?? 1000);
  const parallel = Number(process.env['HIL_PARALLEL'] ?? 2);
  const methods = (process.env['HIL_METHODS']?.split(',') ?? METHODS) as Method[];
  const bad = methods.find((m) => !(METHODS as readonly string[]).includes(m));
  if (bad) throw new Error(`HIL_METHODS: unknown method ${bad} (known: ${METHODS.join(', ')})`);
  const firstSeed = Number(process.env['HIL_FIRST_SEED'] ?? 0);
  if (!(Number.isInteger(firstSeed) && firstSeed >= 0)) throw new Error(`HIL_FIRST_SEED: expected a non-negative integer, got ${process.env['HIL_FIRST_SEED']}`);
  const runsDir = runsFolder(methods, seeds, firstSeed);
  await selectBackend('wasm');
  // The demos and the classifier: beside kept runs (their configs name them; recorded the same
  // way every time, so a name holds the same file), else in a temporary folder removed at the end
  // — as are the runs' temporary folders, whatever ends the bench.
  if (runsDir) mkdirSync(runsDir, { recursive: true });
  const shared = runsDir ?? mkdtempSync(join(tmpdir(), 'roborl-bench-hil-'));
  const temporary: string[] = runsDir ? [] : [shared];
  const children = new Set<ChildProcess>();
  try {
    const demos = join(shared, `${ENV}-${DEMOS}-demos${DEMO_START ? `-central${DEMO_START.share}` : ''}.demos`);
    const { table } = await recordDemonstrations(demoConfig(ENV, baseConfig()?.path), DEMOS, 5_000_000, false, undefined, DEMO_START);
    table.save(demos);
    process.stderr.write(`bench hil: ${ENV}, ${DEMOS} scripted demos from ${DEMO_START ? `the central ${Math.round(100 * DEMO_START.share)}% of` : 'all'} the task's start states (${table.size} transitions); training draws from all of them\n`);
    const classifierPath = join(shared, `${ENV}-success.classifier`);
    const classifier = methods.some((m) => m.endsWith('classifier')) ? await trainClassifier(classifierPath) : null;
    if (process.env['HIL_CLASSIFIER_ONLY']) return { env: ENV, classifier };
    if (classifier) process.stderr.write(`bench hil: classifier precision ${classifier.precision.toFixed(3)} recall ${classifier.recall.toFixed(3)} on ${classifier.testEpisodes} unseen episodes\n`);
    const jobs: WorkerJob[] = methods.flatMap((method) =>
      Array.from({ length: seeds }, (_, k) => {
        const runDir = runsDir ? join(runsDir, runName(method, firstSeed + k)) : mkdtempSync(join(tmpdir(), `roborl-hil-${runName(method, firstSeed + k)}-`));
        if (!runsDir) temporary.push(runDir);
        return { method, seed: firstSeed + k, steps, evalEvery, demos, classifier: classifierPath, runDir };
      }),
    );
    const runs: HilRun[] = [];
    const queue = [...jobs];
    let failed = false;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let job = queue.shift(); job && !failed; job = queue.shift()) {
          let r: HilRun;
          try {
            r = await spawnWorker(job, children);
          } catch (err) {
            // One run failed: stop the others (their results would be a partial bench) and say so.
            failed = true;
            for (const c of children) c.kill('SIGTERM');
            throw err;
          }
          runs.push(r);
          process.stderr.write(`bench hil: ${r.method} seed ${r.seed}: stepsTo80 ${r.stepsTo80 ?? '—'} final ${(100 * r.finalSuccess).toFixed(0)}% human ${r.humanSteps} steps${r.humanShare === null ? '' : ` (${(100 * r.humanShare).toFixed(1)}% of the run)`} rate ${r.interventionRates?.map((x) => x.toFixed(2)).join(' ') ?? '–'}; training success ${r.tenths.map((t) => t.success.toFixed(2)).join(' ') || '–'}${r.corrected ? `; ${r.corrected.successes} of ${r.corrected.episodes} corrected episodes succeeded` : ''} in ${r.seconds.toFixed(0)} s\n`);
        }
      }),
    );
    runs.sort((a, b) => methods.indexOf(a.method) - methods.indexOf(b.method) || a.seed - b.seed);
    const reported = runsDir ? runs : runs.map((r) => ({ ...r, runDir: null }));
    if (!json) for (const r of reported) process.stdout.write(`${r.method.padEnd(24)} seed ${r.seed}  stepsTo80 ${String(r.stepsTo80 ?? '—').padStart(6)}  final ${(100 * r.finalSuccess).toFixed(0)}%\n`);
    return { env: ENV, config: baseConfig()?.path ?? null, steps, seeds, evalEvery, demos: { count: DEMOS, startShare: DEMO_START?.share ?? 1 }, runs: reported, classifier };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all([...children].map((c) => new Promise((r) => c.once('exit', r))));
    for (const d of temporary) rmSync(d, { recursive: true, force: true });
  }
}

if (process.env['HIL_WORKER'] && process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runWorker(JSON.parse(process.env['HIL_WORKER']) as WorkerJob);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
