/**
 * `npm run bench -- distributed --json`: the actor/learner split.
 *
 * - transports: transitions/s through each transport (an actor sending packed 64-transition
 *   Pendulum batches as fast as the allowance lets it; the learner receiving and unpacking), and
 *   the time from a parameter publish until the actor holds it (a 64×64 policy);
 * - pendulum: SAC (configs/pendulum-sac-quick.yaml, evaluated every 500 steps) single-process
 *   vs one actor thread + the learner, wall-clock seconds to a deterministic evaluation ≥ −200;
 * - scaling: 1, 2, 4 actor threads for a fixed number of env steps (PandaReach-v0, where a
 *   step's physics costs about as much as an update): env steps/s, updates/s, and the
 *   samples-per-insert ratio the rate limiter held, against its target; and the same workload in
 *   one process (`singleProcess`, actors 0) as the reference.
 *
 * Redis: a redis-server this benchmark starts on a free loopback port (skipped if none).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import type { Transition } from '../control/transition.js';
import { loadConfig, validateConfig, type ExperimentConfig } from '../experiment/config.js';
import { ThreadedRun } from '../experiment/distributed.js';
import { makeLearnerEnv, resolvedAlgo } from '../experiment/setup.js';
import { selectBackend } from '../policies/backend.js';
import { packTransitions } from '../policies/distributed/packing.js';
import { RedisActorTransport, RedisLearnerTransport } from '../policies/distributed/redis.js';
import { encodeSnapshot } from '../policies/distributed/snapshot-codec.js';
import { flowControlBuffer, ThreadsActorTransport, ThreadsLearnerTransport } from '../policies/distributed/threads.js';
import type { ActorTransport, LearnerTransport } from '../policies/distributed/transport.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { SacLearner } from '../policies/sac/sac.js';
import { OffPolicyTrainer } from '../policies/sac/trainer.js';
import { Rng } from '../control/rng.js';
import { haveRedis, RedisServer } from '../test/redis-fixture.js';

interface TransportResult {
  readonly name: string;
  readonly transitionsPerSec: number;
  readonly paramBroadcastMs: number;
}

async function measureTransport(name: string, learner: LearnerTransport, actor: ActorTransport): Promise<TransportResult> {
  const dims = { obsDim: 3, actDim: 1, costDim: 0 };
  const t: Transition = { obs: Float32Array.of(1, 0, 0.5), action: Float32Array.of(0.2), reward: -1, costs: new Float32Array(0), nextObs: Float32Array.of(1, 0, 0.4), terminated: false, truncated: false };
  const batchSize = 64;
  const batches = 400;
  await learner.begin({ inserted: 0, fresh: true });
  await learner.allowInserts(batches * batchSize);
  const t0 = performance.now();
  let received = 0;
  const sending = (async () => {
    for (let s = 0; s < batches; s++) await actor.send(packTransitions({ actorId: 'bench', episodeId: 0, policyVersion: 0, seq: s }, dims, Array.from({ length: batchSize }, () => t)), batchSize);
  })();
  while (received < batches * batchSize) {
    for (const d of await learner.receive(20)) {
      received += d.batch.transitions.length;
      await d.ack();
    }
  }
  await sending;
  const transitionsPerSec = received / ((performance.now() - t0) / 1000);
  const snapshot = new SacLearner(resolvedAlgo(validateConfig({ name: 'b', env: { id: 'Pendulum-v1' }, algo: { kind: 'sac', hidden: [64, 64] }, train: { steps: 1 } }, 'bench')), 3, 1, new Rng(0)).snapshot();
  const bytes = encodeSnapshot(snapshot);
  const times: number[] = [];
  for (let v = 1; v <= 20; v++) {
    const p0 = performance.now();
    await learner.publish({ version: v, bytes });
    while ((actor.params()?.version ?? 0) < v) await new Promise((r) => setImmediate(r));
    times.push(performance.now() - p0);
  }
  times.sort((a, b) => a - b);
  return { name, transitionsPerSec, paramBroadcastMs: times[Math.floor(times.length / 2)] as number };
}

/** Wall-clock seconds until the first evaluation ≥ −200, and the final return. */
async function pendulumRun(config: ExperimentConfig, threaded: boolean): Promise<{ secondsTo200: number | null; finalReturn: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'roborl-bench-dist-'));
  const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
  const t0 = performance.now();
  let secondsTo200: number | null = null;
  const write = metrics.write.bind(metrics);
  metrics.write = (r) => {
    if (r.type === 'eval' && secondsTo200 === null && (r['returnMean'] as number) >= -200) secondsTo200 = (performance.now() - t0) / 1000;
    write(r);
  };
  const evalEnv = await makeLearnerEnv(config, undefined, { evaluation: true });
  let final;
  if (threaded) {
    const run = new ThreadedRun({ config, env: evalEnv, evalEnv, checkpointDir: join(dir, 'checkpoints'), metrics });
    final = await run.run();
    run.learner.dispose();
  } else {
    const env = await makeLearnerEnv(config);
    const trainer = new OffPolicyTrainer({ env, evalEnv, config: resolvedAlgo(config), schedule: config.train, seed: config.seed, checkpointDir: join(dir, 'checkpoints'), metrics });
    final = await trainer.run();
    trainer.dispose();
    await env.close();
  }
  await evalEnv.close();
  if (secondsTo200 === null && final.returnMean >= -200) secondsTo200 = (performance.now() - t0) / 1000;
  return { secondsTo200, finalReturn: final.returnMean };
}

