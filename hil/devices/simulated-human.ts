import { Rng } from '../../control/rng.js';
import { checkpointCount } from '../../control/wrappers/wrapper.js';
import { IDLE, type TeleopContext, type TeleopDevice, type TeleopReading } from '../device.js';

/** Why the simulated person took over: the policy was failing (one of three ways), or disagreed with them. */
export type TakeoverReason = 'stuck' | 'drift' | 'drop' | 'disagreement';

/** Why the simulated person handed back: the situation was recovered, the hold limit, the budget ran out, or the episode ended. */
export type HandBackReason = 'recovered' | 'limit' | 'budget' | 'episode';

export interface SimulatedHumanOptions {
  /**
   * The person's judgement: the action they would take at an observation (learner units). A
   * task's scripted expert, expressed in [−1, 1] (experiment/setup `scriptedInLearnerUnits`).
   */
  readonly expert: (obs: Float32Array) => Float32Array;
  /** Steps the person needs to notice and react: they judge, and act on, what they saw this many steps ago. Default 3 (120 ms at 25 Hz). */
  readonly reactionSteps?: number;
  /** Std of Gaussian noise on the person's actions (a hand is not a controller). Default 0.05. */
  readonly noise?: number;
  /**
   * When the person takes over. `failure` (default): when the policy is failing, judged from
   * what a person watching sees — the task's dense reward (`metrics.envReward` under a learned
   * reward), its distances (`distance`, `tcpToCube`, `cubeToGoal`) and `metrics.lift`: **stuck**
   * (none of them beat the episode's best by `minProgress` for `patience` steps), **drifting**
   * (the reward more than `drift` below the episode's best, or the hand 2 × `drift` m further from
   * its target than it had come), or **dropping**
   * the cube (`lift` more than `dropMargin` below its peak once it was over `liftedAt`); never
   * while the task reports success. `disagreement` (the earlier rule): when the policy's proposal
   * has differed from what the person would do by more than `disagreement` (mean absolute
   * difference per dimension) for `patience` steps, whether or not it was failing.
   */
  readonly trigger?: 'failure' | 'disagreement';
  /** `failure`: steps without progress before the policy counts as stuck (default 35: 1.4 s at 25 Hz — the push expert pauses up to ~30 steps to get behind the cube on Rapier's 4 × 5 iterations, ~15 before; a person waits that long before taking over); `disagreement`: steps of disagreement (default 5). */
  readonly patience?: number;
  /** `failure`: the reward improvement that counts as progress. Default 0.005 (5 mm on a distance reward). */
  readonly minProgress?: number;
  /** `failure`: how far below the episode's best reward the policy may fall before it is drifting away. Default 0.05. */
  readonly drift?: number;
  /** `failure`: the lift (`metrics.lift`) at which the cube counts as lifted. Default 0.02. */
  readonly liftedAt?: number;
  /** `failure`: how far a lifted cube may sink below its peak before the person calls it dropping. Default 0.01. */
  readonly dropMargin?: number;
  /**
   * `failure`: the person hands back once the situation is recovered — the task reports
   * success, or the reward is `recover` above the best the policy had reached before the takeover
   * (progress resumed) — or after `holdSteps`. Default 0.02.
   */
  readonly recover?: number;
  /**
   * `failure`: when the person lets go. `recovered` (default): once the situation is recovered
   * (`recover`). `success`: only once the task succeeds — a person who finishes what they start,
   * as HIL-SERL's operators guide the arm through to the end of the task — or at the hold limit,
   * the budget's end or the episode's. A correction that hands back at the first progress shows
   * the learner no success on a task whose reward comes at its end (pick: the lift); measured on
   * PandaPickCube-v0, 1 of ~130 corrected episodes succeeded.
   */
  readonly handBack?: 'recovered' | 'success';
  /**
   * `handBack: success`: the steps the person expects to need to finish the task from where they
   * take over. They take over only when both their budget left and the episode's steps left
   * (`episodeSteps`) cover it: a correction cut off before the end shows no success, and a person
   * does not start what they cannot finish. Default `holdSteps`.
   */
  readonly finishSteps?: number;
  /** The episode's time limit in steps (the env's `spec.maxEpisodeSteps`), for `finishSteps`. */
  readonly episodeSteps?: number;
  /** `disagreement`: the mean absolute difference that counts as disagreeing. Default 0.5. */
  readonly disagreement?: number;
  /** Most steps of one intervention (`failure`: the hold limit, default 40; `disagreement`: its fixed length, default 15). */
  readonly holdSteps?: number;
  /**
   * The person's budget, a share of the run's steps (a person's attention is finite). With
   * `runSteps`, the person may spend floor(budget × runSteps) steps in control whenever they
   * choose; without, at most budget × (steps polled so far) at any moment. Across episodes: the
   * budget is the run's, not an episode's. Default 0.2.
   */
  readonly budget?: number;
  /** The run's length in steps (the trainer's `train.steps`), for a budget spendable early. */
  readonly runSteps?: number;
  readonly seed?: number;
}

