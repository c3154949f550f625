import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../policies/backend.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { validateConfig, type ExperimentConfig } from './config.js';
import { ThreadedRun } from './distributed.js';
import { makeLearnerEnv } from './setup.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

function pendulum(extra: Record<string, unknown> = {}, steps = 1200): ExperimentConfig {
  return validateConfig(
    {
      name: 'dist',
      env: { id: 'Pendulum-v1' },
      algo: { kind: 'sac', hidden: [32, 32], batchSize: 32, learningStarts: 200 },
      train: { steps, evalEvery: 0, evalEpisodes: 2, checkpointEvery: 400, logEvery: 200 },
      distributed: { actors: 2, sendEvery: 20, errorBuffer: 100 },
      ...extra,
    },
    'test',
  );
}

async function threaded(config: ExperimentConfig, dir = mkdtempSync(join(tmpdir(), 'roborl-dist-'))) {
  const env = await makeLearnerEnv(config, undefined, { evaluation: true });
  const metrics = new MetricsLog(join(dir, 'metrics.jsonl'));
  const run = new ThreadedRun({ config, env, evalEnv: env, checkpointDir: join(dir, 'checkpoints'), metrics });
  return { run, dir, metrics, env };
}

describe('actors on worker threads, one learner', () => {
  it('an actor thread that dies is restarted and the learner keeps going', async () => {
    const { run, env } = await threaded(pendulum({}, 2000));
    const done = run.run();
    while (run.learner.step < 600) await new Promise((r) => setTimeout(r, 20));
    await run.killActor(0);
    await done;
    expect(run.restarts).toBe(1);
    expect(run.learner.step).toBeGreaterThanOrEqual(2000);
    expect(run.learner.link.duplicates).toBe(0);
    run.learner.dispose();
    await env.close();
  }, 120_000);

  it('learns from the actors’ transitions: every step arrives once, the ratio holds, parameters reach the actors', async () => {
    const { run, metrics, env } = await threaded(pendulum());
    await run.run();
    const l = run.learner;
    expect(l.step).toBeGreaterThanOrEqual(1200);
    expect(l.link.duplicates).toBe(0);
    const episodes = metrics.read().filter((r) => r.type === 'episode');
    expect(episodes.length).toBeGreaterThanOrEqual(5); // 200-step episodes from two actors
    // Samples per insert held within 10% of the single-process ratio (32 rows per step).
    expect(Math.abs(l.limiter.ratio() / 32 - 1)).toBeLessThan(0.1);
    expect(l.learner.updates).toBeGreaterThan(500);
    // The actors acted with recent parameters (published every update).
    expect(l.link.newestActing).toBeGreaterThan(0.7 * l.learner.updates);
    l.dispose();
    await env.close();
  }, 120_000);
});
