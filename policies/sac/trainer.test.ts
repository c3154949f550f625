import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../control/env.js';
import { randomPolicy } from '../../control/policy.js';
import { Rng } from '../../control/rng.js';
import { RescaleAction } from '../../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { make } from '../../tasks/registry.js';
import { selectBackend } from '../backend.js';
import { listCheckpoints } from '../checkpoint.js';
import { MetricsLog } from '../metrics-log.js';
import { allocBatch } from '../replay.js';
import { resolveSacConfig, SacConfigSchema, type SacConfigInput } from './config.js';
import { episodic, evaluatePolicy } from '../evaluate.js';
import { OffPolicyTrainer } from './trainer.js';
import { findWrapper } from '../../control/wrappers/wrapper.js';
import { Intervention } from '../../hil/intervention.js';
import { SimulatedHuman } from '../../hil/devices/simulated-human.js';
import { LagrangeMultiplier } from '../safe/lagrange.js';
import type { TrainerSchedule } from '../run-loop.js';

beforeAll(async () => {
  // Learning runs on the fast path (the system BLAS where installed, one thread: the tests share
  // the machine); sac.test.ts checks that the wasm path computes the same updates.
  await selectBackend('auto', { threads: 1 });
});

async function pendulum(id = 'Pendulum-v1'): Promise<Env> {
  return new EpisodeStatistics(new RescaleAction(await make(id)));
}

async function trainer(dir: string, algo: Partial<SacConfigInput>, schedule: Partial<TrainerSchedule> & { steps: number }, id = 'Pendulum-v1'): Promise<OffPolicyTrainer> {
  return new OffPolicyTrainer({
    env: await pendulum(id),
    evalEnv: await pendulum(id),
    config: resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', ...algo })),
    schedule: { evalEvery: 0, evalEpisodes: 3, checkpointEvery: 1_000_000, logEvery: 100, publishEvery: 1, ...schedule },
    seed: 3,
    checkpointDir: join(dir, 'checkpoints'),
    metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
  });
}

