import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Env, ResetOptions, ResetResult, StepResult } from '../control/env.js';
import { RescaleAction } from '../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../control/wrappers/episode-statistics.js';
import { Wrapper } from '../control/wrappers/wrapper.js';
import { make } from '../tasks/registry.js';
import { MetricsLog } from './metrics-log.js';
import { loadLatestCheckpoint } from './checkpoint.js';
import type { EvalResult } from './evaluate.js';
import { bestEvaluationOf, RunLoop, Throughput } from './run-loop.js';
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
    // Before the first window closes there is no rate (the progress line shows –, not a false 0).
    expect(t.updatesPerSec).toBeNaN();
    expect(t.envStepsPerSec).toBeNaN();
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

/** A trainer whose evaluations are scripted, to watch what it keeps as its best policy. */
class ScriptedEvaluations extends RunLoop {
  private k = 0;
  constructor(
    dir: string,
    private readonly results: readonly { success: number; ret: number; cost?: number }[],
    private readonly limit = Infinity,
    readonly lines: string[] = [],
  ) {
    super({ steps: 0, evalEvery: 1, evalEpisodes: 2, checkpointEvery: 1, logEvery: 1, publishEvery: 1 }, new MetricsLog(join(dir, 'metrics.jsonl')), (l) => void lines.push(l));
    this.bestDir = join(dir, 'best');
  }
  async evaluate(): Promise<EvalResult> {
    const r = this.results[this.k++] ?? { success: 0, ret: 0 };
    return { returnMean: r.ret, returnStd: 0, successRate: r.success, lengthMean: 1, returns: [r.ret, r.ret], costMeans: { c: r.cost ?? 0 }, costs: { c: [r.cost ?? 0, r.cost ?? 0] }, firstSeed: 0, lost: [] };
  }
  checkpoint(): string {
    return '';
  }
  /** The policy is the step it was evaluated at, so the file says which evaluation it kept. */
  protected override policyState(): { header: Record<string, unknown>; sections: ArrayBufferView[] } {
    return { header: { policyOf: this.envSteps }, sections: [Float32Array.of(this.envSteps)] };
  }
  protected override eligibleForBest(e: EvalResult): boolean {
    return (e.costMeans['c'] ?? 0) <= this.limit;
  }
  async evaluateAt(step: number): Promise<void> {
    this.envSteps = step;
    await this.evaluateAndLog();
  }
}

describe('RunLoop: the best evaluation\'s policy', () => {
  const kept = (dir: string): { step: number; evaluation: unknown; section: number } => {
    const f = loadLatestCheckpoint(join(dir, 'best'));
    if (!f) throw new Error('no best file');
    return { step: f.step, evaluation: bestEvaluationOf(f.header), section: new Float32Array(f.sections[0]!.buffer, f.sections[0]!.byteOffset, 1)[0]! };
  };

  it('keeps the highest success, then the highest return; one file; a resumed run goes on from the kept one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    const first = new ScriptedEvaluations(dir, [
      { success: 0.2, ret: -5 },
      { success: 0.6, ret: -9 },
      { success: 0.6, ret: -9 }, // a tie: the earlier one stays
      { success: 0.5, ret: 10 }, // a better return does not beat a better success rate
      { success: 0.6, ret: -3 }, // the same rate with a better return does
      { success: 0.3, ret: -1 },
    ]);
    for (const step of [100, 200, 300, 400, 500, 600]) {
      await first.evaluateAt(step);
      expect(readdirSync(join(dir, 'best')).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    }
    expect(kept(dir)).toEqual({ step: 500, evaluation: { step: 500, successRate: 0.6, returnMean: -3, episodes: 2 }, section: 500 });
    expect(first.lines.filter((l) => l.startsWith('best so far'))).toHaveLength(3);
    // A resumed run (a new trainer over the same folder) does not replace it with a worse one…
    const resumed = new ScriptedEvaluations(dir, [{ success: 0.55, ret: 100 }, { success: 0.9, ret: -20 }]);
    await resumed.evaluateAt(700);
    expect(kept(dir).step).toBe(500);
    // …and does with a better one.
    await resumed.evaluateAt(800);
    expect(kept(dir)).toMatchObject({ step: 800, section: 800 });
  });

  it('a better policy from an earlier step than the kept one (a resume that evaluates otherwise) replaces it; a foreign network too; an unwritable folder only warns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    await new ScriptedEvaluations(dir, [{ success: 0, ret: -10 }]).evaluateAt(500);
    const resumed = new ScriptedEvaluations(dir, [{ success: 0, ret: -1 }, { success: 0, ret: -5 }]);
    await resumed.evaluateAt(400);
    expect(readdirSync(join(dir, 'best'))).toEqual(['ckpt-0000000400.bin']);
    expect(kept(dir)).toMatchObject({ step: 400, evaluation: { returnMean: -1 } });
    await resumed.evaluateAt(600);
    expect(kept(dir).step).toBe(400);
    // A file of another network (sections of other sizes) with a perfect record does not block the run's own.
    class Wider extends ScriptedEvaluations {
      protected override policyState(): { header: Record<string, unknown>; sections: ArrayBufferView[] } {
        return { header: {}, sections: [new Float32Array(8)] };
      }
    }
    const other = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    await new Wider(other, [{ success: 1, ret: 100 }]).evaluateAt(900);
    const mine = new ScriptedEvaluations(other, [{ success: 0, ret: -50 }]);
    await mine.evaluateAt(100);
    expect(mine.lines.some((l) => /holds another network than this run's; the next evaluation replaces it/.test(l))).toBe(true);
    expect(kept(other)).toMatchObject({ step: 100, section: 100 });
    // best/ that cannot be written (a file in its place): a warning, the run goes on.
    const blocked = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    writeFileSync(join(blocked, 'best'), 'in the way');
    const run = new ScriptedEvaluations(blocked, [{ success: 1, ret: 1 }]);
    await run.evaluateAt(100);
    expect(run.lines.some((l) => /^warning: could not keep the best policy in /.test(l))).toBe(true);
  });

  it('a constrained run keeps only evaluations within the limits; a best file that does not read is replaced, not fatal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    const run = new ScriptedEvaluations(dir, [{ success: 0.5, ret: 0, cost: 0.2 }, { success: 1, ret: 5, cost: 3 }, { success: 0.4, ret: 0, cost: 0 }], 0.5);
    await run.evaluateAt(100);
    await run.evaluateAt(200); // perfect, but over the cost limit
    expect(kept(dir).step).toBe(100);
    writeFileSync(join(dir, 'best', 'ckpt-0000000100.bin'), 'not a checkpoint');
    const after = new ScriptedEvaluations(dir, [{ success: 0.1, ret: 0 }]);
    await after.evaluateAt(300);
    expect(after.lines.some((l) => /the best-policy file in .* does not verify; the next evaluation replaces it/.test(l))).toBe(true);
    expect(kept(dir)).toMatchObject({ step: 300, section: 300 });
    // No evaluation episodes (a stop before any): nothing kept.
    const empty = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    const none = new (class extends ScriptedEvaluations {
      override async evaluate(): Promise<EvalResult> {
        return { ...(await super.evaluate()), returns: [] };
      }
    })(empty, [{ success: 1, ret: 1 }]);
    await none.evaluateAt(100);
    expect(existsSync(join(empty, 'best'))).toBe(false);
  });
});
