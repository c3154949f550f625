import { seedAt } from '../../control/rng.js';
import { percentile } from '../../control/running-stats.js';
import type { Env } from '../../control/env.js';
import type { StreamAction, StreamAgent } from './agent.js';
import { isLinkLoss } from '../run-loop.js';

export interface RealtimeOptions {
  /** Control ticks to run. */
  readonly ticks: number;
  /**
   * Time available for learning in each tick, ms (default: 80% of the control period). An
   * update is started only if it is expected to end within it (expected = p99 of recent update
   * times, decaying while updates are being skipped); otherwise the transition is skipped and
   * counted. Commands are never held back.
   */
  readonly learnBudgetMs?: number;
  /** ε for Stream Q(λ). Default 0.05. */
  readonly epsilon?: number;
  readonly seed?: number;
}

export interface RealtimeReport {
  readonly ticks: number;
  readonly updates: number;
  /** Transitions not learned because the update was not expected to fit in the tick. */
  readonly skipped: number;
  /** Steps that ended in the robot's safe stop: no transition of the task, never learned from. */
  readonly linkLostSteps: number;
  /** Updates that ran past the learning budget (measured). */
  readonly overruns: number;
  readonly updateUsP50: number;
  readonly updateUsP99: number;
  readonly episodeReturns: number[];
}

interface Pending {
  readonly s: Float64Array;
  readonly a: StreamAction;
  readonly reward: number;
  readonly sNext: Float64Array;
  readonly terminated: boolean;
  readonly episodeEnd: boolean;
}

/**
 * Runs a streaming agent inside a robot's control loop. Each tick: the action for this tick is
 * chosen from the freshest observation and sent (`env.step` is called) first; then, while the
 * robot executes it and the next observation is on its way, the agent learns from the previous
 * transition if the update fits the tick's learning budget. So learning never delays a command;
 * the price is a one-tick lag between an update and the action that sees it, as in any
 * asynchronous actor/learner. `env` is a robot env, or a simulator wrapped in RealtimeEnv.
 */
export async function runStreamingRealtime(agent: StreamAgent, env: Env, options: RealtimeOptions): Promise<RealtimeReport> {
  const budgetMs = options.learnBudgetMs ?? 0.8 * (1000 / env.spec.controlHz);
  const epsilon = options.epsilon ?? 0.05;
  const updateUs: number[] = [];
  const returns: number[] = [];
  let skipped = 0;
  let linkLostSteps = 0;
  let overruns = 0;
  let expectedUs = 0;
  let t = 0;
  let episode = 0;
  let ret = 0;
  let obs = (await env.reset({ seed: options.seed ?? 0 })).obs;
  let s = agent.features(obs, t);
  let pending: Pending | null = null;
  for (let tick = 0; tick < options.ticks; tick++) {
    const a = agent.act(s, epsilon, obs);
    const sent = performance.now();
    const result = env.step(a.action); // the command goes out now
    if (pending) {
      if (performance.now() + expectedUs / 1000 <= sent + budgetMs) {
        const t0 = performance.now();
        agent.learn(pending.s, pending.a, pending.reward, pending.sNext, pending.terminated, pending.episodeEnd);
        const end = performance.now();
        updateUs.push((end - t0) * 1000);
        if (end > sent + budgetMs) overruns++;
        if (updateUs.length % 50 === 0) expectedUs = percentile(updateUs.slice(-500), 0.99);
      } else {
        skipped++;
        agent.skip(pending.reward, pending.episodeEnd);
        // Let a stale estimate (one slow, cold-JIT update) recover instead of blocking learning for good.
        expectedUs *= 0.9;
      }
    }
    const r = await result;
    const done = r.terminated || r.truncated;
    t++;
    ret += r.reward;
    const lost = isLinkLoss(r);
    const sNext = agent.features(r.obs, t, !lost);
    pending = { s, a, reward: r.reward, sNext, terminated: r.terminated, episodeEnd: done };
    if (lost) {
      // The robot's safe stop (made-up reward, the last observation again): not learned from;
      // its episode's traces end here (the previous transition was learned before the await).
      linkLostSteps++;
      pending = null;
      agent.resetTraces();
    }
    s = sNext;
    obs = r.obs;
    if (done) {
      returns.push(ret);
      ret = 0;
      t = 0;
      episode++;
      obs = (await env.reset({ seed: seedAt(options.seed ?? 0, episode) })).obs;
      s = agent.features(obs, t);
    }
  }
  return { ticks: options.ticks, updates: updateUs.length, skipped, linkLostSteps, overruns, updateUsP50: percentile(updateUs, 0.5), updateUsP99: percentile(updateUs, 0.99), episodeReturns: returns };
}

