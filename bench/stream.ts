import { percentile } from '../control/running-stats.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../experiment/config.js';
import { makeLearnerEnv } from '../experiment/setup.js';
import { randomPolicy } from '../control/policy.js';
import { Rng } from '../control/rng.js';
import { episodic, evaluatePolicy } from '../policies/evaluate.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { StreamAC } from '../policies/stream/stream-ac.js';
import { StreamTrainer } from '../policies/stream/trainer.js';
import { StreamAgent } from '../policies/stream/agent.js';
import { StreamAcConfigSchema } from '../policies/stream/config.js';
import { runStreamingRealtime } from '../policies/stream/realtime.js';
import { RealtimeEnv } from '../control/wrappers/realtime.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { make } from '../tasks/registry.js';

const ONLY = process.env['STREAM_ONLY'];
const SEEDS = Number(process.env['STREAM_SEEDS'] ?? 3);


/** act + update of the 2×128 Stream AC at batch 1, on Pendulum-sized inputs (3 obs + time feature, 1 action). */
function stepCost(): { p50: number; p99: number; max: number; over1ms: number; over10ms: number } {
  const rng = new Rng(0);
  const ac = new StreamAC({ obsDim: 4, actDim: 1, hidden: [128, 128] }, rng);
  const s = Array.from({ length: 4 }, () => rng.normal());
  const times: number[] = [];
  for (let i = 0; i < 60_000; i++) {
    const sNext = Array.from({ length: 4 }, () => rng.normal());
    const t0 = process.hrtime.bigint();
    const a = ac.act(s, rng);
    ac.update(s, a, -rng.random(), sNext, false, i % 200 === 199);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (i >= 5000) times.push(us);
    s.splice(0, 4, ...sNext);
  }
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: Math.max(...times), over1ms: times.filter((t) => t > 1000).length / times.length, over10ms: times.filter((t) => t > 10_000).length / times.length };
}

async function trainRun(configPath: string, seed: number, steps?: number): Promise<{ evals: { step: number; returnMean: number; successRate: number }[]; stepsPerSec: number }> {
  const base = loadConfig(configPath);
  const config = { ...base, seed, train: { ...base.train, steps: steps ?? base.train.steps } };
  const dir = mkdtempSync(join(tmpdir(), 'roborl-stream-'));
  const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
  if (config.algo.kind === 'sac') throw new Error('stream bench needs a stream config');
  const trainer = new StreamTrainer({ env: await makeLearnerEnv(config), evalEnv: await makeLearnerEnv(config), config: config.algo, schedule: { ...config.train, checkpointEvery: config.train.steps }, seed, checkpointDir: join(dir, 'checkpoints'), metrics });
  await trainer.run();
  const records = metrics.read();
  const train = records.filter((r) => r.type === 'train');
  return {
    evals: records.filter((r) => r.type === 'eval').map((r) => ({ step: r.step, returnMean: r['returnMean'] as number, successRate: r['successRate'] as number })),
    stepsPerSec: train.reduce((a, r) => a + (r['envStepsPerSec'] as number), 0) / train.length,
  };
}

/** Stream AC(λ) learning inside a fixed-rate loop (Pendulum-v1 paced like a robot at `hz`). */
async function realtime(hz: number, seconds: number): Promise<Record<string, number>> {
  const env = new RealtimeEnv(new RescaleAction(await make('Pendulum-v1')), hz);
  const agent = new StreamAgent(StreamAcConfigSchema.parse({ kind: 'stream-ac' }), env.spec, 0);
  const report = await runStreamingRealtime(agent, env, { ticks: Math.round(hz * seconds) });
  const rate = env.rateStats();
  return { hz, ticks: report.ticks, updates: report.updates, skipped: report.skipped, overruns: report.overruns, updateUsP50: report.updateUsP50, updateUsP99: report.updateUsP99, periodErrorP50Ms: rate.errorP50Ms, periodErrorP99Ms: rate.errorP99Ms, periodErrorMaxMs: rate.errorMaxMs, missedDeadlines: rate.missedDeadlines };
}

async function randomBaseline(configPath: string): Promise<number> {
  const config = loadConfig(configPath);
  const env = await makeLearnerEnv(config);
  const r = await evaluatePolicy(env, episodic(randomPolicy(env.spec.actionSpace, new Rng(1))), 20, 1_000_000);
  return r.returnMean;
}

export async function streamBenchmark(json: boolean): Promise<unknown> {
  const out: Record<string, unknown> = {};
  if (!ONLY || ONLY === 'timing') {
    const cost = stepCost();
    const speed = await trainRun('configs/pendulum-stream-ac.yaml', 0, 30_000);
    const loops = [await realtime(100, 10), await realtime(1000, 10)];
    Object.assign(out, {
      realtimeLoops: loops,
      acStepP50Us: cost.p50,
      acStepP99Us: cost.p99,
      acStepMaxUs: cost.max,
      budget1ms: { fractionOver: cost.over1ms, meets: cost.p99 <= 1000 },
      budget10ms: { fractionOver: cost.over10ms, meets: cost.p99 <= 10_000 },
      trainStepsPerSec: speed.stepsPerSec,
      pytorchReferenceStepsPerSec: 1000,
    });
    if (!json) for (const l of loops) process.stdout.write(`realtime ${l['hz']} Hz: ${l['updates']} updates, ${l['skipped']} skipped, ${l['overruns']} overruns; period error p99 ${l['periodErrorP99Ms']?.toFixed(3)} ms, missed ${l['missedDeadlines']}\n`);
    if (!json) process.stdout.write(`Stream AC 2×128 act+update: p50 ${cost.p50.toFixed(0)} µs, p99 ${cost.p99.toFixed(0)} µs, max ${cost.max.toFixed(0)} µs; training loop ${speed.stepsPerSec.toFixed(0)} steps/s on Pendulum-v1\n`);
  }
  if (!ONLY || ONLY === 'learning') {
    const curves: Record<string, unknown> = {};
    for (const [name, path] of [['pendulumStreamAc', 'configs/pendulum-stream-ac.yaml'], ['reacherStreamAc', 'configs/reacher-stream-ac.yaml'], ['cartpoleStreamQ', 'configs/cartpole-stream-q.yaml']] as const) {
      const runs: Awaited<ReturnType<typeof trainRun>>[] = [];
      for (let seed = 0; seed < SEEDS; seed++) {
        runs.push(await trainRun(path, seed));
        process.stderr.write(`bench stream: ${name} seed ${seed}: ${JSON.stringify(runs.at(-1)?.evals.at(-1))}\n`);
      }
      const steps = runs[0]!.evals.map((e) => e.step);
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      curves[name] = {
        config: path,
        seeds: SEEDS,
        random: await randomBaseline(path),
        curve: steps.map((step, i) => ({ step, returnMean: mean(runs.map((r) => r.evals[i]!.returnMean)), returnMin: Math.min(...runs.map((r) => r.evals[i]!.returnMean)), returnMax: Math.max(...runs.map((r) => r.evals[i]!.returnMean)) })),
      };
      if (!json) process.stdout.write(`${name}: ${JSON.stringify(curves[name])}\n`);
    }
    out['learning'] = curves;
  }
  return out;
}
