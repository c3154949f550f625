import { describe, expect, it } from 'vitest';
import { RescaleAction } from '../../control/wrappers/action-transforms.js';
import { RealtimeEnv } from '../../control/wrappers/realtime.js';
import { make } from '../../tasks/registry.js';
import { StreamAgent } from './agent.js';
import { StreamAcConfigSchema } from './config.js';
import { runStreamingRealtime } from './realtime.js';

async function realtimePendulum(hz: number): Promise<RealtimeEnv> {
  return new RealtimeEnv(new RescaleAction(await make('Pendulum-v1')), hz);
}

describe('streaming learning inside a fixed-rate control loop', () => {
  it('at 100 Hz: every transition is either learned or counted as skipped', async () => {
    const env = await realtimePendulum(100);
    const agent = new StreamAgent(StreamAcConfigSchema.parse({ kind: 'stream-ac' }), env.spec, 1);
    const report = await runStreamingRealtime(agent, env, { ticks: 300 });
    // Every transition but the last is either learned or counted as skipped.
    expect(report.updates + report.skipped).toBe(299);
    // Most are learned; how many fit depends on the machine's load, which the benchmark measures.
    expect(report.updates).toBeGreaterThan(0);
    expect(report.updateUsP50).toBeGreaterThan(0);
    expect(env.rateStats().ticks).toBe(300);
    expect(report.episodeReturns.length).toBeGreaterThanOrEqual(1);
    // Timing quality (period error, misses) is measured by the benchmarks, not asserted here.
  });

  it('when updates cannot fit the budget they are skipped and counted, never run', async () => {
    const env = await realtimePendulum(200);
    const agent = new StreamAgent(StreamAcConfigSchema.parse({ kind: 'stream-ac' }), env.spec, 2);
    const report = await runStreamingRealtime(agent, env, { ticks: 200, learnBudgetMs: 0.001 });
    // Sending the command alone takes longer than 1 µs, so no update may start.
    expect(report.updates).toBe(0);
    expect(report.skipped).toBe(199);
    expect(env.rateStats().ticks).toBe(200);
  });

  it('a skipped transition that ends an episode still clears the traces and ends the return', async () => {
    const env = new RealtimeEnv(new RescaleAction(await make('Pendulum-v1', { timeLimit: 10 })), 200);
    const agent = new StreamAgent(StreamAcConfigSchema.parse({ kind: 'stream-ac' }), env.spec, 3);
    // Traces from learning mid-episode, as a real run has them when updates start to be skipped.
    const s = agent.features(new Float32Array(3), 0);
    agent.learn(s, { action: Float32Array.of(0.3), greedy: true }, -1, agent.features(Float32Array.of(1, 0, 0.1), 1), false, false);
    expect(agent.traceNorm()).toBeGreaterThan(0);
    // Every update is skipped (1 µs budget); the 10-step episode ends at tick 10.
    const report = await runStreamingRealtime(agent, env, { ticks: 12, learnBudgetMs: 0.001 });
    expect(report.updates).toBe(0);
    expect(report.episodeReturns).toHaveLength(1);
    expect(agent.traceNorm()).toBe(0);
  });
});