function scalingConfig(actors: number, steps: number): ExperimentConfig {
  return validateConfig(
    {
      name: `scaling-${actors}`,
      env: { id: 'PandaReach-v0' },
      algo: { kind: 'sac', hidden: [64, 64], batchSize: 64, learningStarts: 500 },
      train: { steps, evalEvery: 0, evalEpisodes: 1, checkpointEvery: steps, logEvery: 500 },
      distributed: { actors, errorBuffer: 200 },
    },
    'bench',
  );
}

/** The same PandaReach-v0 workload in one process: the reference the split is measured against. */
async function singleProcess(steps: number): Promise<{ actors: 0; envStepsPerSec: number; updatesPerSec: number; samplesPerInsert: number }> {
  const config = scalingConfig(1, steps);
  const dir = mkdtempSync(join(tmpdir(), 'roborl-bench-single-'));
  const env = await makeLearnerEnv(config);
  const trainer = new OffPolicyTrainer({ env, evalEnv: env, config: resolvedAlgo(config), schedule: config.train, seed: 0, checkpointDir: join(dir, 'checkpoints'), metrics: new MetricsLog(join(dir, 'metrics.jsonl')) });
  const t0 = performance.now();
  await trainer.run();
  const seconds = (performance.now() - t0) / 1000;
  const out = { actors: 0 as const, envStepsPerSec: trainer.step / seconds, updatesPerSec: trainer.learner.updates / seconds, samplesPerInsert: (trainer.learner.updates * 64) / Math.max(1, trainer.step - 500) };
  trainer.dispose();
  await env.close();
  return out;
}

async function scaling(actors: number, steps: number): Promise<{ actors: number; envStepsPerSec: number; updatesPerSec: number; samplesPerInsert: number }> {
  const config = scalingConfig(actors, steps);
  const dir = mkdtempSync(join(tmpdir(), 'roborl-bench-scale-'));
  const evalEnv = await makeLearnerEnv(config, undefined, { evaluation: true });
  const run = new ThreadedRun({ config, env: evalEnv, evalEnv, checkpointDir: join(dir, 'checkpoints'), metrics: new MetricsLog(join(dir, 'metrics.jsonl')) });
  const t0 = performance.now();
  await run.run();
  const seconds = (performance.now() - t0) / 1000;
  const l = run.learner;
  const out = { actors, envStepsPerSec: l.step / seconds, updatesPerSec: l.learner.updates / seconds, samplesPerInsert: l.limiter.ratio() };
  l.dispose();
  await evalEnv.close();
  return out;
}

export async function distributedBenchmark(json: boolean): Promise<unknown> {
  await selectBackend('wasm');
  const only = process.env['DIST_ONLY'];
  const out: Record<string, unknown> = {};
  if (!only || only === 'transports') {
    const transports: TransportResult[] = [];
    const shared = flowControlBuffer();
    const ch = new MessageChannel();
    const tl = new ThreadsLearnerTransport([ch.port1], shared);
    transports.push(await measureTransport('threads', tl, new ThreadsActorTransport(ch.port2, shared)));
    ch.port1.close();
    ch.port2.close();
    if (haveRedis()) {
      const server = await RedisServer.start();
      try {
        const rl = await RedisLearnerTransport.open({ url: server.url, prefix: 'bench' });
        const ra = await RedisActorTransport.open({ url: server.url, prefix: 'bench', actorId: 'bench' });
        transports.push(await measureTransport('redis', rl, ra));
        await ra.close();
        await rl.close();
      } finally {
        await server.down();
      }
    }
    out['transports'] = transports;
    if (!json) for (const t of transports) process.stdout.write(`${t.name}: ${t.transitionsPerSec.toFixed(0)} transitions/s, parameter broadcast ${t.paramBroadcastMs.toFixed(2)} ms\n`);
  }
  if (!only || only === 'pendulum') {
    const base = loadConfig('configs/pendulum-sac-quick.yaml');
    const config = { ...base, train: { ...base.train, evalEvery: 500 } };
    const single = await pendulumRun(config, false);
    const threads = await pendulumRun(validateConfig({ ...config, distributed: { actors: 1 } }, 'bench'), true);
    out['pendulum'] = { config: 'configs/pendulum-sac-quick.yaml (evalEvery 500)', single, threads, speedup: single.secondsTo200 && threads.secondsTo200 ? single.secondsTo200 / threads.secondsTo200 : null };
    if (!json) process.stdout.write(`Pendulum-v1 to −200: single ${single.secondsTo200?.toFixed(1) ?? '—'} s (final ${single.finalReturn.toFixed(0)}), threads ${threads.secondsTo200?.toFixed(1) ?? '—'} s (final ${threads.finalReturn.toFixed(0)})\n`);
  }
  if (!only || only === 'scaling') {
    const steps = Number(process.env['DIST_SCALING_STEPS'] ?? 4000);
    const rows = [];
    for (const actors of [1, 2, 4]) rows.push(await scaling(actors, steps));
    out['scaling'] = rows;
    out['singleProcess'] = await singleProcess(steps);
    out['targetSamplesPerInsert'] = 64;
    if (!json) for (const r of [out['singleProcess'] as (typeof rows)[number], ...rows]) process.stdout.write(`${r.actors} actor(s): ${r.envStepsPerSec.toFixed(0)} env steps/s, ${r.updatesPerSec.toFixed(0)} updates/s, samples/insert ${r.samplesPerInsert.toFixed(1)} (target 64)\n`);
  }
  return out;
}
