import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type ExperimentConfig } from '../experiment/config.js';
import { makeLearnerEnv, resolvedAlgo, scriptedInLearnerUnits } from '../experiment/setup.js';
import type { Env, StepResult } from '../control/env.js';
import { SafetyLimits } from '../control/safety/safety-limits.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { selectBackend } from '../policies/backend.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { learnerTransition, OffPolicyTrainer } from '../policies/sac/trainer.js';
import { allocBatch, ReplayBuffer } from '../policies/replay.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { IDLE, type TeleopContext, type TeleopDevice, type TeleopReading } from './device.js';
import { SimulatedHuman } from './devices/simulated-human.js';
import { Intervention } from './intervention.js';
import { allFrames, RewardClassifier, sampleFrames, type LabelledEpisode } from './reward-classifier.js';
import { Rng } from '../control/rng.js';

const run = promisify(execFile);

beforeAll(async () => {
  await selectBackend('wasm');
});

function reachConfig(extra: Record<string, unknown> = {}): ExperimentConfig {
  return validateConfig(
    {
      name: 'hil',
      env: { id: 'PandaReach-v0' },
      algo: { kind: 'sac', hidden: [16, 16], batchSize: 16, learningStarts: 50 },
      train: { steps: 150, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 150, logEvery: 50 },
      hil: { simulated: { reactionSteps: 2, patience: 3, holdSteps: 10, budget: 1 } },
      ...extra,
    },
    'test',
  );
}

