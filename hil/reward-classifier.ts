import type { Env, ResetOptions, ResetResult, StepResult } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { Wrapper } from '../control/wrappers/wrapper.js';
import { asFloat32, encodeBinary, readBinaryFile, writeFileAtomic, CorruptFileError } from '../policies/binary-file.js';
import { activeKernels } from '../policies/backend.js';
import type { Kernels } from '../policies/kernels/kernels.js';
import { Adam } from '../policies/nn/adam.js';
import { createMlpParams, MlpPass, paramList, type MlpParams } from '../policies/nn/net.js';
import type { ReplayBuffer } from '../policies/replay.js';

/** Observations with success labels, grouped by the episode they came from (for held-out splits). */
export interface LabelledFrames {
  readonly obs: Float32Array[];
  /** 1 = success. */
  readonly labels: number[];
  readonly episode: number[];
}

/** One episode of observations, in order, each labelled (1 = a success state). */
export interface LabelledEpisode {
  /** Every observation the episode visited, including the final one. */
  readonly frames: readonly Float32Array[];
  /**
   * Per frame: 1 where a person pressed (or held) the success button or the task's success
   * held; 0 elsewhere. A demo's episode labels only its final frame.
   */
  readonly labels: readonly number[];
}

/**
 * Episodes from demo tables (record-demos, teleop recordings): an episode that ended
 * *terminated* ends in success — record-demos keeps successful episodes, and the success
 * button ends an episode terminated — so its final frame is the positive. Tables written with
 * `--keep-failures` mix in failures that may also terminate (a cube off the table): label
 * those yourself.
 */
export function episodesFromDemos(tables: readonly ReplayBuffer[]): LabelledEpisode[] {
  const out: LabelledEpisode[] = [];
  for (const table of tables) {
    for (const ep of table.episodes()) {
      const last = ep[ep.length - 1] as { nextObs: Float32Array; terminated: boolean };
      const frames = [...ep.map((t) => Float32Array.from(t.obs)), Float32Array.from(last.nextObs)];
      out.push({ frames, labels: frames.map((_, i) => (i === frames.length - 1 && last.terminated ? 1 : 0)) });
    }
  }
  return out;
}

export interface FrameSamplingOptions {
  /** Negatives per positive (HIL-SERL: 2–3×). Default 3. */
  readonly negativesPerPositive?: number;
  /**
   * Share of the negatives drawn from the `hardWindow` frames before an episode's first
   * success: near misses are what a success classifier must refuse. Default 0.5, window 10.
   */
  readonly hardShare?: number;
  readonly hardWindow?: number;
  readonly seed?: number;
}

/**
 * Training frames from episodes: every positive frame, and negatives subsampled to
 * `negativesPerPositive` per positive, part of them near misses (see {@link FrameSamplingOptions}).
 */
export function sampleFrames(episodes: readonly LabelledEpisode[], options: FrameSamplingOptions = {}): LabelledFrames {
  const rng = new Rng(options.seed ?? 0);
  const ratio = options.negativesPerPositive ?? 3;
  const window = options.hardWindow ?? 10;
  const out: LabelledFrames = { obs: [], labels: [], episode: [] };
  const hard: [Float32Array, number][] = [];
  const easy: [Float32Array, number][] = [];
  episodes.forEach((ep, e) => {
    checkEpisode(ep, e);
    const first = ep.labels.indexOf(1);
    ep.frames.forEach((f, i) => {
      if (ep.labels[i] === 1) {
        out.obs.push(f);
        out.labels.push(1);
        out.episode.push(e);
      } else (first >= 0 && i < first && i >= first - window ? hard : easy).push([f, e]);
    });
  });
  const positives = out.obs.length;
  const wantHard = Math.min(hard.length, Math.round(positives * ratio * (options.hardShare ?? 0.5)));
  const wantEasy = Math.min(easy.length, positives * ratio - wantHard);
  for (const [pool, want] of [[hard, wantHard], [easy, wantEasy]] as const) {
    for (const k of rng.shuffle(indices(pool.length)).slice(0, want)) {
      const [obs, e] = pool[k] as [Float32Array, number];
      out.obs.push(obs);
      out.labels.push(0);
      out.episode.push(e);
    }
  }
  return out;
}

