import { yielder } from '../control/clock.js';
import type { Env, EpisodeSummary, StepInfo } from '../control/env.js';
import type { Observation } from '../control/spaces.js';
import { restoreWrapperStates, wrapperStates } from '../control/wrappers/wrapper.js';
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { listDirectory } from './binary-file.js';
import { CorruptCheckpointsError, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { EvalResult } from './evaluate.js';
import { describeEval, episodeRecord, evalRecord, type MetricsLog } from './metrics-log.js';

/**
 * Whether a step ended in a robot's safe stop (`info.linkError`: no fresh state or frame, the arm
 * held, the episode truncated). Its reward (0) is made up and its next observation is the last one
 * before it: not a transition of the task, so no learner may learn from it (review finding 1).
 */
export function isLinkLoss(r: { readonly info: StepInfo }): boolean {
  return typeof r.info.linkError === 'string';
}

/** When a trainer evaluates, checkpoints and logs (env steps). */
export interface TrainerSchedule {
  readonly steps: number;
  readonly evalEvery: number;
  readonly evalEpisodes: number;
  readonly checkpointEvery: number;
  readonly logEvery: number;
  readonly publishEvery: number;
}

/** The evaluation a best-policy file was kept for (its header's `evaluation`). */
export interface BestEvaluation {
  readonly step: number;
  readonly successRate: number;
  readonly returnMean: number;
  readonly episodes: number;
}

/** A best-policy file's `evaluation`, checked (read from disk); null when it is not one. */
export function bestEvaluationOf(header: Record<string, unknown>): BestEvaluation | null {
  const e = header['evaluation'];
  if (typeof e !== 'object' || e === null) return null;
  const { step, successRate, returnMean, episodes } = e as Record<string, unknown>;
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!count(step) || !count(episodes) || episodes < 1 || !finite(successRate) || !finite(returnMean) || successRate < 0 || successRate > 1) return null;
  // The file's own step (its name and header) is the step it was kept at.
  if (header['step'] !== step) return null;
  return { step, successRate, returnMean, episodes };
}

/** What a trainer reports after every env step (progress display). */
export interface TrainerProgress {
  readonly step: number;
  readonly episodes: number;
  readonly updates: number;
  readonly lastReturn: number | null;
  /** Rates over the last log window; NaN until the first window has closed (shown as –). */
  readonly updatesPerSec: number;
  readonly envStepsPerSec: number;
  /** Last finished episode's cost per constraint (when the env has constraints). */
  readonly lastCosts?: Readonly<Record<string, number>>;
  /** Current Lagrange multiplier per constraint (constrained learners). */
  readonly lambdas?: Readonly<Record<string, number>>;
  /** Human in the loop: the share of the last finished episode's steps the person controlled. */
  readonly humanRate?: number;
  /** Actor/learner split: the samples-per-insert ratio held so far, and stale transitions counted. */
  readonly link?: { readonly samplesPerInsert: number; readonly stale: number; readonly actors?: number };
}

/** What a run stopped before its first evaluation returns: no episodes. */
const NO_EVALUATION: EvalResult = { returnMean: Number.NaN, returnStd: Number.NaN, successRate: Number.NaN, lengthMean: Number.NaN, returns: [], costMeans: {}, costs: {}, firstSeed: 0, lost: [] };

/**
 * Learner and env throughput between two `train` log lines: updates and env steps per second
 * over the window, and the mean wall-clock of one update (the learn calls timed with
 * {@link learned}). Each trainer's loop owns one.
 */
export class Throughput {
  /** NaN until {@link sample} first closes a window: no rate measured yet is not a rate of 0. */
  updatesPerSec = Number.NaN;
  envStepsPerSec = Number.NaN;
  private updateMs = 0;
  private at: { updates: number; steps: number; time: number };

  constructor(updates: number, steps: number) {
    this.at = { updates, steps, time: performance.now() };
  }