/** The `failure` rule's default hold limit (steps of one intervention). */
const FAILURE_HOLD_STEPS = 40;

/**
 * What is wrong with a combination of the person's settings, or null: shared by the config
 * schema (hil.simulated) and the constructor, so a config is refused before anything runs.
 */
export function simulatedPersonProblem(o: Pick<SimulatedHumanOptions, 'trigger' | 'handBack' | 'finishSteps' | 'holdSteps'>): { field: 'handBack' | 'finishSteps'; message: string } | null {
  const failure = (o.trigger ?? 'failure') === 'failure';
  if (o.handBack === 'success' && !failure) return { field: 'handBack', message: 'handBack: success needs trigger: failure (the disagreement rule holds for a fixed holdSteps)' };
  if (o.finishSteps === undefined) return null;
  if (o.handBack !== 'success') return { field: 'finishSteps', message: 'finishSteps is read with handBack: success only (a person who hands back at the first progress does not plan to finish)' };
  if (!(Number.isInteger(o.finishSteps) && o.finishSteps >= 1)) return { field: 'finishSteps', message: `finishSteps must be a positive integer, got ${o.finishSteps}` };
  const hold = o.holdSteps ?? FAILURE_HOLD_STEPS;
  if (o.finishSteps > hold) return { field: 'finishSteps', message: `finishSteps (${o.finishSteps}) is more than holdSteps (${hold}${o.holdSteps === undefined ? ', the default' : ''}): the person would let go at the hold limit before finishing; raise holdSteps` };
  return null;
}

/** Task metrics a person watches shrink as the task progresses (m). */
const DISTANCES = ['distance', 'tcpToCube', 'cubeToGoal'] as const;
/** Of those, the ones whose growth means the arm is heading away (pushing, the hand goes round the cube). */
const AWAY: readonly string[] = ['distance', 'tcpToCube'];

/** What a person watching registers of one tick. */
interface View {
  readonly obs: Float32Array;
  readonly progress: number | undefined;
  /** The task's distances the person watches shrink (`distance`, `tcpToCube`, `cubeToGoal`; m), by name. */
  readonly distances: ReadonlyMap<string, number>;
  readonly lift: number | undefined;
  readonly success: boolean;
}

/**
 * A stand-in for a person at a teleop device, for tests and benchmarks: a task's scripted
 * expert with a reaction delay, hand noise and a run-level budget, who takes over when the
 * policy is failing (stuck, drifting away, dropping the cube) and hands back once the situation
 * is recovered — or, with `trigger: disagreement`, whenever the policy persistently differs from
 * them. Deterministic for a seed. {@link SimulatedHuman.stats} counts what the person did.
 */