/**
 * Splits labelled episodes at random (seeded) into training, threshold and test parts, whole
 * episodes each: frames of one episode are near copies of each other, so a frame split would
 * measure memory, and a split by recording order would test on whatever came last (a person's
 * best, or the failures). `heldOut` of the episodes — stratified, so episodes with and without a
 * success both reach every part — go alternately to the threshold and the test part: the
 * threshold is picked on one, and precision / recall reported on the other, which took no part
 * in training or in picking.
 */
export function splitEpisodes<T extends LabelledEpisode>(episodes: readonly T[], heldOut: number, seed: number): { train: T[]; threshold: T[]; test: T[] } {
  if (!(heldOut > 0 && heldOut < 1)) throw new RangeError(`Expected \`heldOut\` to be in (0, 1), got ${heldOut}`);
  const successes = episodes.filter((e) => e.labels.includes(1));
  if (successes.length < 3) throw new Error(`reward classifier: a split needs at least 3 episodes with a success (training, threshold, test), got ${successes.length}: record more successful episodes`);
  const failures = episodes.filter((e) => !e.labels.includes(1));
  const rng = new Rng(seed);
  const out: { train: T[]; threshold: T[]; test: T[] } = { train: [], threshold: [], test: [] };
  let k = 0;
  for (const group of [successes, failures]) {
    const rounded = Math.round(group.length * heldOut);
    // At least one success each for the threshold and the test, and at least one to train on.
    const held = group === successes ? Math.min(group.length - 1, Math.max(2, rounded)) : rounded;
    rng.shuffle([...group]).forEach((e, i) => (i >= held ? out.train : k++ % 2 === 0 ? out.threshold : out.test).push(e));
  }
  return out;
}

/** Every frame of each episode with its label: for honest precision / recall. */
export function allFrames(episodes: readonly LabelledEpisode[]): LabelledFrames {
  const out: LabelledFrames = { obs: [], labels: [], episode: [] };
  episodes.forEach((ep, e) => {
    checkEpisode(ep, e);
    ep.frames.forEach((f, i) => {
      out.obs.push(f);
      out.labels.push(ep.labels[i] as number);
      out.episode.push(e);
    });
  });
  return out;
}

function checkEpisode(ep: LabelledEpisode, index: number): void {
  if (ep.frames.length !== ep.labels.length) throw new RangeError(`episode ${index}: ${ep.frames.length} frames but ${ep.labels.length} labels`);
}

/** Precision and recall of `scores ≥ threshold` against labels. */
export function precisionRecall(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): { precision: number; recall: number; truePositives: number; falsePositives: number; positives: number } {
  let tp = 0;
  let fp = 0;
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = (scores[i] as number) >= threshold;
    if (labels[i] === 1) positives++;
    if (predicted && labels[i] === 1) tp++;
    if (predicted && labels[i] !== 1) fp++;
  }
  return { precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: positives === 0 ? 0 : tp / positives, truePositives: tp, falsePositives: fp, positives };
}

/**
 * The threshold with the highest recall among those whose precision is at least
 * `minPrecision` (a false success ends an episode as a success and teaches the learner a wrong
 * goal; a missed one only delays the reward). If none reaches it, the threshold with the best
 * precision.
 */
export function pickThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>, minPrecision = 0.95): { threshold: number; precision: number; recall: number } {
  const candidates = [...new Set(Array.from(scores))].sort((a, b) => a - b);
  let best: { threshold: number; precision: number; recall: number } | null = null;
  let fallback = { threshold: 1, precision: 0, recall: 0 };
  for (const t of candidates) {
    const { precision, recall, truePositives } = precisionRecall(scores, labels, t);
    if (truePositives === 0) continue;
    if (precision >= minPrecision && (!best || recall > best.recall)) best = { threshold: t, precision, recall };
    if (precision > fallback.precision || (precision === fallback.precision && recall > fallback.recall)) fallback = { threshold: t, precision, recall };
  }
  return best ?? fallback;
}

/**
 * How observations become the classifier's input. `state`: the observation vector (or the
 * `indices` chosen from it), standardised with the training frames' mean and std. An image
 * encoder (a small CNN on camera frames, as HIL-SERL uses) plugs in here as another kind: the
 * head, the training loop, the threshold and the reward wrapper do not change.
 */
export type EncoderSpec = { readonly kind: 'state'; readonly indices?: readonly number[] };