  /** Adds the wall-clock (ms) of one learn call to the window. */
  learned(ms: number): void {
    this.updateMs += ms;
  }

  /** The window's rates and mean ms per update; starts the next window. */
  sample(updates: number, steps: number): { updatesPerSec: number; envStepsPerSec: number; updateMs: number } {
    const now = performance.now();
    const dt = now - this.at.time;
    const n = updates - this.at.updates;
    this.updatesPerSec = (n * 1000) / dt;
    this.envStepsPerSec = ((steps - this.at.steps) * 1000) / dt;
    const updateMs = n > 0 ? this.updateMs / n : 0;
    this.at = { updates, steps, time: now };
    this.updateMs = 0;
    return { updatesPerSec: this.updatesPerSec, envStepsPerSec: this.envStepsPerSec, updateMs };
  }
}

/**
 * The bookkeeping every trainer shares: step and episode counters, the stop request, episode
 * and evaluation records, evaluation / checkpoint at schedule boundaries, and the end of a run
 * (checkpoint and return on a stop request; otherwise a final evaluation and a last checkpoint).
 * Algorithms implement the loop itself, `evaluate` and `checkpoint`.
 */
export abstract class RunLoop {
  protected envSteps = 0;
  protected episodes = 0;
  protected lastReturn: number | null = null;
  protected lastCosts: Readonly<Record<string, number>> | undefined;
  protected lastHumanRate: number | undefined;
  protected stopping = false;
  /** Steps that ended in a robot's safe stop ({@link isLinkLoss}): not learned from; in the train metrics lines as `linkLostSteps`. */
  protected linkLostSteps = 0;
  /** The last logged evaluation: what a stopped run returns. */
  private lastEvaluation: EvalResult | null = null;
  private readonly stop = new AbortController();
  /** Called with the step before each logged evaluation (the CLI records that evaluation's first episode for the viewer). */
  beforeEvaluation: ((step: number) => void) | null = null;
  /** Lets the event loop in (signals, sockets) at least every 20 ms: a simulator's steps resolve at once. */
  private readonly pause = yielder(20);
  /**
   * Where the policy of the best evaluation so far is kept, as a checkpoint of the learner alone
   * (no replay): `roborl eval <run> --best`. Null: none kept. Trainers with a {@link policyState} set it.
   */
  protected bestDir: string | null = null;
  /** The best evaluation so far (read from {@link bestDir} at the first evaluation, so a resumed run goes on from it). */
  private best: BestEvaluation | null = null;
  private bestRead = false;

  constructor(
    protected readonly schedule: TrainerSchedule,
    protected readonly metrics: MetricsLog,
    protected readonly log?: (line: string) => void,
  ) {}

  get step(): number {
    return this.envSteps;
  }

  /**
   * The training env whose checkpointed wrappers (`CheckpointedWrapper`, control/wrappers/wrapper.ts: a person's spent
   * budget and intervention counts) a checkpoint keeps; trainers set it.
   */
  protected checkpointEnv: Env<Observation> | undefined;
  /** Wrapper states a resumed checkpoint held for wrappers this run's env lacks: kept, not dropped. */
  private carriedStates: Record<string, Record<string, unknown>> = {};

  /** The run's counters a checkpoint keeps beside its step: episodes, safe-stop steps and the env's wrapper states. */
  protected counters(): { episodes: number; linkLostSteps: number; wrappers?: Record<string, Record<string, unknown>> } {
    const wrappers = { ...this.carriedStates, ...(this.checkpointEnv ? wrapperStates(this.checkpointEnv) : {}) };
    return { episodes: this.episodes, linkLostSteps: this.linkLostSteps, ...(Object.keys(wrappers).length > 0 ? { wrappers } : {}) };
  }