export class SimulatedHuman implements TeleopDevice {
  readonly name = 'simulated';
  /** The run's counts: steps polled, steps in control, the budget (steps; null while it is a running share), takeovers and hand-backs by reason, takeovers the budget refused. */
  readonly stats = {
    steps: 0,
    humanSteps: 0,
    budgetSteps: null as number | null,
    takeovers: { stuck: 0, drift: 0, drop: 0, disagreement: 0 } satisfies Record<TakeoverReason, number>,
    handBacks: { recovered: 0, limit: 0, budget: 0, episode: 0 } satisfies Record<HandBackReason, number>,
    refusedByBudget: 0,
    /** Polls at which the person would have taken over but too few of the episode's steps were left to finish (`handBack: success`); like `refusedByBudget`, counted per poll, not per takeover. */
    refusedForTime: 0,
  };
  private readonly rng: Rng;
  private readonly history: View[] = [];
  private readonly o: Required<Omit<SimulatedHumanOptions, 'runSteps' | 'seed' | 'expert' | 'episodeSteps'>>;
  // Episode state: the policy's best reward, steps since it improved, the lift's peak.
  private best = -Infinity;
  /** The closest each watched distance has come this episode. */
  private closest = new Map<string, number>();
  private sinceProgress = 0;
  private peakLift = -Infinity;
  private streak = 0;
  /** Steps left in the current intervention (0: the policy acts). */
  private controlLeft = 0;
  /** The best reward the policy had reached when the person took over (recovery means beating it). */
  private bestAtTakeover = -Infinity;
  /** The watched distances' closest and the lift's peak when the person took over (recovery may mean beating them instead). */
  private closestAtTakeover: ReadonlyMap<string, number> = new Map();
  private peakLiftAtTakeover = -Infinity;

  constructor(private readonly options: SimulatedHumanOptions) {
    const failure = (options.trigger ?? 'failure') === 'failure';
    const holdSteps = options.holdSteps ?? (failure ? FAILURE_HOLD_STEPS : 15);
    this.o = {
      reactionSteps: options.reactionSteps ?? 3,
      noise: options.noise ?? 0.05,
      trigger: options.trigger ?? 'failure',
      patience: options.patience ?? (failure ? 35 : 5),
      minProgress: options.minProgress ?? 0.005,
      drift: options.drift ?? 0.05,
      liftedAt: options.liftedAt ?? 0.02,
      dropMargin: options.dropMargin ?? 0.01,
      recover: options.recover ?? 0.02,
      disagreement: options.disagreement ?? 0.5,
      holdSteps,
      budget: options.budget ?? 0.2,
      handBack: options.handBack ?? 'recovered',
      finishSteps: options.finishSteps ?? holdSteps,
    };
    const problem = simulatedPersonProblem(options);
    if (problem) throw new RangeError(`simulated person: ${problem.message}`);
    if (options.episodeSteps !== undefined && !(Number.isInteger(options.episodeSteps) && options.episodeSteps >= 1)) throw new RangeError(`simulated person: episodeSteps must be a positive integer, got ${options.episodeSteps}`);
    if (!(this.o.budget > 0 && this.o.budget <= 1)) throw new RangeError(`simulated person: budget is a share of the run's steps in (0, 1], got ${this.o.budget}`);
    if (options.runSteps !== undefined) {
      if (!Number.isInteger(options.runSteps) || options.runSteps < 1) throw new RangeError(`simulated person: runSteps must be a positive integer, got ${options.runSteps}`);
      this.stats.budgetSteps = Math.floor(this.o.budget * options.runSteps);
    }
    this.rng = new Rng(options.seed ?? 0);
  }

  episodeStart(): void {
    if (this.controlLeft > 0) this.stats.handBacks.episode++;
    this.history.length = 0;
    this.streak = 0;
    this.controlLeft = 0;
    this.resetJudgement(undefined, undefined);
  }