export interface ClassifierTrainOptions {
  readonly encoder?: EncoderSpec;
  /** Hidden layers of the head. Default [64, 64]. */
  readonly hidden?: readonly number[];
  /** Passes over the training frames. Default 200. */
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly seed?: number;
  /** Precision the threshold must reach on the held-out frames. Default 0.95. */
  readonly minPrecision?: number;
  readonly envId?: string;
  /** Where the head's matrix products run. Default: the ones `selectBackend` chose (BLAS or tfjs). */
  readonly kernels?: Kernels;
}

const MAGIC = 'RRLCLF01';
/** What a classifier file records besides its weights. */
export interface ClassifierMeta {
  readonly envId?: string;
  readonly thresholdPick?: { readonly precision: number; readonly recall: number; readonly frames: number };
  readonly test?: ClassifierTestResult;
}

/** Precision and recall at the classifier's threshold on test frames. */
export interface ClassifierTestResult {
  readonly precision: number;
  readonly recall: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly positives: number;
  readonly frames: number;
  readonly episodes: number;
}

/**
 * A binary success classifier on observations (HIL-SERL's learned reward): an MLP head on an
 * encoder's features, trained with binary cross-entropy; `success(obs)` is `p ≥ threshold`,
 * with the threshold picked on held-out episodes for precision.
 */
export class RewardClassifier {
  /** A batch-1 pass for per-step success checks (allocated once). */
  private single: MlpPass | null = null;

  private constructor(
    private readonly head: MlpParams,
    private readonly kernels: Kernels,
    private readonly encoder: EncoderSpec,
    private readonly mean: Float32Array,
    private readonly std: Float32Array,
    readonly obsDim: number,
    /** Decision threshold on the probability. */
    public threshold: number,
    /**
     * The env it was trained for; the precision / recall its threshold reached on the frames it
     * was picked on (optimistic: picked to look good there); and, once {@link test}ed, on test
     * episodes that took no part in training or picking — the numbers to report.
     */
    public meta: ClassifierMeta,
  ) {}

  /**
   * Trains on `train` frames and picks the threshold on `heldOut` frames (all frames of episodes
   * not trained on). Returns the classifier with its held-out precision and recall.
   */
  static train(train: LabelledFrames, heldOut: LabelledFrames, options: ClassifierTrainOptions = {}): RewardClassifier {
    const obsDim = (train.obs[0] as Float32Array | undefined)?.length;
    if (obsDim === undefined || !train.labels.includes(1) || !train.labels.includes(0)) throw new Error('reward classifier: the training frames need both successes and non-successes (record successful demos or press the success button)');
    if (!heldOut.labels.includes(1)) throw new Error('reward classifier: the held-out episodes contain no success to pick a threshold on (record more successful episodes)');
    const encoder = options.encoder ?? { kind: 'state' };
    const features = (o: Float32Array): Float32Array => (encoder.indices ? Float32Array.from(encoder.indices, (i) => o[i] as number) : o);
    const x = train.obs.map(features);
    const dim = (x[0] as Float32Array).length;
    const mean = new Float32Array(dim);
    const std = new Float32Array(dim);
    for (const v of x) for (let i = 0; i < dim; i++) mean[i] = (mean[i] as number) + (v[i] as number) / x.length;
    for (const v of x) for (let i = 0; i < dim; i++) std[i] = (std[i] as number) + ((v[i] as number) - (mean[i] as number)) ** 2 / x.length;
    for (let i = 0; i < dim; i++) std[i] = Math.max(Math.sqrt(std[i] as number), 1e-3);
    const rng = new Rng(options.seed ?? 0);
    const head = createMlpParams({ input: dim, hidden: options.hidden ?? [64, 64], output: 1, layerNorm: false, activation: 'relu' }, rng);
    const clf = new RewardClassifier(head, options.kernels ?? activeKernels(), encoder, mean, std, obsDim, 0.5, { envId: options.envId });
    clf.fit(train, options, rng);
    const scores = clf.probabilities(heldOut.obs);
    const picked = pickThreshold(scores, heldOut.labels, options.minPrecision ?? 0.95);
    clf.threshold = picked.threshold;
    clf.meta = { envId: options.envId, thresholdPick: { precision: picked.precision, recall: picked.recall, frames: heldOut.obs.length } };
    return clf;
  }

