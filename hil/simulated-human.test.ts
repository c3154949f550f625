import { describe, expect, it } from 'vitest';
import type { Env, StepResult } from '../control/env.js';
import { validateConfig } from '../experiment/config.js';
import { seedAt } from '../control/rng.js';
import { centralStartSeeds, recordDemonstrations } from '../experiment/demos.js';
import { makeLearnerEnv, scriptedInLearnerUnits } from '../experiment/setup.js';
import { listEnvs } from '../tasks/registry.js';
import { SimulatedHuman, type SimulatedHumanOptions } from './devices/simulated-human.js';
import { Intervention } from './intervention.js';
import { make } from '../tasks/registry.js';
import { restoreWrapperStates } from '../control/wrappers/wrapper.js';
import { teleopDevice } from '../experiment/human.js';

/**
 * The simulated person of the HIL benchmark (issue 22 item 5): takes over when the policy is
 * failing, not whenever it differs from the expert; hands back once the situation is
 * recovered; spends at most its run budget. Real Panda envs through the learner's env stack.
 */

const learnerEnv = (id: string): Promise<Env> => makeLearnerEnv(validateConfig({ name: 'sim-human', env: { id }, algo: { kind: 'sac' }, train: { steps: 1 } }, 'test'));

interface Driven {
  readonly steps: StepResult[];
  readonly human: SimulatedHuman;
}