/** A device that replays a script of readings, one per poll (then idle). */
class ScriptedDevice implements TeleopDevice {
  readonly name = 'scripted';
  closed = false;
  constructor(private readonly script: TeleopReading[]) {}
  poll(_: TeleopContext): TeleopReading {
    return this.script.shift() ?? IDLE;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

async function episode(env: Env, policy: (obs: Float32Array) => Float32Array, seed = 0): Promise<StepResult[]> {
  let { obs } = await env.reset({ seed });
  const out: StepResult[] = [];
  for (;;) {
    const r = await env.step(policy(obs));
    out.push(r);
    obs = r.obs;
    if (r.terminated || r.truncated) return out;
  }
}

describe('the simulated human', () => {
  it('trigger: disagreement (the earlier rule) takes over after persistent disagreement (reacting to what it saw steps ago), hands back after holdSteps, deterministic for a seed', () => {
    const expert = (obs: Float32Array): Float32Array => Float32Array.of(obs[0]! > 0 ? -1 : 1);
    const run = (): boolean[] => {
      const human = new SimulatedHuman({ expert, trigger: 'disagreement', budget: 1, reactionSteps: 2, patience: 3, holdSteps: 4, noise: 0.1, seed: 5 });
      human.episodeStart();
      // The policy always pushes +1 while the observation says −1 is right.
      return Array.from({ length: 12 }, (_, t) => human.poll({ obs: Float32Array.of(1), proposed: Float32Array.of(1), t }).engaged);
    };
    const engaged = run();
    expect(engaged).toEqual([false, false, true, true, true, true, false, false, true, true, true, true]);
    expect(run()).toEqual(engaged);
  });
});

describe('Intervention: a human command passes through the safety tiers', () => {
  it('the person takes over a policy heading the wrong way; their commands are rate-limited by Tier 0 like any other; episodes count their steps and takeovers', async () => {
    const config = reachConfig({ safety: { limits: { maxActionRate: 0.05 } } });
    const env = await makeLearnerEnv(config, undefined, { human: true });
    expect(findWrapper(env, Intervention)).toBeDefined();
    // A bad policy: full speed on every joint, away from any goal.
    const steps = await episode(env, () => new Float32Array(7).fill(1));
    const engaged = steps.filter((r) => r.info.intervention?.engaged);
    expect(engaged.length).toBeGreaterThan(10);
    for (const r of engaged) {
      const human = r.info.intervention!.human!;
      const executed = r.info.safety!.executed;
      expect(r.info.safety!.proposed).toEqual(human); // the safety layers saw the person's command…
      expect(Array.from(r.info.intervention!.policy)).toEqual(new Array(7).fill(1)); // …and the policy's is kept
      if (executed.some((v, i) => Math.abs(v - human[i]!) > 1e-6)) expect(r.info.safety!.hits['rate'] ?? 0).toBeGreaterThan(0);
    }
    // The person's sharp changes of direction met the rate limit at least once…
    expect(engaged.some((r) => (r.info.safety!.hits['rate'] ?? 0) > 0)).toBe(true);
    // …and what ran never changed faster than it allows (0.05 per step; PandaReach's action box is
    // [−1, 1], so learner units are the env's) on every step no joint or workspace limit reshaped.
    let checked = 0;
    let largest = 0;
    for (let i = 1; i < steps.length; i++) {
      const s = steps[i]!.info.safety!;
      if ((s.hits['position'] ?? 0) + (s.hits['velocity'] ?? 0) + (s.hits['workspace'] ?? 0) > 0) continue;
      const before = steps[i - 1]!.info.safety!.executed;
      s.executed.forEach((v, j) => (largest = Math.max(largest, Math.abs(v - before[j]!))));
      checked++;
    }
    expect(checked).toBeGreaterThan(steps.length / 2);
    expect(largest).toBeLessThanOrEqual(0.05 + 1e-6);
    expect(largest).toBeGreaterThan(0.04); // the limit was reached, not merely respected by slow commands
    const summary = steps.at(-1)!.info.episode!;
    expect(summary.human!.steps).toBe(engaged.length);
    expect(summary.human!.takeovers).toBeGreaterThanOrEqual(1);
    expect(summary.human!.rate).toBeCloseTo(engaged.length / steps.length, 12);
    // A policy that does what the person would do is left alone.
    const expert = scriptedInLearnerUnits('PandaReach-v0', env);
    const good = await episode(env, expert, 1);
    expect(good.filter((r) => r.info.intervention?.engaged)).toHaveLength(0);
    await env.close();
  });

  it('buttons: success ends the episode as a success, e-stop latches Tier 0; a device that disconnects holds and ends the episode (or hands back, as configured)', async () => {
    const config = reachConfig();
    const make = async (device: TeleopDevice, onDisconnect: 'hold' | 'policy'): Promise<Env> => new Intervention(await makeLearnerEnv(config), device, { onDisconnect });
    const press = (button: TeleopReading['button']): TeleopReading => ({ ...IDLE, button });
    const a = await make(new ScriptedDevice([IDLE, press('success')]), 'hold');
    const s = await episode(a, () => new Float32Array(7));
    expect(s).toHaveLength(2);
    expect(s[1]!.terminated).toBe(true);
    expect(s[1]!.info.success).toBe(true);
    const estop = await make(new ScriptedDevice([press('estop')]), 'hold');
    await estop.reset({ seed: 0 });
    const stopped = await estop.step(new Float32Array(7).fill(1));
    expect(findWrapper(estop, SafetyLimits)!.estopLatched).toBe(true);
    expect(stopped.truncated).toBe(true);
    expect(Array.from(stopped.info.safety!.executed)).toEqual(new Array(7).fill(0)); // held
    const gone: TeleopReading = { ...IDLE, connected: false, error: 'keyboard closed' };
    const hold = await make(new ScriptedDevice([IDLE, gone]), 'hold');
    const h = await episode(hold, () => new Float32Array(7).fill(0.5));
    expect(h).toHaveLength(2);
    expect(h[1]!.truncated).toBe(true);
    expect(h[1]!.info.intervention!.deviceError).toBe('keyboard closed');
    expect(Array.from(h[1]!.info.safety!.proposed)).toEqual(new Array(7).fill(0)); // the hold action went out
    // A malformed command (NaN, wrong length) is refused and counted; the policy's action runs.
    const nan: TeleopReading = { ...IDLE, engaged: true, action: Float32Array.of(Number.NaN, 0, 0, 0, 0, 0, 0) };
    const short: TeleopReading = { ...IDLE, engaged: true, action: Float32Array.of(1) };
    const bad = new Intervention(await makeLearnerEnv(config), new ScriptedDevice([nan, short]), {});
    await bad.reset({ seed: 0 });
    for (let k = 0; k < 2; k++) expect((await bad.step(new Float32Array(7).fill(0.25))).info.intervention!.engaged).toBe(false);
    expect(bad.stats.badReadings).toBe(2);
    const handBack = await make(new ScriptedDevice([IDLE, gone]), 'policy');
    const p = await episode(handBack, () => new Float32Array(7).fill(0.5));
    expect(p.length).toBeGreaterThan(2);
    expect(p[1]!.truncated).toBe(false);
  });
});

/** What a learner stores of a step (every learner, the actors and the demo recorder share it). */
const stored = (obs: Float32Array, action: Float32Array, r: StepResult, learnFrom: 'executed' | 'proposed' = 'executed') => learnerTransition(obs, action, r, { learnFrom, correctionPenalty: 0 }, 0);

/** Steps `env` from a seeded reset with `policy`, returning what a learner stores of each step. */
async function storedEpisode(env: Env, policy: Float32Array, steps: number): Promise<ReturnType<typeof stored>[]> {
  let { obs } = await env.reset({ seed: 4 });
  const out: ReturnType<typeof stored>[] = [];
  for (let i = 0; i < steps; i++) {
    const r = await env.step(policy);
    out.push(stored(obs, policy, r));
    obs = r.obs;
    if (r.terminated || r.truncated) break;
  }
  return out;
}

describe('what the learner stores of a person\'s buttons', () => {
  const pendulum = (extra: Record<string, unknown> = {}): ExperimentConfig => validateConfig({ name: 'p', env: { id: 'Pendulum-v1', ...extra }, algo: { kind: 'sac' }, train: { steps: 10 } }, 'test');
  const press = (button: TeleopReading['button']): TeleopReading => ({ ...IDLE, button });

  it('the success button ends the episode as a success with the task\'s own reward there — truncated on a task that runs on past its success (Pendulum)', async () => {
    const plain = await makeLearnerEnv(pendulum());
    const expected = await storedEpisode(plain, Float32Array.of(0.3), 3);
    const env = new Intervention(await makeLearnerEnv(pendulum()), new ScriptedDevice([IDLE, IDLE, press('success')]));
    expect(env.spec.successEnds).toBe(false);
    const got = await storedEpisode(env, Float32Array.of(0.3), 10);
    expect(got.map((t) => [t.reward, t.terminated, t.truncated])).toEqual(expected.map((t, i) => [t.reward, false, i === 2]));
  });

  it('on a task that pays its dense reward past a success (pick), the success button ends the episode truncated, not terminal; where the task ends on success, terminal', async () => {
    const pick = (options: Record<string, unknown>): ExperimentConfig => validateConfig({ name: 'p', env: { id: 'PandaPickCube-v0', options }, algo: { kind: 'sac' }, train: { steps: 10 } }, 'test');
    const hold = new Float32Array(8);
    for (const [options, terminal] of [[{}, false], [{ terminateOnSuccess: true }, true]] as const) {
      const env = new Intervention(await makeLearnerEnv(pick(options)), new ScriptedDevice([IDLE, IDLE, press('success')]));
      expect(env.spec.successEnds).toBe(terminal);
      let success: boolean | undefined;
      let { obs } = await env.reset({ seed: 4 });
      const got: ReturnType<typeof stored>[] = [];
      for (;;) {
        const r = await env.step(hold);
        got.push(stored(obs, hold, r));
        obs = r.obs;
        success = r.info.success;
        if (r.terminated || r.truncated) break;
      }
      expect(got.map((t) => [t.terminated, t.truncated])).toEqual([[false, false], [false, false], [terminal, !terminal]]);
      expect(success).toBe(true);
      await env.close();
    }
  });

  it('under a learned reward classifier the success button stores reward 1, terminal (not 0, a failure\'s value)', async () => {
    // A classifier whose success is a state the pendulum never reaches (|θ̇| ≫ 8): it never fires on its own.
    const rng = new Rng(2);
    const frame = (success: boolean): Float32Array => (success ? Float32Array.of(1, 0, 60 + rng.uniform(0, 5)) : Float32Array.of(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-15, 15)));
    const episodes: LabelledEpisode[] = Array.from({ length: 60 }, () => ({ frames: [...Array.from({ length: 6 }, () => frame(false)), frame(true)], labels: [0, 0, 0, 0, 0, 0, 1] }));
    const clf = RewardClassifier.train(sampleFrames(episodes.slice(0, 40), { seed: 1 }), allFrames(episodes.slice(40)), { seed: 1, hidden: [8], epochs: 100, lr: 0.01, minPrecision: 1 });
    const path = join(mkdtempSync(join(tmpdir(), 'roborl-hil-clf-')), 'never.classifier');
    clf.save(path);
    clf.dispose();
    const env = new Intervention(await makeLearnerEnv(pendulum({ rewardClassifier: path })), new ScriptedDevice([IDLE, IDLE, press('success')]));
    const got = await storedEpisode(env, Float32Array.of(0.3), 10);
    expect(got.map((t) => [t.reward, t.terminated, t.truncated])).toEqual([
      [0, false, false],
      [0, false, false],
      [1, true, false],
    ]);
    await env.close();
  });

  it('hold steps (e-stop, a lost device) store the action executed, without a safety layer as with one', async () => {
    const gone: TeleopReading = { ...IDLE, connected: false, error: 'keyboard closed' };
    // Pendulum: no safety layer; the wrapper's hold (0) is what ran, not the policy's 0.5.
    for (const reading of [press('estop'), gone]) {
      const env = new Intervention(await makeLearnerEnv(pendulum()), new ScriptedDevice([IDLE, reading]));
      const got = await storedEpisode(env, Float32Array.of(0.5), 10);
      expect(got.map((t) => [Array.from(t.action), t.truncated])).toEqual([
        [[0.5], false],
        [[0], true],
      ]);
    }
    // PandaReach: Tier 0 limits; what they executed is stored, whichever action a run learns from.
    const arm = new Intervention(await makeLearnerEnv(reachConfig()), new ScriptedDevice([IDLE, press('estop')]));
    let { obs } = await arm.reset({ seed: 0 });
    const policy = new Float32Array(7).fill(0.5);
    obs = (await arm.step(policy)).obs;
    const r = await arm.step(policy);
    const executed = Array.from(r.info.safety!.executed);
    expect(executed.every((v) => Math.abs(v) < 1e-6)).toBe(true);
    for (const learnFrom of ['executed', 'proposed'] as const) expect(Array.from(stored(obs, policy, r, learnFrom).action)).toEqual(executed);
    await arm.close();
  });
});

describe('learning from interventions (HIL-SERL)', () => {
  it('intervened transitions go to both the online and the demo buffer (upsampled), and survive a checkpoint', async () => {
    const config = reachConfig();
    const dir = mkdtempSync(join(tmpdir(), 'roborl-hil-'));
    const make = async (steps: number): Promise<OffPolicyTrainer> =>
      new OffPolicyTrainer({
        env: await makeLearnerEnv(config, undefined, { human: true }),
        evalEnv: await makeLearnerEnv(config),
        config: resolvedAlgo(config),
        schedule: { ...config.train, steps },
        seed: 0,
        checkpointDir: join(dir, 'checkpoints'),
        metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
        interventions: { toDemos: true, upsample: 2 },
      });
    const trainer = await make(150);
    await trainer.run();
    expect(trainer.replay.size).toBe(150);
    expect(trainer.humanTransitions).toBeGreaterThan(0);
    expect(trainer.demoTable!.size).toBe(2 * trainer.humanTransitions);
    const episodes = new MetricsLog(join(dir, 'metrics.jsonl')).read().filter((r) => r.type === 'episode');
    expect(episodes.every((e) => (e['human'] as { steps: number }).steps >= 0)).toBe(true);
    trainer.dispose();
    const resumed = await make(200);
    expect(resumed.resume()).toBe(150);
    expect(resumed.demoTable!.size).toBe(trainer.demoTable!.size);
    expect(resumed.humanTransitions).toBe(trainer.humanTransitions);
    resumed.dispose();
  }, 120_000);

  it('on a task without a safety layer, the stored action is the person\'s, not the policy\'s', async () => {
    const config = validateConfig({ name: 'p', env: { id: 'Pendulum-v1' }, algo: { kind: 'sac', hidden: [8], batchSize: 8, learningStarts: 1000 }, train: { steps: 40, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 40, logEvery: 20 } }, 'test');
    const dir = mkdtempSync(join(tmpdir(), 'roborl-hil-p-'));
    const person: TeleopReading = { ...IDLE, engaged: true, action: Float32Array.of(0.75) };
    const trainer = new OffPolicyTrainer({
      env: new EpisodeStatistics(new Intervention(await makeLearnerEnv(config), new ScriptedDevice(Array.from({ length: 20 }, () => person)))),
      evalEnv: await makeLearnerEnv(config),
      config: resolvedAlgo(config),
      schedule: config.train,
      seed: 0,
      checkpointDir: join(dir, 'checkpoints'),
      metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
      interventions: { toDemos: true, upsample: 1 },
    });
    await trainer.run();
    expect(trainer.humanTransitions).toBe(20);
    const demos = trainer.demoTable as ReplayBuffer;
    const batch = allocBatch(demos.spec, 20);
    for (let i = 0; i < 20; i++) demos.writeRow(batch, i, i, 0.99, 1);
    expect(Array.from(batch.action)).toEqual(new Array(20).fill(0.75));
    trainer.dispose();
  });

  it('through the CLI: a config with the README\'s hil section trains, and its episode records carry the person\'s steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-hil-cli-'));
    const cfg = join(dir, 'hil.yaml');
    writeFileSync(
      cfg,
      'name: hil\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 50 }\ntrain: { steps: 150, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 150, logEvery: 50 }\nhil:\n  device: simulated\n  buffers: both\n  upsample: 2\n  simulated: { reactionSteps: 3, patience: 5, holdSteps: 15 }\n',
    );
    await run(process.execPath, [fileURLToPath(new URL('../cli/bin.mjs', import.meta.url)), 'train', cfg, '--run-dir', join(dir, 'run'), '--quiet'], { timeout: 120_000 });
    const episodes = new MetricsLog(join(dir, 'run', 'metrics.jsonl')).read().filter((r) => r.type === 'episode');
    expect(episodes.length).toBe(3);
    const human = episodes.map((e) => e['human'] as { steps: number; takeovers: number; rate: number });
    expect(human.some((h) => h.steps > 0)).toBe(true);
  }, 120_000);
});
