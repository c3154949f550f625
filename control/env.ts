import type { Box, DictSpace, Observation, ObservationSpace, Space } from './spaces.js';

/**
 * The contract every environment in roborl fulfils — the Rapier simulator and real robots
 * (ROS, serial) alike. Learners see only this interface.
 *
 * Time model: `step(action)` applies the action for one control period (1 / `controlHz`
 * seconds) and resolves with the observation at the start of the next period. A simulator
 * resolves at once; a robot env resolves when the next sensor sample of the next control tick
 * arrives. That is why both calls are async.
 */
/**
 * The observation space of an env observing `O`: a Box for state vectors, a {@link DictSpace}
 * for state + camera frames (issue 23). `SpaceOf<Observation>` is either.
 */
export type SpaceOf<O extends Observation> = O extends Float32Array ? Box : DictSpace;

export interface EnvSpec<S extends ObservationSpace = Box> {
  /** Registry id, e.g. `Pendulum-v1`. */
  readonly id: string;
  readonly observationSpace: S;
  readonly actionSpace: Space;
  /** Control (decision) rate in Hz: one `step` lasts 1 / controlHz seconds of env time. */
  readonly controlHz: number;
  /** Episode length after which the time-limit wrapper truncates; `null` for none. */
  readonly maxEpisodeSteps: number | null;
  /**
   * Names of the per-step constraint costs this env reports, in the order of
   * `StepResult.costs` (e.g. `joint_velocity`, `keep_out`). Empty when there are none.
   */
  readonly constraints: readonly string[];
  /** Simulated (no hardware) or real; lets tools refuse e.g. unbounded random policies on a robot. */
  readonly kind: 'sim' | 'real';
  /**
   * What each observation entry is, in order (e.g. `q1`, `tcp x`, `goal−tcp z`), for people: the
   * teleop page and logs name fields instead of `obs[14]`. Optional; when given, one distinct,
   * non-empty name per entry (`checkEnv` checks). A wrapper that changes the observation's length
   * must change or drop it.
   */
  readonly observationNames?: readonly string[];
  /**
   * What each action entry is (Box: one per dimension, e.g. `Δq1`, `gripper`), for the same
   * readers. A wrapper that changes the action's length must change or drop it.
   */
  readonly actionNames?: readonly string[];
  /**
   * Whether the task ends the episode (terminated) when it succeeds. `false` for a task that runs
   * on to its time limit past a success — a dense reward paid every step (PandaPickCube-v0's
   * default): there a person's success button ends the episode truncated, as the time limit
   * would, not terminal (a terminal success would be worth less than holding on). Unset: true.
   */
  readonly successEnds?: boolean;
}

export interface ResetOptions {
  /**
   * Seeds the env's RNG for this and all following episodes (Gymnasium semantics). Without a
   * seed, the env continues its current random stream.
   */
  readonly seed?: number;
}

/** Extra per-step facts. All optional; real-robot envs fill the timestamps. */
export interface StepInfo {
  /** The task's success predicate at this step (e.g. end effector within 5 cm of the target). */
  readonly success?: boolean;
  /** Wall-clock time (ms since epoch) of the sensor sample behind `obs` (real robots). */
  readonly obsTimestampMs?: number;
  /** Age of that sample when `step` resolved, in ms (real robots). */
  readonly obsAgeMs?: number;
  /** Task-specific numbers (distances, contact forces) for logging; never used for control. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Set by the episode-statistics wrapper on the step that ends an episode. */
  readonly episode?: EpisodeSummary;
  /** Set by safety wrappers: what was asked, what ran, and why they differ. */
  readonly safety?: SafetyInfo;
  /** Real robots: why the episode was cut (stale or missing sensor data, link down). */
  readonly linkError?: string;
  /** Set by the human-in-the-loop wrapper (hil/intervention.ts): who acted this step. */
  readonly intervention?: InterventionInfo;
}

/** A human-in-the-loop step: whether the person was in control, and both candidate actions. */
export interface InterventionInfo {
  /** The human's action was the one sent (through the safety layers) this step. */
  readonly engaged: boolean;
  /** The human's action (learner units), when engaged. */
  readonly human: Float32Array | null;
  /** What the policy proposed. */
  readonly policy: Float32Array;
  /**
   * The action the wrapper passed to the layers below: the person's, the policy's, or — on a
   * hold step — the hold. A layer below may still change it (`info.safety.executed`).
   */
  readonly sent: Float32Array;
  /** This step held the robot (e-stop, a lost device) rather than act on either action. */
  readonly held: boolean;
  /** The device's name (e.g. `simulated`, `keyboard`). */
  readonly device: string;
  /** A button the person pressed this step. */
  readonly button?: 'success' | 'failure' | 'end-episode' | 'estop';
  /** Why the device stopped being usable this step (disconnected), if it did. */
  readonly deviceError?: string;
}