/** `episodes` episodes of `policy` on `id` with a simulated person (the task's expert) watching. */
async function drive(id: string, policy: (expert: (obs: Float32Array) => Float32Array) => (obs: Float32Array) => Float32Array, options: Partial<SimulatedHumanOptions>, episodes = 1, seed = 0, totalSteps = Infinity): Promise<Driven> {
  const inner = await learnerEnv(id);
  const expert = scriptedInLearnerUnits(id, inner);
  const human = new SimulatedHuman({ expert, seed: 7, ...options });
  const env = new Intervention(inner, human);
  const act = policy(expert);
  const steps: StepResult[] = [];
  for (let e = 0; e < episodes && steps.length < totalSteps; e++) {
    let { obs } = await env.reset({ seed: seed + e });
    while (steps.length < totalSteps) {
      const r = await env.step(act(obs));
      steps.push(r);
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
  }
  await env.close();
  return { steps, human };
}

const engaged = (steps: readonly StepResult[]): boolean[] => steps.map((r) => r.info.intervention?.engaged === true);
const zero = () => () => new Float32Array(7);
const itself = (expert: (obs: Float32Array) => Float32Array) => expert;
const opposite = (expert: (obs: Float32Array) => Float32Array) => (obs: Float32Array) => Float32Array.from(expert(obs), (v) => -v);

describe('the simulated person (trigger: failure)', () => {
  it('leaves a policy that makes progress alone: the expert itself driving reach, push and pick gets no intervention', async () => {
    // PandaPickCube-v0 joins once registered (another helper is adding it as this lands).
    for (const id of ['PandaReach-v0', 'PandaPush-v0', ...listEnvs().filter((e) => e === 'PandaPickCube-v0')]) {
      const { steps, human } = await drive(id, itself, {}, 3);
      expect(steps.filter((r) => r.info.success).length, id).toBeGreaterThan(0); // it did succeed
      expect(engaged(steps).filter(Boolean), id).toHaveLength(0);
      expect(human.stats.humanSteps).toBe(0);
      expect(human.stats.steps).toBe(steps.length);
    }
  }, 120_000);

  it('takes over a stuck policy (zero actions) within the reaction delay + patience, and a drifting one (away from the goal) as soon as it drifts', async () => {
    const reactionSteps = 3;
    const patience = 10;
    const stuck = await drive('PandaReach-v0', zero, { reactionSteps, patience });
    const first = engaged(stuck.steps).indexOf(true);
    // The first reward is seen at poll 1, registered `reactionSteps` later; then `patience` polls without progress.
    expect(first).toBeGreaterThan(reactionSteps + patience - 1);
    expect(first).toBeLessThanOrEqual(reactionSteps + patience + 2);
    expect(stuck.human.stats.takeovers.stuck).toBeGreaterThan(0);
    expect(stuck.human.stats.takeovers.drift).toBe(0);
    const away = await drive('PandaReach-v0', opposite, { reactionSteps, patience: 1000 });
    const firstAway = engaged(away.steps).indexOf(true);
    expect(firstAway).toBeGreaterThan(reactionSteps);
    expect(away.human.stats.takeovers.drift).toBeGreaterThan(0);
    expect(away.human.stats.takeovers.stuck).toBe(0);
    // It took over when the arm was 5 cm (the drift margin) worse than its best, seen `reactionSteps` late.
    const d = (i: number): number => away.steps[i]!.info.metrics!['distance']!;
    const before = d(firstAway - 1 - reactionSteps);
    expect(before - d(0)).toBeGreaterThan(0.05 - 0.02);
    expect(firstAway).toBeLessThan(40);
  }, 60_000);

  it('hands back once the situation is recovered (progress beyond the policy\'s best), long before the hold limit, and the policy failing again brings it back', async () => {
    const { steps, human } = await drive('PandaReach-v0', zero, { reactionSteps: 2, patience: 8, holdSteps: 200, budget: 1 });
    const e = engaged(steps);
    const takeover = e.indexOf(true);
    const back = e.indexOf(false, takeover);
    expect(back).toBeGreaterThan(takeover);
    expect(back - takeover).toBeLessThan(60);
    expect(human.stats.handBacks.recovered).toBeGreaterThan(0);
    expect(human.stats.handBacks.limit).toBe(0);
    // The person moved the arm closer than the policy had got it.
    const d = (i: number): number => steps[i]!.info.metrics!['distance']!;
    expect(d(back - 1)).toBeLessThan(d(takeover - 1) - 0.02);
    // Handed back to a policy that stays stuck: the person comes back.
    expect(e.indexOf(true, back)).toBeGreaterThan(back);
    // With a hold limit shorter than recovery takes, the limit hands back.
    const limited = await drive('PandaReach-v0', zero, { reactionSteps: 2, patience: 8, holdSteps: 2, budget: 1 });
    expect(limited.human.stats.handBacks.limit).toBeGreaterThan(0);
    const runs = engaged(limited.steps).join('').split('false').filter((s) => s.length > 0);
    expect(Math.max(...runs.map((s) => s.split('true').length - 1))).toBe(2);
  }, 60_000);

  it('on pick, where the dense reward is flat far from the cube, hands back once the hand is closer to the cube than the policy had got it (not at the hold limit)', async () => {
    const { steps, human } = await drive('PandaPickCube-v0', () => () => new Float32Array(8), { reactionSteps: 2, patience: 8, holdSteps: 200, budget: 1 });
    expect(human.stats.takeovers.stuck).toBeGreaterThan(0);
    expect(human.stats.handBacks.recovered).toBeGreaterThan(0);
    expect(human.stats.handBacks.limit).toBe(0);
    const e = engaged(steps);
    const takeover = e.indexOf(true);
    const back = e.indexOf(false, takeover);
    expect(back - takeover).toBeLessThan(60);
    const d = (i: number): number => steps[i]!.info.metrics!['tcpToCube']!;
    expect(d(back - 1)).toBeLessThan(d(takeover - 1) - 0.01);
  }, 60_000);

  it('handBack: success finishes the pick it takes over (the recovered rule shows no lift); finishSteps: starts only what the budget and the episode clock allow', async () => {
    const zero8 = () => () => new Float32Array(8);
    const finisher = { reactionSteps: 0, patience: 8, handBack: 'success', holdSteps: 95, finishSteps: 80, episodeSteps: 100, budget: 1, runSteps: 1000 } as const;
    const finished = await drive('PandaPickCube-v0', zero8, finisher, 3);
    const quitter = await drive('PandaPickCube-v0', zero8, { reactionSteps: 0, patience: 8, holdSteps: 95, budget: 1, runSteps: 1000 }, 3);
    const successes = (steps: readonly StepResult[]): number => steps.filter((r) => r.info.success).length;
    // The person who hands back at the first progress never shows the lift; the finisher does, in most episodes.
    expect(successes(quitter.steps)).toBe(0);
    expect(quitter.human.stats.handBacks.recovered).toBeGreaterThan(0);
    expect(successes(finished.steps)).toBeGreaterThan(0);
    expect(finished.human.stats.handBacks.recovered).toBeGreaterThanOrEqual(2);
    expect(finished.human.stats.handBacks.limit).toBe(0);
    // One takeover an episode, held until the lift succeeds (or the episode ends): no hand-back at the first progress.
    expect(finished.human.stats.takeovers.stuck).toBe(3);
    const e = engaged(finished.steps);
    for (let i = 1; i < e.length; i++) {
      if (e[i - 1] && !e[i] && !finished.steps[i - 1]!.truncated) expect(finished.steps.slice(0, i).some((r, k) => k >= i - 3 && r.info.success), `hand-back at ${i}`).toBe(true);
    }
    // Every takeover started with at least finishSteps of the episode left.
    let t = 0;
    finished.steps.forEach((r, i) => {
      if (e[i] && (i === 0 || !e[i - 1])) expect(100 - t).toBeGreaterThanOrEqual(80);
      t = r.terminated || r.truncated ? 0 : t + 1;
    });
    // A person who needs more steps than any episode has left after the patience never starts.
    const late = await drive('PandaPickCube-v0', zero8, { ...finisher, finishSteps: 95 }, 1);
    expect(late.human.stats.humanSteps).toBe(0);
    expect(late.human.stats.refusedForTime).toBeGreaterThan(0);
    // …nor one whose budget cannot cover it.
    const poor = await drive('PandaPickCube-v0', zero8, { ...finisher, budget: 0.05 }, 1);
    expect(poor.human.stats.humanSteps).toBe(0);
    expect(poor.human.stats.refusedByBudget).toBeGreaterThan(0);
    expect(() => new SimulatedHuman({ expert: () => Float32Array.of(0), trigger: 'disagreement', handBack: 'success' })).toThrow(/handBack: success needs trigger: failure/);
    expect(() => new SimulatedHuman({ expert: () => Float32Array.of(0), handBack: 'success', finishSteps: 0 })).toThrow(/finishSteps must be a positive integer/);
  }, 120_000);

  it('a config\'s simulated person knows the episode clock from the env (hil.simulated finishSteps longer than an episode: never starts)', async () => {
    const config = validateConfig({ name: 'clock', env: { id: 'PandaPickCube-v0' }, algo: { kind: 'sac' }, train: { steps: 1 }, hil: { device: 'simulated', simulated: { reactionSteps: 0, patience: 8, handBack: 'success', holdSteps: 101, finishSteps: 101, budget: 1, runSteps: 1000 } } }, 'test');
    const inner = await makeLearnerEnv(config);
    expect(inner.spec.maxEpisodeSteps).toBe(100);
    const person = await teleopDevice('PandaPickCube-v0', inner, config.hil!, 0) as SimulatedHuman;
    const env = new Intervention(inner, person);
    await env.reset({ seed: 0 });
    for (let i = 0; i < 40; i++) await env.step(new Float32Array(8));
    // The budget (1000 steps) covers it: only the clock (100 steps, from the env's time limit) refuses.
    expect(person.stats.humanSteps).toBe(0);
    expect(person.stats.refusedByBudget).toBe(0);
    expect(person.stats.refusedForTime).toBeGreaterThan(0);
    await env.close();
    const bad = (simulated: Record<string, unknown>) => () => validateConfig({ name: 'bad', env: { id: 'PandaPickCube-v0' }, algo: { kind: 'sac' }, train: { steps: 1 }, hil: { device: 'simulated', simulated } }, 'test');
    expect(bad({ handBack: 'later' })).toThrow(/handBack/);
    // Settings that cannot mean what they say are refused when the config loads, by field.
    expect(bad({ trigger: 'disagreement', handBack: 'success' })).toThrow(/handBack.*needs trigger: failure/);
    expect(bad({ finishSteps: 30 })).toThrow(/finishSteps.*with handBack: success only/);
    expect(bad({ handBack: 'success', finishSteps: 80 })).toThrow(/finishSteps \(80\) is more than holdSteps \(40, the default\).*raise holdSteps/);
    expect(bad({ handBack: 'success', holdSteps: 60, finishSteps: 80 })).toThrow(/finishSteps \(80\) is more than holdSteps \(60\)/);
    expect(bad({ handBack: 'success', holdSteps: 90, finishSteps: 80 })).not.toThrow();
  }, 60_000);

  it('spends exactly its run budget across episodes, never more at any step (runSteps known, or a running share)', async () => {
    // A 300-step run of a stuck policy over several reach episodes (the person's help ends some early); budget 10% = 30 steps, spendable early.
    const known = await drive('PandaReach-v0', zero, { reactionSteps: 1, patience: 3, budget: 0.1, runSteps: 300 }, 100, 0, 300);
    expect(known.steps).toHaveLength(300);
    expect(known.human.stats.budgetSteps).toBe(30);
    expect(engaged(known.steps).filter(Boolean)).toHaveLength(30);
    expect(known.human.stats.humanSteps).toBe(30);
    expect(known.human.stats.refusedByBudget).toBeGreaterThan(0);
    expect(known.human.budgetLeft()).toBe(0);
    // Spent early: all of it in the first 100 steps.
    expect(engaged(known.steps.slice(100)).filter(Boolean)).toHaveLength(0);
    const running = await drive('PandaReach-v0', zero, { reactionSteps: 1, patience: 3, budget: 0.2 }, 100, 0, 300);
    let human = 0;
    engaged(running.steps).forEach((on, i) => {
      if (on) human++;
      expect(human).toBeLessThanOrEqual(Math.floor(0.2 * (i + 1)));
    });
    expect(human).toBeGreaterThan(0.15 * running.steps.length);
  }, 60_000);

  it('is deterministic for a seed; another seed moves the hand differently', async () => {
    const run = async (seed: number): Promise<number[][]> => (await drive('PandaReach-v0', opposite, { seed, reactionSteps: 2, patience: 5, budget: 1 })).steps.map((r) => Array.from(r.info.intervention?.human ?? []));
    const a = await run(3);
    expect(a.some((x) => x.length > 0)).toBe(true);
    expect(await run(3)).toEqual(a);
    expect(await run(4)).not.toEqual(a);
  }, 60_000);

  it('calls a falling cube a drop once it was lifted; reads the task\'s reward under a learned one (metrics.envReward)', () => {
    const human = new SimulatedHuman({ expert: () => Float32Array.of(1), reactionSteps: 0, patience: 100, budget: 1 });
    human.episodeStart();
    const obs = Float32Array.of(0);
    const proposed = Float32Array.of(0);
    // Lifted to 5 cm with rising reward, then sinking: the person takes over when it is 1 cm below its peak.
    const lifts = [0, 0.01, 0.03, 0.05, 0.048, 0.045, 0.039, 0.03];
    const got = lifts.map((lift, t) => human.poll({ obs, proposed, t, reward: 0.1 + lift, metrics: { lift } }).engaged);
    expect(got).toEqual([false, false, false, false, false, false, true, true]);
    expect(human.stats.takeovers.drop).toBe(1);
    // A cube never lifted is not dropped; under a classifier's 0/1 reward the task's envReward is what the person watches.
    const other = new SimulatedHuman({ expert: () => Float32Array.of(1), reactionSteps: 0, patience: 100, budget: 1 });
    other.episodeStart();
    const env = [-0.3, -0.2, -0.1, -0.3];
    expect(env.map((e, t) => other.poll({ obs, proposed, t, reward: 0, metrics: { lift: 0.01 - 0.005 * t, envReward: e } }).engaged)).toEqual([false, false, false, true]);
    expect(other.stats.takeovers).toEqual({ stuck: 0, drift: 1, drop: 0, disagreement: 0 });
  });

  it('refuses a budget outside (0, 1] and a runSteps that is not a positive integer', () => {
    const expert = (): Float32Array => Float32Array.of(0);
    expect(() => new SimulatedHuman({ expert, budget: 0 })).toThrow(/budget/);
    expect(() => new SimulatedHuman({ expert, budget: 1.5 })).toThrow(/budget/);
    expect(() => new SimulatedHuman({ expert, runSteps: 0 })).toThrow(/runSteps/);
  });

  it('a checkpoint’s person state is data: a bad count, a non-object or a string is refused by name, and nothing changes', async () => {
    const expert = (): Float32Array => Float32Array.of(0);
    const person = new SimulatedHuman({ expert, runSteps: 100 });
    const env = new Intervention(await make('Pendulum-v1'), person);
    const good = person.saveState();
    expect(() => person.restoreState({ ...good, humanSteps: -3 })).toThrow(/humanSteps.*non-negative integer, got -3/);
    expect(() => person.restoreState({ ...good, humanSteps: 1e300 })).toThrow(/humanSteps.*got 1e\+300/);
    expect(() => person.restoreState({ ...good, takeovers: { stuck: '1' } })).toThrow(/takeovers\.stuck/);
    // A bad person state inside a good intervention state changes neither.
    expect(() => env.restoreState({ stats: { ...env.stats, steps: 5 }, devices: { simulated: { ...good, steps: -1 } } })).toThrow(/`steps`.*got -1/);
    expect(env.stats.steps).toBe(0);
    expect(() => env.restoreState({ device: 'simulated', stats: { steps: 1.5 } })).toThrow(/intervention count `steps`.*got 1\.5/);
    expect(() => restoreWrapperStates(env, '<script>')).toThrow(/`wrappers` to be an object/);
    expect(() => restoreWrapperStates(env, { intervention: 7 })).toThrow(/`intervention` to be an object, got 7/);
    expect(person.stats.humanSteps).toBe(0);
    expect(env.stats.steps).toBe(0);
    // Another run's state for a wrapper this env lacks is handed back to be kept, not applied.
    expect(restoreWrapperStates(env, { other: { a: 1 } })).toEqual({ other: { a: 1 } });
    // `__proto__` from disk is a key like another: not taken for the intervention's state, kept.
    const hostile = JSON.parse('{"__proto__": {"intervention": {"stats": {"steps": 9, "humanSteps": 9, "takeovers": 9, "disconnects": 0, "badReadings": 0}}}}') as unknown;
    expect(Object.keys(restoreWrapperStates(env, hostile))).toEqual(['__proto__']);
    expect(env.stats.steps).toBe(0);
    await env.close();
  });

  it('a resume with another device keeps the simulated person’s state for a later resume with them', async () => {
    const expert = (): Float32Array => Float32Array.of(0);
    const first = new SimulatedHuman({ expert, runSteps: 100, budget: 0.5 });
    first.stats.humanSteps = 30;
    first.stats.steps = 60;
    const saved = JSON.parse(JSON.stringify(new Intervention(await make('Pendulum-v1'), first).saveState())) as unknown;
    const other = { name: 'web', poll: () => ({ engaged: false, action: null, button: null, connected: true }), close: async () => {} };
    const viaWeb = new Intervention(await make('Pendulum-v1'), other);
    viaWeb.restoreState(saved);
    const again = new SimulatedHuman({ expert, runSteps: 100, budget: 0.5 });
    new Intervention(await make('Pendulum-v1'), again).restoreState(JSON.parse(JSON.stringify(viaWeb.saveState())) as unknown);
    expect(again.stats.humanSteps).toBe(30);
    expect(again.budgetLeft()).toBe(20);
  });
});

describe('demos from a narrower start distribution (the HIL benchmark\'s setup)', () => {
  it('centralStartSeeds keeps the starts nearest the middle: push cubes within a narrower box than training\'s; an unknown field is refused', async () => {
    const env = await learnerEnv('PandaPush-v0');
    const names = env.spec.observationNames!;
    const [ix, iy] = [names.indexOf('cube x'), names.indexOf('cube y')];
    const cubeAt = async (seed: number): Promise<[number, number]> => {
      const { obs } = await env.reset({ seed });
      return [obs[ix]!, obs[iy]!];
    };
    const seeds = await centralStartSeeds(env, 11, 20, { share: 0.25, fields: ['cube x', 'cube y'] });
    expect(seeds).toHaveLength(20);
    expect(new Set(seeds).size).toBe(20);
    const chosen: [number, number][] = [];
    for (const s of seeds) chosen.push(await cubeAt(s));
    // Training draws x ∈ [0.4, 0.6], y ∈ [−0.15, 0.15]; the central quarter lies well inside.
    for (const [x, y] of chosen) {
      expect(Math.abs(x - 0.5)).toBeLessThan(0.075);
      expect(Math.abs(y)).toBeLessThan(0.11);
    }
    const all: [number, number][] = [];
    for (let i = 0; i < 80; i++) all.push(await cubeAt(seedAt(11, i)));
    expect(all.some(([x, y]) => Math.abs(x - 0.5) > 0.075 || Math.abs(y) > 0.11)).toBe(true);
    expect(await centralStartSeeds(env, 11, 20, { share: 0.25, fields: ['cube x', 'cube y'] })).toEqual(seeds);
    await expect(centralStartSeeds(env, 11, 5, { share: 0.5, fields: ['cube w'] })).rejects.toThrow(/no observation entries named cube w/);
    await expect(centralStartSeeds(env, 11, 5, { share: 0 })).rejects.toThrow(/share/);
    await env.close();
    // Recorded through the demo recorder: 2 successful expert episodes from those starts.
    const { successes } = await recordDemonstrations(validateConfig({ name: 'd', env: { id: 'PandaPush-v0' }, algo: { kind: 'sac' }, train: { steps: 1 } }, 'test'), 2, 11, false, undefined, { share: 0.25 });
    expect(successes).toBe(2);
  }, 120_000);
});