  /**
   * Precision and recall at the threshold on `frames` of `episodes` test episodes — ones that
   * took no part in training or in picking the threshold ({@link splitEpisodes}) — recorded in
   * `meta.test` (saved with the classifier).
   */
  test(frames: LabelledFrames, episodes: number): ClassifierTestResult {
    const result = { ...precisionRecall(this.probabilities(frames.obs), frames.labels, this.threshold), frames: frames.obs.length, episodes };
    this.meta = { ...this.meta, test: result };
    return result;
  }

  private fit(frames: LabelledFrames, options: ClassifierTrainOptions, rng: Rng): void {
    const n = frames.obs.length;
    const batchSize = Math.min(options.batchSize ?? 64, n);
    // tf.train.adam's ε (this head was trained with it before it moved to typed arrays).
    const optimizer = new Adam(paramList(this.head), { lr: options.lr ?? 1e-3, epsilon: 1e-7 });
    const pass = new MlpPass(this.head.spec, batchSize, this.kernels);
    const dLogit = new Float32Array(batchSize);
    const xs = this.featureMatrix(frames.obs);
    const ys = Float32Array.from(frames.labels);
    const bx = new Float32Array(batchSize * xs.dim);
    const by = new Float32Array(batchSize);
    for (let epoch = 0; epoch < (options.epochs ?? 200); epoch++) {
      const order = rng.shuffle(indices(n));
      for (let start = 0; start + batchSize <= n; start += batchSize) {
        for (let r = 0; r < batchSize; r++) {
          const k = order[start + r] as number;
          bx.set(xs.data.subarray(k * xs.dim, (k + 1) * xs.dim), r * xs.dim);
          by[r] = ys[k] as number;
        }
        // Binary cross-entropy on the logit z, mean over the batch: dL/dz = (σ(z) − y)/B.
        const z = pass.forward(this.head, bx);
        for (let r = 0; r < batchSize; r++) dLogit[r] = (sigmoid(z[r] as number) - (by[r] as number)) / batchSize;
        pass.backward(dLogit, { params: true, input: false });
        optimizer.apply(pass.grads);
      }
    }
  }

  /** Standardised features of many observations, row-major. */
  private featureMatrix(obs: readonly Float32Array[]): { data: Float32Array; dim: number } {
    const dim = this.mean.length;
    const data = new Float32Array(obs.length * dim);
    obs.forEach((o, r) => {
      if (o.length !== this.obsDim) throw new RangeError(`reward classifier: expected observations of length ${this.obsDim}, got ${o.length}`);
      for (let i = 0; i < dim; i++) {
        const v = this.encoder.indices ? (o[this.encoder.indices[i] as number] as number) : (o[i] as number);
        data[r * dim + i] = (v - (this.mean[i] as number)) / (this.std[i] as number);
      }
    });
    return { data, dim };
  }

  /** Success probabilities of observations. */
  probabilities(obs: readonly Float32Array[]): Float32Array {
    if (obs.length === 0) return new Float32Array(0);
    const { data } = this.featureMatrix(obs);
    const pass = obs.length === 1 ? (this.single ??= new MlpPass(this.head.spec, 1, this.kernels)) : new MlpPass(this.head.spec, obs.length, this.kernels);
    return Float32Array.from(pass.forward(this.head, data), sigmoid);
  }

  /** Success probability of one observation. */
  probability(obs: Float32Array): number {
    return this.probabilities([obs])[0] as number;
  }

  success(obs: Float32Array): boolean {
    return this.probability(obs) >= this.threshold;
  }

  /** Writes the classifier (weights, normalisation, threshold) atomically. */
  save(path: string): void {
    const weights = paramList(this.head);
    const header = { version: 1, obsDim: this.obsDim, encoder: this.encoder, hidden: this.head.spec.hidden, threshold: this.threshold, meta: this.meta };
    writeFileAtomic(path, encodeBinary(MAGIC, header, [this.mean, this.std, ...weights]));
  }