  /**
   * Restores {@link counters} from a checkpoint header (read from disk: checked, not cast). A
   * checkpoint from before `linkLostSteps` was kept counts from 0.
   */
  protected restoreCounters(header: Record<string, unknown>): void {
    const episodes = header['episodes'];
    if (typeof episodes !== 'number' || !Number.isSafeInteger(episodes) || episodes < 0) throw new Error(`checkpoint: expected \`episodes\` to be a non-negative integer, got ${JSON.stringify(episodes)}`);
    this.episodes = episodes;
    const lost = header['linkLostSteps'];
    if (lost !== undefined && (typeof lost !== 'number' || !Number.isSafeInteger(lost) || lost < 0)) throw new Error(`checkpoint: expected \`linkLostSteps\` to be a non-negative integer, got ${JSON.stringify(lost)}`);
    this.linkLostSteps = lost ?? 0;
    const wrappers = header['wrappers'];
    if (wrappers !== undefined) this.carriedStates = restoreWrapperStates(this.checkpointEnv, wrappers);
  }

  /** Asks the run to checkpoint and return after the current step (SIGINT/SIGTERM). */
  requestStop(): void {
    this.stopping = true;
    this.stop.abort(new Error('stop requested'));
  }

  /** Aborted by a stop request: evaluations pass it, so a stop does not wait out their episodes (real time on a robot). */
  protected get stopSignal(): AbortSignal {
    return this.stop.signal;
  }

  abstract evaluate(episodes?: number): Promise<EvalResult>;
  abstract checkpoint(): string;

  /** Extra numbers for evaluation records (e.g. value error). */
  protected async evalExtras(): Promise<Record<string, number>> {
    return {};
  }

  protected endEpisode(ep: EpisodeSummary | undefined): void {
    this.episodes++;
    if (!ep) return;
    this.lastReturn = ep.return;
    this.lastCosts = Object.keys(ep.costs).length ? ep.costs : undefined;
    this.lastHumanRate = ep.human?.rate;
    this.metrics.write({ ...episodeRecord(this.envSteps, this.episodes, ep), ...this.episodeExtras(ep) });
  }

  /** Extra fields for an episode record (e.g. Lagrange multipliers updated from it). */
  protected episodeExtras(_ep: EpisodeSummary): Record<string, unknown> {
    return {};
  }

  protected async evaluateAndLog(): Promise<EvalResult> {
    this.beforeEvaluation?.(this.envSteps);
    let e: EvalResult;
    try {
      e = await this.evaluate();
    } catch (err) {
      // Cut short by a stop request: not an evaluation to record; the run ends with its checkpoint.
      if (err === this.stop.signal.reason) return this.lastEvaluation ?? NO_EVALUATION;
      throw err;
    }
    const extras = await this.evalExtras();
    this.metrics.write(evalRecord(this.envSteps, e, extras));
    this.lastEvaluation = e;
    const more = Object.entries(extras).map(([k, v]) => `, ${k} ${v.toFixed(3)}`).join('');
    this.log?.(`${describeEval(this.envSteps, e)}${more}`);
    this.keepBest(e);
    return e;
  }

  /** The learner's state alone (header and sections, as a checkpoint holds it), for {@link bestDir}; null where none is kept. */
  protected policyState(): { header: Record<string, unknown>; sections: ArrayBufferView[] } | null {
    return null;
  }

  /** Whether an evaluation may become the best (constrained runs: every cost limit met). */
  protected eligibleForBest(_e: EvalResult): boolean {
    return true;
  }