describe('OffPolicyTrainer', () => {
  it('learns Pendulum-v1 with small networks: clearly better than random after 4k steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-learn-'));
    const t = await trainer(dir, { hidden: [128, 128], batchSize: 128, actorLr: 1e-3, criticLr: 1e-3, alphaLr: 1e-3, learningStarts: 500 }, { steps: 4000, evalEpisodes: 5 });
    const random = await evaluatePolicy(await pendulum(), episodic(randomPolicy((await pendulum()).spec.actionSpace, new Rng(0))), 5, 1_000_000 + 3000);
    const final = await t.run();
    expect(random.returnMean).toBeLessThan(-900);
    expect(final.returnMean).toBeGreaterThan(random.returnMean + 500);
    t.dispose();
  }, 600_000); // a hang guard only: the test is bounded by its step budget

  it('a run checkpointed and resumed at an episode boundary ends bit-identical to an uninterrupted one', async () => {
    const algo = { hidden: [16, 16], batchSize: 32, learningStarts: 100, utd: 1 };
    const straight = await trainer(mkdtempSync(join(tmpdir(), 'roborl-a-')), algo, { steps: 600 });
    await straight.run();

    const dirB = mkdtempSync(join(tmpdir(), 'roborl-b-'));
    const first = await trainer(dirB, algo, { steps: 400, checkpointEvery: 400 });
    await first.run();
    expect(listCheckpoints(join(dirB, 'checkpoints'))).toEqual(['ckpt-0000000400.bin']);
    first.dispose();
    const resumed = await trainer(dirB, algo, { steps: 600 });
    expect(resumed.resume()).toBe(400);
    await resumed.run();

    const a = straight.learner.snapshot();
    const b = resumed.learner.snapshot();
    expect(b.version).toBe(a.version);
    a.weights.w.forEach((w, i) => expect(Array.from(b.weights.w[i]!)).toEqual(Array.from(w)));
    expect(resumed.learner.alpha).toBe(straight.learner.alpha);
    const obs = Float32Array.of(0.3, -0.2, 1.1);
    expect(Array.from(resumed.learner.meanAction(obs, 1))).toEqual(Array.from(straight.learner.meanAction(obs, 1)));
    straight.dispose();
    resumed.dispose();
  }, 600_000); // a hang guard only: the test is bounded by its step budget

  it('SAC-Lagrangian: λ follows the episode costs, is logged per episode, and resumes exactly from a checkpoint', async () => {
    const algo = { hidden: [16, 16], batchSize: 32, learningStarts: 100, safe: { constraints: { speed: { limit: 0.5 } }, method: 'pid' as const, window: 2, kp: 0.05, ki: 0.02 } };
    const straight = await trainer(mkdtempSync(join(tmpdir(), 'roborl-lag-a-')), algo, { steps: 800 }, 'SafePendulum-v0');
    await straight.run();
    const dirB = mkdtempSync(join(tmpdir(), 'roborl-lag-b-'));
    const first = await trainer(dirB, algo, { steps: 400, checkpointEvery: 400 }, 'SafePendulum-v0');
    await first.run();
    first.dispose();
    const resumed = await trainer(dirB, algo, { steps: 800 }, 'SafePendulum-v0');
    expect(resumed.resume()).toBe(400);
    await resumed.run();
    expect(resumed.multipliers[0]!.state()).toEqual(straight.multipliers[0]!.state());
    const episodes = new MetricsLog(join(dirB, 'metrics.jsonl')).read().filter((r) => r.type === 'episode');
    expect(episodes).toHaveLength(4);
    // The logged λ sequence is the PID update fed with the logged costs: the first episode began
    // in warm-up (random actions) and does not count; then one update per window of 2 episodes,
    // from their mean; λ holds in between.
    const costs = episodes.map((e) => (e['costs'] as Record<string, number>)['speed']!);
    const lambdas = episodes.map((e) => (e['lambdas'] as Record<string, number>)['speed']!);
    expect(episodes[0]!['warmup']).toBe(true);
    const replay = new LagrangeMultiplier('speed', 0.5, resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', ...algo })).safe!);
    costs.forEach((c, i) => expect(i % 2 === 1 || i === 0 ? replay.lambda : replay.update((c + costs[i - 1]!) / 2)).toBeCloseTo(lambdas[i]!, 12));
    expect(costs.some((c) => c > 0.5)).toBe(true);
    expect(Math.max(...lambdas)).toBeGreaterThan(0);
    expect(resumed.learner.lambdas[0]).toBe(lambdas.at(-1));
    straight.dispose();
    resumed.dispose();
  }, 600_000); // a hang guard only: the test is bounded by its step budget

  it('resumed mid-episode: n-step returns stop at the interrupted episode, never run into the restarted one', async () => {
    const algo = { hidden: [8, 8], batchSize: 16, learningStarts: 100, nStep: 3, gamma: 0.9 };
    const dir = mkdtempSync(join(tmpdir(), 'roborl-nstep-'));
    // Pendulum episodes last 200 steps: the checkpoint at 250 is 50 steps into episode 2.
    const first = await trainer(dir, algo, { steps: 250, checkpointEvery: 250 });
    await first.run();
    first.dispose();
    const resumed = await trainer(dir, algo, { steps: 260 });
    expect(resumed.resume()).toBe(250);
    await resumed.run();
    const row = (start: number, n: number): { reward: number; discount: number; next: number } => {
      const b = allocBatch(resumed.replay.spec, 1);
      resumed.replay.writeRow(b, 0, start, 0.9, n);
      return { reward: b.reward[0]!, discount: b.discount[0]!, next: b.nextObs[0]! };
    };
    // Transition 249 was the last one before the kill; 250 opens the restarted episode.
    const [r248, r249, r250] = [row(248, 1), row(249, 1), row(250, 1)];
    const three = row(248, 3);
    expect(three.reward).toBeCloseTo(r248.reward + 0.9 * r249.reward, 5);
    expect(three.reward).not.toBeCloseTo(r248.reward + 0.9 * r249.reward + 0.81 * r250.reward, 3);
    expect(three.discount).toBeCloseTo(0.81, 6); // truncated: it still bootstraps, from 249's next state
    expect(three.next).toBe(r249.next);
    resumed.dispose();
  }, 600_000);

  it('a person’s spent budget and intervention counts survive a resume, also one without the person in between', async () => {
    const algo = { hidden: [16, 16], batchSize: 32, learningStarts: 100, utd: 1 };
    // A person who takes over whenever the policy stalls, with 10% of a 600-step run to spend.
    const withPerson = async (dir: string, steps: number, checkpointEvery: number) => {
      const person = new SimulatedHuman({ expert: () => Float32Array.of(0.5), reactionSteps: 1, patience: 2, budget: 0.1, runSteps: 600 });
      const env = new EpisodeStatistics(new Intervention(new RescaleAction(await make('Pendulum-v1')), person));
      const t = new OffPolicyTrainer({
        env,
        evalEnv: await pendulum(),
        config: resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', ...algo })),
        schedule: { evalEvery: 0, evalEpisodes: 1, checkpointEvery, logEvery: 100, publishEvery: 1, steps },
        seed: 3,
        checkpointDir: join(dir, 'checkpoints'),
        metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
      });
      return { t, person, intervention: findWrapper(env, Intervention)! };
    };
    const dir = mkdtempSync(join(tmpdir(), 'roborl-person-'));
    const a = await withPerson(dir, 200, 200);
    await a.t.run();
    a.t.dispose();
    const spent = a.person.stats.humanSteps;
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(60);
    // Resumed without the person: their state rides along in the next checkpoint.
    const plain = await trainer(dir, algo, { steps: 300, checkpointEvery: 100 });
    expect(plain.resume()).toBe(200);
    await plain.run();
    plain.dispose();
    // With the person again: they have spent what they had, and the run's budget is not granted twice.
    const b = await withPerson(dir, 600, 300);
    expect(b.t.resume()).toBe(300);
    expect(b.person.stats.humanSteps).toBe(spent);
    expect(b.person.stats.steps).toBe(a.person.stats.steps);
    expect(b.person.budgetLeft()).toBe(60 - spent);
    expect(b.intervention.stats).toEqual(a.intervention.stats);
    await b.t.run();
    expect(b.person.stats.humanSteps).toBeLessThanOrEqual(60);
    b.t.dispose();
  });

  it('refuses constraints the env does not have, naming the ones it has', async () => {
    await expect(trainer(mkdtempSync(join(tmpdir(), 'roborl-lag-c-')), { safe: { constraints: { speeed: { limit: 1 } } } }, { steps: 10 }, 'SafePendulum-v0')).rejects.toThrow(/no constraint "speeed" \(its constraints: joint_velocity, speed\)/);
  });

  it('refuses a discrete action space with a clear error', async () => {
    const env = await make('CartPoleDiscrete-v0');
    expect(
      () =>
        new OffPolicyTrainer({
          env,
          evalEnv: env,
          config: resolveSacConfig(SacConfigSchema.parse({ kind: 'sac' })),
          schedule: { steps: 10, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 10, logEvery: 10, publishEvery: 1 },
          seed: 0,
          checkpointDir: '/nonexistent',
          metrics: new MetricsLog('/nonexistent/m.jsonl'),
        }),
    ).toThrow(/SAC needs a continuous \(Box\) action space; CartPoleDiscrete-v0 has discrete actions/);
  });
});