  /** Loads a classifier written by {@link save}; a corrupt file throws before anything is built. */
  static load(path: string): RewardClassifier {
    const file = readBinaryFile(path, MAGIC);
    const h = file.header;
    const obsDim = h['obsDim'];
    const hidden = h['hidden'];
    const threshold = h['threshold'];
    const encoder = h['encoder'] as EncoderSpec | undefined;
    if (typeof obsDim !== 'number' || !Array.isArray(hidden) || typeof threshold !== 'number' || encoder?.kind !== 'state') throw new CorruptFileError(`${path}: not a reward classifier header`);
    const [mean, std, ...weights] = file.sections.map(asFloat32);
    if (!mean || !std) throw new CorruptFileError(`${path}: missing normalisation`);
    if (!hidden.every((n): n is number => Number.isInteger(n) && n > 0)) throw new CorruptFileError(`${path}: hidden layer sizes [${hidden}] are not positive integers`);
    const head = createMlpParams({ input: mean.length, hidden, output: 1, layerNorm: false, activation: 'relu' }, new Rng(0));
    const params = paramList(head);
    if (weights.length !== params.length || params.some((p, i) => p.length !== (weights[i] as Float32Array).length)) throw new CorruptFileError(`${path}: weights do not match the network`);
    params.forEach((p, i) => p.set(weights[i] as Float32Array));
    return new RewardClassifier(head, activeKernels(), encoder, mean, std, obsDim, threshold, readMeta(h['meta']));
  }

  /** Nothing native is held (the kernels are shared); kept for callers' lifecycle. */
  dispose(): void {
    this.single = null;
  }
}

/**
 * Replaces the env's reward and success with the classifier's, for robots where no reward can
 * be computed (HIL-SERL): reward 1 and the episode ends (terminated) when the classifier says
 * success, 0 otherwise. The env's own reward and success stay in `info.metrics` as
 * `envReward` / `envSuccess` where it has them, for evaluation only. A simulated task that ends
 * an episode on its own success where the classifier sees none ends it truncated (bootstrapped).
 */
export class ClassifierReward extends Wrapper {
  readonly stats = { steps: 0, successes: 0 };
  /** The reward of a success (the intervention wrapper stores it when a person presses success). */
  readonly successReward = 1;

  constructor(
    env: Env,
    readonly classifier: RewardClassifier,
  ) {
    super(env);
    const dim = env.spec.observationSpace.kind === 'box' ? env.spec.observationSpace.low.length : 1;
    if (dim !== classifier.obsDim) throw new Error(`reward classifier takes observations of length ${classifier.obsDim}; ${env.spec.id} gives ${dim}`);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    return this.env.reset(options);
  }

  override async step(action: Float32Array): Promise<StepResult> {
    const r = await this.env.step(action);
    const success = this.classifier.success(r.obs);
    this.stats.steps++;
    if (success) this.stats.successes++;
    const metrics = { ...r.info.metrics, envReward: r.reward, ...(r.info.success === undefined ? {} : { envSuccess: r.info.success ? 1 : 0 }) };
    // A simulated task that ends itself on its own success, where the classifier sees none:
    // the episode is over, but the learner must not read that state as a terminal failure.
    const endedByEnvSuccess = r.terminated && r.info.success === true && !success;
    const terminated = (r.terminated && !endedByEnvSuccess) || success;
    return { ...r, reward: success ? 1 : 0, terminated, truncated: !terminated && (r.truncated || endedByEnvSuccess), info: { ...r.info, success, metrics } };
  }
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The file's meta, field by field (a file is input: what does not check out is left out). */
function readMeta(value: unknown): ClassifierMeta {
  const record = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v)) : null);
  const m = record(value);
  if (!m) return {};
  const numbers = (v: unknown, keys: readonly string[]): Map<string, number> | null => {
    const r = record(v);
    const out = new Map<string, number>();
    for (const k of keys) {
      const x = r?.[k];
      if (typeof x !== 'number') return null;
      out.set(k, x);
    }
    return out;
  };
  const p = numbers(m['thresholdPick'] ?? m['heldOut'], ['precision', 'recall', 'frames']);
  const t = numbers(m['test'], ['precision', 'recall', 'truePositives', 'falsePositives', 'positives', 'frames', 'episodes']);
  const get = (x: Map<string, number>, k: string): number => x.get(k) ?? Number.NaN;
  return {
    ...(typeof m['envId'] === 'string' ? { envId: m['envId'] } : {}),
    ...(p ? { thresholdPick: { precision: get(p, 'precision'), recall: get(p, 'recall'), frames: get(p, 'frames') } } : {}),
    ...(t
      ? { test: { precision: get(t, 'precision'), recall: get(t, 'recall'), truePositives: get(t, 'truePositives'), falsePositives: get(t, 'falsePositives'), positives: get(t, 'positives'), frames: get(t, 'frames'), episodes: get(t, 'episodes') } }
      : {}),
  };
}