  /**
   * Keeps this evaluation's policy in {@link bestDir} when it beats the best so far: a higher
   * success rate, or the same rate and a higher mean return (RLPD's curves swing past their peak;
   * the last checkpoint is not the best policy). A best file that does not read is replaced, with
   * a warning, not fatal.
   */
  private keepBest(e: EvalResult): void {
    const dir = this.bestDir;
    if (dir === null || e.returns.length === 0 || !this.eligibleForBest(e)) return;
    if (!this.bestRead) {
      const state = this.policyState(); // (its sections' sizes tell a file of another network)
      if (!state) return;
      this.bestRead = true;
      this.best = this.readBest(dir, state.sections);
    }
    const b = this.best;
    if (b && (e.successRate < b.successRate || (e.successRate === b.successRate && !(e.returnMean > b.returnMean)))) return;
    // Exported only for a new best: a camera learner's networks are megabytes.
    const state = this.policyState();
    if (!state) return;
    const evaluation: BestEvaluation = { step: this.envSteps, successRate: e.successRate, returnMean: e.returnMean, episodes: e.returns.length };
    try {
      // Written first (atomically), then every other file in the folder goes — a kept policy
      // from a later step than this one included (a resumed run that evaluates differently).
      const path = saveCheckpoint(dir, this.envSteps, { ...state.header, evaluation }, state.sections, Number.MAX_SAFE_INTEGER);
      for (const name of listDirectory(dir)) if (name !== basename(path)) rmSync(join(dir, name), { force: true, recursive: true });
      this.best = evaluation;
      this.log?.(`best so far (success ${(100 * e.successRate).toFixed(0)}%, return ${e.returnMean.toFixed(2)}): ${path}`);
    } catch (err) {
      // The run goes on (its checkpoints are what a resume needs); the best policy is a convenience.
      this.log?.(`warning: could not keep the best policy in ${dir}: ${(err as Error).message}`);
    }
  }

  /**
   * The kept best evaluation in `dir`, or null (with a warning) when the folder holds none that
   * verifies, records no evaluation, or holds another network than this run's (its sections'
   * sizes differ): the next evaluation then replaces it.
   */
  private readBest(dir: string, sections: readonly ArrayBufferView[]): BestEvaluation | null {
    let file: ReturnType<typeof loadLatestCheckpoint>;
    try {
      file = loadLatestCheckpoint(dir);
    } catch (err) {
      if (!(err instanceof CorruptCheckpointsError)) throw err;
      this.log?.(`warning: the best-policy file in ${dir} does not verify; the next evaluation replaces it`);
      return null;
    }
    if (!file) return null;
    const kept = bestEvaluationOf(file.header);
    const fits = file.sections.length === sections.length && file.sections.every((s, i) => s.byteLength === sections[i]?.byteLength);
    if (kept && fits) return kept;
    this.log?.(`warning: ${file.path} ${kept ? "holds another network than this run's" : 'records no evaluation'}; the next evaluation replaces it`);
    return null;
  }

  /**
   * Evaluation and checkpoint at the schedule's boundaries; call after every env step. Yields to
   * the event loop when 20 ms have passed since it last did, so a SIGINT is handled within one
   * update (a loop over resolved promises never lets a signal in).
   */
  protected async afterStep(): Promise<void> {
    const { evalEvery, checkpointEvery, steps } = this.schedule;
    if (evalEvery > 0 && this.envSteps % evalEvery === 0 && this.envSteps < steps) await this.evaluateAndLog();
    if (this.envSteps % checkpointEvery === 0) this.checkpoint();
    await this.pause();
  }

  /** True while the run should go on. */
  protected running(): boolean {
    return this.envSteps < this.schedule.steps && !this.stopping;
  }

  /**
   * Ends a run: on a stop request, checkpoint and return the last logged evaluation (one with no
   * episodes if none was) without starting an episode — on a robot, Ctrl-C must not set the arm
   * moving through evaluation episodes; otherwise a final evaluation and checkpoint.
   */
  protected async finish(): Promise<EvalResult> {
    if (this.stopping) {
      // The checkpoint is the point of a stop request: taken whether or not anyone logs it.
      const path = this.checkpoint();
      this.log?.(`stopping at step ${this.envSteps}: ${path}`);
      return this.lastEvaluation ?? NO_EVALUATION;
    }
    const final = await this.evaluateAndLog();
    if (this.envSteps % this.schedule.checkpointEvery !== 0) this.checkpoint();
    return final;
  }
}
