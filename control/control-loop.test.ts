import { describe, expect, it } from 'vitest';
import { make } from '../tasks/registry.js';
import { runControlLoop } from './control-loop.js';
import type { Env, StepResult } from './env.js';
import { Wrapper } from './wrappers/wrapper.js';

/** Records the order of commands and learning work. */
class Journal extends Wrapper {
  readonly events: string[] = [];
  override async step(action: Float32Array): Promise<StepResult> {
    this.events.push('command');
    return this.env.step(action);
  }
}

describe('runControlLoop', () => {
  it('sends every tick its command before any learning, skips learning that would not fit, and resets finished episodes', async () => {
    const env = new Journal((await make('Pendulum-v1', { timeLimit: 30 })) as Env);
    const busy = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const report = await runControlLoop(env, () => Float32Array.of(0.5), {
      ticks: 60,
      hz: 100,
      learnBudgetMs: 4,
      learn: () => {
        env.events.push('learn');
        busy(6); // longer than the 4 ms budget: after the first run, it must be skipped
      },
    });
    expect(report.steps).toBe(60);
    expect(env.events.filter((e) => e === 'command')).toHaveLength(60);
    // Every learn follows a command of the same tick.
    env.events.forEach((e, i) => {
      if (e === 'learn') expect(env.events[i - 1]).toBe('command');
    });
    expect(report.learnSkipped).toBeGreaterThan(report.learnRuns);
    expect(report.learnRuns + report.learnSkipped).toBe(60);
    expect(report.episodes).toBe(2);
    expect(report.returns).toHaveLength(2);
    expect(report.rate.ticks).toBe(60);
    await expect(runControlLoop(env, () => Float32Array.of(0), { ticks: 1, hz: 5000 })).rejects.toThrow(/10 Hz – 1 kHz/);
  });
});
