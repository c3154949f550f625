import { validateAction, type Env, type ResetOptions, type ResetResult, type StepResult } from '../env.js';
import { box, type Observation } from '../spaces.js';
import { BaseWrapper, Wrapper } from './wrapper.js';

/**
 * Steps `env` with `actionAt(j)` for j = 0 … k−1, summing rewards and costs, and stops early
 * when the episode ends. The returned result carries the last observation and info.
 */
async function stepSequence<O extends Observation>(env: Env<O>, k: number, actionAt: (j: number) => Float32Array): Promise<StepResult<O>> {
  let reward = 0;
  const costs = new Float32Array(env.spec.constraints.length);
  let last: StepResult<O> | undefined;
  for (let j = 0; j < k; j++) {
    last = await env.step(actionAt(j));
    reward += last.reward;
    for (let c = 0; c < costs.length; c++) costs[c] = (costs[c] as number) + (last.costs[c] as number);
    if (last.terminated || last.truncated) break;
  }
  if (!last) throw new Error('stepSequence: k must be ≥ 1');
  return { ...last, reward, costs };
}

function requirePositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected \`${name}\` to be a positive integer, got \`${v}\``);
}

/**
 * Repeats each action `repeat` times (lower decision frequency). Rewards and costs are summed;
 * `controlHz` and `maxEpisodeSteps` of the spec are divided accordingly.
 */
export class ActionRepeat<O extends Observation = Float32Array> extends BaseWrapper<O> {
  constructor(env: Env<O>, readonly repeat: number) {
    requirePositiveInt('repeat', repeat);
    const max = env.spec.maxEpisodeSteps;
    super(env, { ...env.spec, controlHz: env.spec.controlHz / repeat, maxEpisodeSteps: max === null ? null : Math.ceil(max / repeat) });
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    validateAction(this.spec, action);
    return stepSequence(this.env, this.repeat, () => action);
  }
}

/**
 * Action chunking: the policy emits `chunk` consecutive actions at once (flattened, first action
 * first), executed over `chunk` inner steps (as in ACT / diffusion-policy style controllers).
 */
export class ActionChunk<O extends Observation = Float32Array> extends BaseWrapper<O> {
  private readonly dim: number;

  constructor(env: Env<O>, readonly chunk: number) {
    requirePositiveInt('chunk', chunk);
    const space = env.spec.actionSpace;
    if (space.kind !== 'box') throw new TypeError(`ActionChunk needs a Box action space; ${env.spec.id} has ${space.kind}`);
    const tile = (a: Float32Array): Float32Array => {
      const out = new Float32Array(a.length * chunk);
      for (let j = 0; j < chunk; j++) out.set(a, j * a.length);
      return out;
    };
    const max = env.spec.maxEpisodeSteps;
    const names = env.spec.actionNames;
    super(env, {
      ...env.spec,
      actionSpace: box(tile(space.low), tile(space.high), [chunk, ...space.shape]),
      // The first action's names stand; the later ones say which step of the chunk they drive.
      ...(names ? { actionNames: Array.from({ length: chunk }, (_, j) => names.map((n) => (j === 0 ? n : `${n} (+${j})`))).flat() } : {}),
      controlHz: env.spec.controlHz / chunk,
      maxEpisodeSteps: max === null ? null : Math.ceil(max / chunk),
    });
    this.dim = space.low.length;
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    validateAction(this.spec, action);
    return stepSequence(this.env, this.chunk, (j) => action.subarray(j * this.dim, (j + 1) * this.dim));
  }
}

/**
 * Stacks the last `length` observations, oldest first, into one flat vector. After reset the
 * history is filled with copies of the first observation (so the shape is constant).
 */
export class ObservationHistory extends Wrapper {
  private readonly frames: Float32Array;
  private readonly dim: number;

  constructor(env: Env, readonly length: number) {
    requirePositiveInt('length', length);
    const o = env.spec.observationSpace;
    const tile = (a: Float32Array): Float32Array => {
      const out = new Float32Array(a.length * length);
      for (let j = 0; j < length; j++) out.set(a, j * a.length);
      return out;
    };
    const names = env.spec.observationNames;
    // Oldest first: the newest observation keeps its names, older ones say how many steps back.
    const stacked = names ? { observationNames: Array.from({ length }, (_, j) => names.map((n) => (j === length - 1 ? n : `${n} (t−${length - 1 - j})`))).flat() } : {};
    super(env, { ...env.spec, observationSpace: box(tile(o.low), tile(o.high), [length, ...o.shape]), ...stacked });
    this.dim = o.low.length;
    this.frames = new Float32Array(this.dim * length);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    for (let j = 0; j < this.length; j++) this.frames.set(r.obs, j * this.dim);
    return { ...r, obs: this.frames.slice() };
  }

  override async step(action: Float32Array): Promise<StepResult> {
    const r = await this.env.step(action);
    this.frames.copyWithin(0, this.dim);
    this.frames.set(r.obs, (this.length - 1) * this.dim);
    return { ...r, obs: this.frames.slice() };
  }
}

/**
 * Delays every action by `steps` control steps: the env executes the action chosen `steps`
 * steps ago (the first `steps` steps of an episode execute `initial`, default all zeros —
 * for position-delta tasks, hold). Trains policies in simulation on a robot's command latency
 * (measure it with `obsAgeMs` and the bridges benchmark), usually together with
 * ObservationHistory so the policy can see its actions in flight.
 */
export class ActionDelay<O extends Observation = Float32Array> extends BaseWrapper<O> {
  private queue: Float32Array[] = [];

  constructor(
    env: Env<O>,
    readonly steps: number,
    private readonly initial?: Float32Array,
  ) {
    super(env);
    if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`Expected \`steps\` to be a non-negative integer, got \`${steps}\``);
    const space = env.spec.actionSpace;
    const dim = space.kind === 'box' ? space.low.length : 1;
    if (initial && initial.length !== dim) throw new RangeError(`initial action has ${initial.length} elements; the action space has ${dim}`);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    const space = this.spec.actionSpace;
    const fill = this.initial ?? new Float32Array(space.kind === 'box' ? space.low.length : 1);
    this.queue = Array.from({ length: this.steps }, () => Float32Array.from(fill));
    return this.env.reset(options);
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    validateAction(this.spec, action);
    this.queue.push(Float32Array.from(action));
    return this.env.step(this.queue.shift() as Float32Array);
  }
}