  poll(context: TeleopContext): TeleopReading {
    const o = this.o;
    this.stats.steps++;
    const progress = context.metrics?.['envReward'] ?? context.reward;
    const envSuccess = context.metrics?.['envSuccess'];
    const distances = new Map<string, number>();
    for (const k of DISTANCES) {
      const v = context.metrics?.[k];
      if (v !== undefined && Number.isFinite(v)) distances.set(k, v);
    }
    this.history.push({ obs: Float32Array.from(context.obs), progress, distances, lift: context.metrics?.['lift'], success: envSuccess === undefined ? context.success === true : envSuccess === 1 });
    if (this.history.length > o.reactionSteps + 1) this.history.shift();
    // What the person registered `reactionSteps` ago: they judge it, and act on it.
    const seen = this.history[0] as View;
    const wanted = this.options.expert(seen.obs);
    if (this.controlLeft > 0) {
      const done = this.handBackReason(seen);
      if (done) this.handBack(done, seen);
    }
    if (this.controlLeft === 0) {
      const reason = o.trigger === 'failure' ? this.failing(seen) : this.disagreeing(context.proposed, wanted);
      if (reason) {
        // A person who means to finish starts only what their budget and the episode's clock allow.
        const need = o.handBack === 'success' ? o.finishSteps : 1;
        const timeLeft = this.options.episodeSteps === undefined ? Infinity : this.options.episodeSteps - context.t;
        if (this.budgetLeft() < need) this.stats.refusedByBudget++;
        else if (timeLeft < need) this.stats.refusedForTime++;
        else {
          this.stats.takeovers[reason]++;
          this.controlLeft = o.holdSteps;
          this.bestAtTakeover = this.best;
          this.closestAtTakeover = new Map(this.closest);
          this.peakLiftAtTakeover = this.peakLift;
          this.streak = 0;
        }
      }
    }
    if (this.controlLeft === 0) return IDLE;
    this.controlLeft--;
    this.stats.humanSteps++;
    if (this.controlLeft === 0) this.handBack('limit', seen);
    const action = Float32Array.from(wanted, (v) => Math.max(-1, Math.min(1, v + o.noise * this.rng.normal())));
    return { engaged: true, action, button: null, connected: true };
  }

  /**
   * The run's counts for a checkpoint: a resumed run's person has spent what they had spent (their
   * budget is the run's, not the process's). The noise generator restarts from the seed.
   */
  saveState(): Record<string, unknown> {
    const { steps, humanSteps, takeovers, handBacks, refusedByBudget, refusedForTime } = this.stats;
    return { steps, humanSteps, takeovers: { ...takeovers }, handBacks: { ...handBacks }, refusedByBudget, refusedForTime };
  }

  /** Takes back {@link saveState}'s counts (read from disk: every one checked). */
  restoreState(state: unknown): void {
    const s = (typeof state === 'object' && state !== null ? state : {}) as Record<string, unknown>;
    const count = (v: unknown, name: string): number => checkpointCount(v, `the simulated person's \`${name}\``);
    const group = <K extends string>(v: unknown, keys: Record<K, number>, name: string): Record<K, number> => {
      const g = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
      return Object.fromEntries(Object.keys(keys).map((k) => [k, count(g[k], `${name}.${k}`)])) as Record<K, number>;
    };
    const steps = count(s['steps'], 'steps');
    const humanSteps = count(s['humanSteps'], 'humanSteps');
    const takeovers = group(s['takeovers'], this.stats.takeovers, 'takeovers');
    const handBacks = group(s['handBacks'], this.stats.handBacks, 'handBacks');
    const refused = count(s['refusedByBudget'], 'refusedByBudget');
    // Checkpoints written before `handBack: success` existed carry no refusedForTime.
    const refusedForTime = s['refusedForTime'] === undefined ? 0 : count(s['refusedForTime'], 'refusedForTime');
    Object.assign(this.stats, { steps, humanSteps, refusedByBudget: refused, refusedForTime });
    Object.assign(this.stats.takeovers, takeovers);
    Object.assign(this.stats.handBacks, handBacks);
  }

