import type { Env, InterventionInfo } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import type { Transition } from '../control/transition.js';
import { learnerTransition } from '../policies/sac/trainer.js';

const DEMO_STORAGE = { learnFrom: 'executed', correctionPenalty: 0 } as const;

/** One episode driven by a policy (and, through the intervention wrapper, a person). */
export interface DrivenEpisode {
  /** What ran, step by step: the executed action (the person's when they were in control, after the safety layers). */
  readonly transitions: Transition[];
  /** The task's success, or the person's success / failure button. */
  readonly success: boolean;
  readonly humanSteps: number;
  /** Why it ended: a button, the task (terminated), the time limit or the link (truncated). */
  readonly endedBy: NonNullable<InterventionInfo['button']> | 'task' | 'truncated';
}

/**
 * Runs one episode: `policy` proposes each action; whatever the env executed is recorded. The
 * loop awaits every step, so signals and sockets get their turn; `signal` stops it between steps
 * (the promise rejects with the signal's reason). `onReady` runs once the env is reset, before
 * the first step (a person is told the episode is theirs).
 */
export async function driveEpisode(env: Env, policy: Policy, seed: number, signal?: AbortSignal, onReady?: () => void): Promise<DrivenEpisode> {
  signal?.throwIfAborted();
  let { obs } = await env.reset({ seed });
  onReady?.();
  const transitions: Transition[] = [];
  let humanSteps = 0;
  for (;;) {
    signal?.throwIfAborted();
    const proposed = policy(obs);
    const r = await env.step(proposed);
    const human = r.info.intervention;
    if (human?.engaged) humanSteps++;
    // What ran, as a learner stores it (the executed action, the task's reward).
    transitions.push(learnerTransition(obs, proposed, r, DEMO_STORAGE, 0));
    obs = r.obs;
    if (r.terminated || r.truncated) {
      const endedBy = human?.button ?? (r.terminated ? 'task' : 'truncated');
      return { transitions, success: r.info.success === true, humanSteps, endedBy };
    }
  }
}
