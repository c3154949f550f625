import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Env, ResetOptions, ResetResult, StepResult } from '../control/env.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { Wrapper } from '../control/wrappers/wrapper.js';
import { make } from '../tasks/registry.js';
import { MetricsLog } from './metrics-log.js';
import { Throughput } from './run-loop.js';
import { StreamAcConfigSchema } from './stream/config.js';
import { StreamTrainer } from './stream/trainer.js';

/** The evaluation env, counting the episodes it is asked to start (on a robot: the arm moving). */
class CountResets extends Wrapper {
  resets = 0;
  override async reset(options?: ResetOptions): Promise<ResetResult> {
    this.resets++;
    return super.reset(options);
  }
}

async function pendulum(): Promise<Env> {
  return new EpisodeStatistics(new RescaleAction(await make('Pendulum-v1')));
}

describe('RunLoop: a stop request (Ctrl-C)', () => {
  for (const logger of [false, true]) {
    it(`checkpoints at the step it stopped and starts no evaluation episode (${logger ? 'with' : 'without'} a logger)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'roborl-stop-'));
      const evalEnv = new CountResets(await pendulum());
      const lines: string[] = [];
      const trainer: StreamTrainer = new StreamTrainer({
        env: await pendulum(),
        evalEnv,
        config: StreamAcConfigSchema.parse({ kind: 'stream-ac', hidden: [16, 16] }),
        schedule: { steps: 600, evalEvery: 100, evalEpisodes: 2, checkpointEvery: 1_000_000, logEvery: 100, publishEvery: 1 },
        seed: 5,
        checkpointDir: join(dir, 'checkpoints'),
        metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
        onStep: (p) => void (p.step === 250 && trainer.requestStop()),
        ...(logger ? { log: (l: string) => void lines.push(l) } : {}),
      });
      await trainer.run();
      expect(trainer.step).toBe(250);
      expect(existsSync(join(dir, 'checkpoints', 'ckpt-0000000250.bin'))).toBe(true);
      // The scheduled evaluations at 100 and 200 ran (2 episodes each); the stop added none.
      expect(evalEnv.resets).toBe(4);
      if (logger) expect(lines.at(-1)).toMatch(/^stopping at step 250: .*ckpt-0000000250\.bin$/);
    });
  }

  it('a stop during a scheduled evaluation ends it at the next step: no more episodes, no evaluation record, a checkpoint, and the run returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-stop-'));
    let trainer: StreamTrainer | null = null;
    // The evaluation env asks for the stop in its 3rd step (a person's Ctrl-C while the arm evaluates).
    class StopMidEvaluation extends CountResets {
      steps = 0;
      override async step(action: Float32Array): Promise<StepResult> {
        if (++this.steps === 3) trainer?.requestStop();
        return super.step(action);
      }
    }
    const evalEnv = new StopMidEvaluation(await pendulum());
    trainer = new StreamTrainer({
      env: await pendulum(),
      evalEnv,
      config: StreamAcConfigSchema.parse({ kind: 'stream-ac', hidden: [16, 16] }),
      schedule: { steps: 600, evalEvery: 100, evalEpisodes: 3, checkpointEvery: 1_000_000, logEvery: 100, publishEvery: 1 },
      seed: 5,
      checkpointDir: join(dir, 'checkpoints'),
      metrics: new MetricsLog(join(dir, 'metrics.jsonl')),
    });
    await trainer.run();
    expect(trainer.step).toBe(100);
    // One episode begun, and stopped within a step of the request (200-step episodes, 3 asked for).
    expect({ resets: evalEnv.resets, steps: evalEnv.steps }).toEqual({ resets: 1, steps: 3 });
    expect(existsSync(join(dir, 'checkpoints', 'ckpt-0000000100.bin'))).toBe(true);
    expect(new MetricsLog(join(dir, 'metrics.jsonl')).read().filter((r) => r.type === 'eval')).toEqual([]);
  });
});

describe('Throughput', () => {
  it('gives each log window its own rates and mean update time, then starts the next window', async () => {
    const t = new Throughput(10, 100);
    t.learned(4);
    t.learned(8);
    await new Promise((r) => setTimeout(r, 20));
    const first = t.sample(13, 104);
    expect(first.updateMs).toBeCloseTo(4, 9); // 12 ms over 3 updates
    expect(first.updatesPerSec).toBeGreaterThan(0);
    expect(first.envStepsPerSec / first.updatesPerSec).toBeCloseTo(4 / 3, 9);
    expect(t.updatesPerSec).toBe(first.updatesPerSec);
    await new Promise((r) => setTimeout(r, 5));
    const second = t.sample(13, 105); // no update in this window: no mean, no leftover time
    expect(second.updateMs).toBe(0);
    expect(second.updatesPerSec).toBe(0);
    expect(second.envStepsPerSec).toBeGreaterThan(0);
  });
});