  /** Steps the person may still spend in control now. */
  budgetLeft(): number {
    const cap = this.stats.budgetSteps ?? Math.floor(this.o.budget * this.stats.steps);
    return Math.max(0, cap - this.stats.humanSteps);
  }

  /** Is the policy failing, as the person sees it? Updates what they remember of the episode. */
  private failing(seen: View): TakeoverReason | null {
    const o = this.o;
    if (seen.progress === undefined) return null; // the first ticks of an episode: nothing to judge yet
    // Progress: the reward, a watched distance or the lift beat the episode's best by minProgress.
    let progressed = seen.progress > this.best + o.minProgress || this.best === -Infinity;
    this.best = Math.max(this.best, seen.progress);
    let driftedAway = false;
    for (const [k, d] of seen.distances) {
      const closest = this.closest.get(k);
      if (closest === undefined || d < closest - o.minProgress) progressed = true;
      if (closest !== undefined && AWAY.includes(k) && d > closest + 2 * o.drift) driftedAway = true;
      this.closest.set(k, Math.min(closest ?? Infinity, d));
    }
    const lift = seen.lift;
    const wasLifted = this.peakLift >= o.liftedAt;
    if (lift !== undefined && lift > this.peakLift + o.minProgress) progressed = true;
    if (lift !== undefined) this.peakLift = Math.max(this.peakLift, lift);
    this.sinceProgress = progressed ? 0 : this.sinceProgress + 1;
    if (seen.success) {
      this.sinceProgress = 0;
      return null;
    }
    if (lift !== undefined && wasLifted && lift < this.peakLift - o.dropMargin) return 'drop';
    if (seen.progress < this.best - o.drift || driftedAway) return 'drift';
    if (this.sinceProgress >= o.patience) return 'stuck';
    return null;
  }

  /** The policy's proposal now against what the person would do from what they saw. */
  private disagreeing(proposed: Float32Array, wanted: Float32Array): TakeoverReason | null {
    let diff = 0;
    for (let i = 0; i < proposed.length; i++) diff += Math.abs((proposed[i] as number) - (wanted[i] as number));
    this.streak = diff / proposed.length > this.o.disagreement ? this.streak + 1 : 0;
    return this.streak >= this.o.patience ? 'disagreement' : null;
  }

  /** Why the person lets go now, if they do. */
  private handBackReason(seen: View): HandBackReason | null {
    if (this.budgetLeft() === 0) return 'budget';
    if (this.o.trigger === 'failure' && (seen.success || (this.o.handBack === 'recovered' && this.recovered(seen)))) return 'recovered';
    return null;
  }

  /**
   * Progress resumed beyond where the policy had got before the takeover, by `recover`: in the
   * reward, a watched distance or the lift — as the stuck rule watches them. A reward alone
   * misses it where it is flat (pick's 0.3·exp(−20·d) while the hand is far from the cube:
   * the person then always ran to the hold limit).
   */
  private recovered(seen: View): boolean {
    const r = this.o.recover;
    if (seen.progress !== undefined && seen.progress >= this.bestAtTakeover + r) return true;
    for (const [k, d] of seen.distances) {
      const before = this.closestAtTakeover.get(k);
      if (before !== undefined && d <= before - r) return true;
    }
    return seen.lift !== undefined && this.peakLiftAtTakeover > -Infinity && seen.lift >= this.peakLiftAtTakeover + r;
  }

  private handBack(reason: HandBackReason, seen: View): void {
    this.stats.handBacks[reason]++;
    this.controlLeft = 0;
    this.streak = 0;
    // The policy gets a fresh chance from where the person left it.
    this.resetJudgement(seen.progress, seen.lift, seen.distances);
  }

  private resetJudgement(progress: number | undefined, lift: number | undefined, distances?: ReadonlyMap<string, number>): void {
    this.best = progress ?? -Infinity;
    this.closest = new Map(distances ?? []);
    this.sinceProgress = 0;
    this.peakLift = lift ?? -Infinity;
  }

  async close(): Promise<void> {}
}
