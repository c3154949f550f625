import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../control/env.js';
import { RescaleAction } from '../../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { make } from '../../tasks/registry.js';
import { MetricsLog } from '../metrics-log.js';
import { StreamAcConfigSchema, StreamQConfigSchema, StreamTdConfigSchema, type StreamConfig } from './config.js';
import { randomPolicy, type Policy } from '../../control/policy.js';
import { Rng } from '../../control/rng.js';
import { StreamTrainer } from './trainer.js';

async function env(id: string): Promise<Env> {
  const e = await make(id);
  return new EpisodeStatistics(e.spec.actionSpace.kind === 'box' ? new RescaleAction(e) : e);
}

async function trainer(id: string, dir: string, config: StreamConfig, steps: number, checkpointEvery = 1_000_000, fixedPolicy?: Policy, onStep?: (step: number) => void): Promise<StreamTrainer> {
  return new StreamTrainer({
    fixedPolicy,
    onStep: onStep && ((p) => onStep(p.step)),
    env: await env(id),
    evalEnv: await env(id),
    config,
    schedule: { steps, evalEvery: 0, evalEpisodes: 2, checkpointEvery, logEvery: 100, publishEvery: 1 },
    seed: 5,
    checkpointDir: join(dir, 'checkpoints'),
    metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
  });
}

describe('StreamTrainer', () => {
  it('resumed at an episode boundary, ends exactly where an uninterrupted run ends', async () => {
    const config = StreamAcConfigSchema.parse({ kind: 'stream-ac', hidden: [16, 16] });
    const straight = await trainer('Pendulum-v1', mkdtempSync(join(tmpdir(), 'roborl-sa-')), config, 600);
    const a = await straight.run();
    const dir = mkdtempSync(join(tmpdir(), 'roborl-sb-'));
    await (await trainer('Pendulum-v1', dir, config, 400, 400)).run();
    const resumed = await trainer('Pendulum-v1', dir, config, 600);
    expect(resumed.resume()).toBe(400);
    const b = await resumed.run();
    expect(b.returns).toEqual(a.returns);
    const obs = Float32Array.of(0.1, 0.9, -0.3);
    expect(Array.from(resumed.policy().act(obs))).toEqual(Array.from(straight.policy().act(obs)));
  });

  it('a stop request mid-episode checkpoints with no logger attached; the resumed run goes on to its end with no step missing', async () => {
    const config = StreamAcConfigSchema.parse({ kind: 'stream-ac', hidden: [16, 16] });
    const dir = mkdtempSync(join(tmpdir(), 'roborl-sstop-'));
    // No \`log\` option: the stop's checkpoint must not depend on one.
    const first: StreamTrainer = await trainer('Pendulum-v1', dir, config, 600, 1_000_000, undefined, (step) => step === 250 && first.requestStop());
    await first.run();
    expect(first.step).toBe(250);
    const resumed = await trainer('Pendulum-v1', dir, config, 600);
    expect(resumed.resume()).toBe(250);
    await resumed.run();
    expect(resumed.step).toBe(600);
    const records = new MetricsLog(join(dir, 'metrics.jsonl')).read();
    // A train line every 100 steps, each once; the episode cut at 250 restarts (200-step episodes).
    expect(records.filter((r) => r.type === 'train').map((r) => r.step)).toEqual([100, 200, 300, 400, 500, 600]);
    expect(records.filter((r) => r.type === 'episode').map((r) => r.step)).toEqual([200, 450]);
    expect(records.filter((r) => r.type === 'eval').map((r) => r.step)).toEqual([600]);
  });

  it('refuses mismatched action spaces with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-sx-'));
    await expect(trainer('CartPoleDiscrete-v0', dir, StreamAcConfigSchema.parse({ kind: 'stream-ac' }), 10)).rejects.toThrow(/stream-ac needs a continuous \(Box\) action space; CartPoleDiscrete-v0 has discrete actions \(use stream-q\)/);
    await expect(trainer('Pendulum-v1', dir, StreamQConfigSchema.parse({ kind: 'stream-q' }), 10)).rejects.toThrow(/stream-q needs a discrete action space/);
  });

  it('Stream Q(λ) runs on the discrete cart-pole and logs per-update cost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-sq-'));
    const t = await trainer('CartPoleDiscrete-v0', dir, StreamQConfigSchema.parse({ kind: 'stream-q' }), 500);
    await t.run();
    const train = new MetricsLog(join(dir, 'metrics.jsonl')).read().filter((r) => r.type === 'train');
    expect(train).toHaveLength(5);
    expect(train[0]!['updateUsP99']).toBeGreaterThan(0);
    expect(train[4]!['epsilon']).toBeCloseTo(0.01, 6);
  });

  it('Stream TD(λ) learns the value of a fixed policy from a config, with value error reported and resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-std-'));
    const config = StreamTdConfigSchema.parse({ kind: 'stream-td', policy: 'random' });
    const policy = randomPolicy((await env('Pendulum-v1')).spec.actionSpace, new Rng(3));
    const t = await trainer('Pendulum-v1', dir, config, 400, 200, policy);
    const before = await t.valueError();
    await t.run();
    const after = await t.valueError();
    expect(after.valueRmse).toBeLessThan(before.valueRmse);
    const evals = new MetricsLog(join(dir, 'metrics.jsonl')).read().filter((r) => r.type === 'eval');
    expect(evals.at(-1)?.['valueRmse']).toBeGreaterThan(0);
    const resumed = await trainer('Pendulum-v1', dir, config, 600, 200, policy);
    expect(resumed.resume()).toBe(400);
    await resumed.run();
    expect(resumed.step).toBe(600);
    const resumedEvals = new MetricsLog(join(dir, 'metrics.jsonl')).read().filter((r) => r.type === 'eval');
    expect(resumedEvals.map((r) => r.step)).toEqual([400, 600]);
    expect(resumedEvals.at(-1)?.['valueRmse']).toBeLessThan(before.valueRmse);
    await expect(trainer('Pendulum-v1', dir, config, 10)).rejects.toThrow(/stream-td learns the value of a fixed policy/);
  });
});