/** A safety layer's record of one step (Tier 0 limits, shields). */
export interface SafetyInfo {
  /** The action the policy proposed. */
  readonly proposed: Float32Array;
  /** The action the env executed. */
  readonly executed: Float32Array;
  /** Whether they differ. */
  readonly intervened: boolean;
  /** Limit hits on this step, by kind (position, velocity, rate, watchdog, estop, shield). */
  readonly hits: Readonly<Record<string, number>>;
  /** ‖executed − proposed‖ (Euclidean). */
  readonly correction?: number;
  /** Shield: the largest linearised constraint violation its projection left (0 when feasible). */
  readonly slack?: number;
  /** Shield: the linearised constraints and action bounds had no common point. */
  readonly infeasible?: boolean;
}

/** What one finished episode amounted to (see `EpisodeStatistics`). */
export interface EpisodeSummary {
  readonly return: number;
  readonly length: number;
  /** Summed cost per constraint name. */
  readonly costs: Readonly<Record<string, number>>;
  /** Whether `info.success` was true at the episode's last step (as evaluation counts it; a robot's safe stop keeps the step before it's). */
  readonly success: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  /** With a safety layer: steps where it changed the action, and limit hits by kind. */
  readonly safety?: { readonly interventions: number; readonly interventionRate: number; readonly hits: Readonly<Record<string, number>> };
  /** With a human in the loop: steps the person controlled, how often they took over, and the share of steps. */
  readonly human?: { readonly steps: number; readonly takeovers: number; readonly rate: number };
  /** Steps that were a robot's safe stop (`info.linkError`: the link went stale), when there were any. */
  readonly linkLostSteps?: number;
}

export interface ResetResult<O extends Observation = Float32Array> {
  readonly obs: O;
  readonly info: StepInfo;
}

export interface StepResult<O extends Observation = Float32Array> {
  readonly obs: O;
  readonly reward: number;
  /** One cost per entry of `spec.constraints`, same order; ≥ 0, 0 means satisfied. */
  readonly costs: Float32Array;
  /** A true terminal state (success, failure): do NOT bootstrap from `obs`. */
  readonly terminated: boolean;
  /** Cut short for a reason outside the MDP (time limit, stale robot link): DO bootstrap. */
  readonly truncated: boolean;
  readonly info: StepInfo;
}

/**
 * `O`: what the env observes — a state vector (the default) or a dict observation with camera
 * frames (control/spaces.ts `DictObservation`). Code that handles both takes `Env<Observation>`.
 */
export interface Env<O extends Observation = Float32Array> {
  readonly spec: EnvSpec<SpaceOf<O>>;
  reset(options?: ResetOptions): Promise<ResetResult<O>>;
  /**
   * Applies `action` for one control period. Throws {@link InvalidActionError} for a
   * wrong-length or non-finite action, leaving the env unchanged. Finite out-of-range
   * values are clipped to the action box (documented per task).
   */
  step(action: Float32Array): Promise<StepResult<O>>;
  /** Releases sockets, ports and wasm memory. Idempotent. */
  close(): Promise<void>;
}

/**
 * A simulator fast path: the same semantics as {@link Env} without promises, for vector envs
 * and benchmarks. `reset`/`step` of such an env must be thin async wrappers over these.
 */
export interface SyncEnv extends Env {
  resetSync(options?: ResetOptions): ResetResult;
  stepSync(action: Float32Array): StepResult;
}

export function isSyncEnv(env: Env): env is SyncEnv {
  return typeof (env as Partial<SyncEnv>).stepSync === 'function' && typeof (env as Partial<SyncEnv>).resetSync === 'function';
}

/** A malformed action. Names the env and the offending index. */
export class InvalidActionError extends Error {
  override readonly name = 'InvalidActionError';
  constructor(
    readonly envId: string,
    message: string,
    readonly index: number | null,
  ) {
    super(`${envId}: ${message}`);
  }
}

/** step() called in the wrong state (before reset, after the episode ended, after close). */
export class EnvStateError extends Error {
  override readonly name = 'EnvStateError';
}

/**
 * Validates an action against the spec without touching the env: length, finiteness and,
 * for discrete spaces, integrality and range. Called first thing in every `step`.
 */
export function validateAction(spec: EnvSpec<ObservationSpace>, action: Float32Array): void {
  if (!(action instanceof Float32Array)) {
    throw new InvalidActionError(spec.id, `action must be a Float32Array, got ${describeValue(action)}`, null);
  }
  const space = spec.actionSpace;
  const expected = space.kind === 'box' ? space.low.length : 1;
  if (action.length !== expected) {
    throw new InvalidActionError(spec.id, `action has length ${action.length}, expected ${expected}`, null);
  }
  for (let i = 0; i < action.length; i++) {
    const v = action[i] as number;
    if (!Number.isFinite(v)) throw new InvalidActionError(spec.id, `action[${i}] is ${v}; actions must be finite`, i);
  }
  if (space.kind === 'discrete') {
    const v = action[0] as number;
    if (!Number.isInteger(v) || v < 0 || v >= space.n) {
      throw new InvalidActionError(spec.id, `action[0] = ${v} is not a valid index in Discrete(${space.n})`, 0);
    }
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}

/** Clips `action` into the box in place and returns it (the env-side clip of finite actions). */
export function clipToBox(action: Float32Array, space: Box): Float32Array {
  for (let i = 0; i < action.length; i++) {
    const lo = space.low[i] as number;
    const hi = space.high[i] as number;
    const v = action[i] as number;
    action[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return action;
}
