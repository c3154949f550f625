import type { Env, ResetOptions, ResetResult, StepResult } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { stateOf, stateSpace, type Observation, type ObservationSpace } from '../control/spaces.js';
import { BaseWrapper } from '../control/wrappers/wrapper.js';
import { randomShift } from '../policies/encoder/augment.js';
import { ConvEncoderPass, createConvEncoder, encoderParamList, encoderParamShapes, type ConvEncoderParams, type ConvEncoderSpec } from '../policies/encoder/conv-encoder.js';
import { asFloat32, encodeBinary, readBinaryFile, writeFileAtomic, CorruptFileError } from '../policies/binary-file.js';
import { activeKernels } from '../policies/backend.js';
import type { Kernels } from '../policies/kernels/kernels.js';
import { Adam } from '../policies/nn/adam.js';
import { checkSource, type FrameSource } from '../policies/replay.js';
import { createMlpParams, MlpPass, paramList, type MlpParams } from '../policies/nn/net.js';

/**
 * Frames scored per encoder pass. One pass over a whole held-out set kept every frame's patches at
 * once (~380 KB a 64×64 frame: 11k frames ran the SIMD module out of its 4 GiB, and the JS path
 * peaked at 5.5 GB); chunks of this size bound it at ~100 MB.
 */
export const SCORE_CHUNK = 256;

/** Observations with success labels, grouped by the episode they came from (for held-out splits). */
export interface LabelledFrames<O extends Observation = Float32Array> {
  readonly obs: O[];
  /** 1 = success. */
  readonly labels: number[];
  readonly episode: number[];
}

/** One episode of observations, in order, each labelled (1 = a success state). */
export interface LabelledEpisode<O extends Observation = Float32Array> {
  /** Every observation the episode visited, including the final one. */
  readonly frames: readonly O[];
  /**
   * Per frame: 1 where a person pressed (or held) the success button or the task's success
   * held; 0 elsewhere. A demo's episode labels only its final frame.
   */
  readonly labels: readonly number[];
}

/**
 * Episodes from demo tables (record-demos, teleop recordings): an episode that ended
 * *terminated* ends in success — record-demos keeps successful episodes, and the success
 * button ends an episode terminated on a task that ends on success — so its final frame is the
 * positive. A task that runs on past its success (`spec.successEnds: false`, dense pick) ends
 * every episode truncated: record those with the task's terminating variant. Tables written with
 * `--keep-failures` mix in failures that may also terminate (a cube off the table): label
 * those yourself.
 */
export function episodesFromDemos<O extends Observation = Float32Array>(tables: readonly DemoTable<O>[]): LabelledEpisode<O>[] {
  const out: LabelledEpisode<O>[] = [];
  for (const table of tables) {
    for (const ep of table.episodes()) {
      const last = ep[ep.length - 1] as { nextObs: O; terminated: boolean };
      // Copies: a table's observations are views into it.
      const frames = [...ep.map((t) => copyObservation(t.obs)), copyObservation(last.nextObs)];
      out.push({ frames, labels: frames.map((_, i) => (i === frames.length - 1 && last.terminated ? 1 : 0)) });
    }
  }
  return out;
}

/** A demo table grouped into episodes: a state table (ReplayBuffer) or one with camera frames (FrameReplay). */
export interface DemoTable<O extends Observation = Float32Array> {
  episodes(): Iterable<{ obs: O; nextObs: O; terminated: boolean }[]>;
}

function copyObservation<O extends Observation>(obs: O): O {
  if (obs instanceof Float32Array) return Float32Array.from(obs) as O;
  return Object.fromEntries(Object.entries(obs).map(([k, v]) => [k, v.slice()])) as O;
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
export function sampleFrames<O extends Observation = Float32Array>(episodes: readonly LabelledEpisode<O>[], options: FrameSamplingOptions = {}): LabelledFrames<O> {
  const rng = new Rng(options.seed ?? 0);
  const ratio = options.negativesPerPositive ?? 3;
  const window = options.hardWindow ?? 10;
  const out: LabelledFrames<O> = { obs: [], labels: [], episode: [] };
  const hard: [O, number][] = [];
  const easy: [O, number][] = [];
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
      const [obs, e] = pool[k] as [O, number];
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
export function splitEpisodes<T extends LabelledEpisode<Observation>>(episodes: readonly T[], heldOut: number, seed: number): { train: T[]; threshold: T[]; test: T[] } {
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
export function allFrames<O extends Observation = Float32Array>(episodes: readonly LabelledEpisode<O>[]): LabelledFrames<O> {
  const out: LabelledFrames<O> = { obs: [], labels: [], episode: [] };
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

function checkEpisode(ep: LabelledEpisode<Observation>, index: number): void {
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
 * `indices` chosen from it), standardised with the training frames' mean and std. `conv`: one
 * camera's frames through the learner's conv encoder (policies/encoder/, trained with the head
 * by the same loss, DrQ random shift of `pad` pixels while training), as HIL-SERL's classifiers
 * look at images; `indices` adds state entries beside the image features (default none). The
 * head, the threshold and the reward wrapper do not change.
 */
export type EncoderSpec =
  | { readonly kind: 'state'; readonly indices?: readonly number[] }
  | {
      readonly kind: 'conv';
      readonly camera: string;
      /** [height, width, channels]; default: a square RGB or grey frame of the camera's size. */
      readonly shape?: readonly [number, number, number];
      readonly indices?: readonly number[];
      readonly filters?: number;
      readonly strides?: readonly number[];
      readonly features?: number;
      readonly pad?: number;
    };

/** A classifier's image encoder: its camera, shape and weights. */
interface ImageEncoder {
  readonly camera: string;
  readonly spec: ConvEncoderSpec;
  readonly params: ConvEncoderParams;
  readonly pad: number;
}

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
  readonly frames?: FrameSource;
  /** Where the head's matrix products run. Default: the ones `selectBackend` chose (BLAS or tfjs). */
  readonly kernels?: Kernels;
}

const MAGIC = 'RRLCLF01';
/** What a classifier file records besides its weights. */
export interface ClassifierMeta {
  readonly envId?: string;
  /** A camera classifier's camera as its demos' label held it (renderer version, the camera's config): checked against a camera config's. */
  readonly frames?: FrameSource;
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
    private readonly image: ImageEncoder | null,
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

  /** Whether it reads the state at all (a camera classifier by default looks at the frame alone). */
  get readsState(): boolean {
    return this.mean.length > 0;
  }

  /** The camera it looks at and the frame size it takes (null: the state alone). */
  get camera(): { readonly name: string; readonly height: number; readonly width: number; readonly channels: number } | null {
    const image = this.image;
    return image ? { name: image.camera, height: image.spec.height, width: image.spec.width, channels: image.spec.channels } : null;
  }

  /**
   * Trains on `train` frames and picks the threshold on `heldOut` frames (all frames of episodes
   * not trained on). Returns the classifier with its held-out precision and recall.
   */
  static train(train: LabelledFrames<Observation>, heldOut: LabelledFrames<Observation>, options: ClassifierTrainOptions = {}): RewardClassifier {
    const first = train.obs[0];
    const obsDim = first === undefined ? undefined : stateOf(first).length;
    if (obsDim === undefined || !train.labels.includes(1) || !train.labels.includes(0)) throw new Error('reward classifier: the training frames need both successes and non-successes (record successful demos or press the success button)');
    if (!heldOut.labels.includes(1)) throw new Error('reward classifier: the held-out episodes contain no success to pick a threshold on (record more successful episodes)');
    const encoder = options.encoder ?? { kind: 'state' };
    const indices = encoder.kind === 'conv' ? (encoder.indices ?? []) : encoder.indices;
    const features = (o: Observation): Float32Array => (indices ? Float32Array.from(indices, (i) => stateOf(o)[i] as number) : stateOf(o));
    const x = train.obs.map(features);
    const dim = (x[0] as Float32Array).length;
    const mean = new Float32Array(dim);
    const std = new Float32Array(dim);
    for (const v of x) for (let i = 0; i < dim; i++) mean[i] = (mean[i] as number) + (v[i] as number) / x.length;
    for (const v of x) for (let i = 0; i < dim; i++) std[i] = (std[i] as number) + ((v[i] as number) - (mean[i] as number)) ** 2 / x.length;
    for (let i = 0; i < dim; i++) std[i] = Math.max(Math.sqrt(std[i] as number), 1e-3);
    const rng = new Rng(options.seed ?? 0);
    const image = encoder.kind === 'conv' ? createImageEncoder(encoder, first as Observation, rng) : null;
    const head = createMlpParams({ input: (image?.spec.features ?? 0) + dim, hidden: options.hidden ?? [64, 64], output: 1, layerNorm: false, activation: 'relu' }, rng);
    const source = { ...(options.envId === undefined ? {} : { envId: options.envId }), ...(options.frames === undefined ? {} : { frames: options.frames }) };
    const clf = new RewardClassifier(head, options.kernels ?? activeKernels(), encoder, image, mean, std, obsDim, 0.5, source);
    clf.fit(train, options, rng);
    const scores = clf.probabilities(heldOut.obs);
    const picked = pickThreshold(scores, heldOut.labels, options.minPrecision ?? 0.95);
    clf.threshold = picked.threshold;
    clf.meta = { ...source, thresholdPick: { precision: picked.precision, recall: picked.recall, frames: heldOut.obs.length } };
    return clf;
  }

  /**
   * Precision and recall at the threshold on `frames` of `episodes` test episodes — ones that
   * took no part in training or in picking the threshold ({@link splitEpisodes}) — recorded in
   * `meta.test` (saved with the classifier).
   */
  test(frames: LabelledFrames<Observation>, episodes: number): ClassifierTestResult {
    const result = { ...precisionRecall(this.probabilities(frames.obs), frames.labels, this.threshold), frames: frames.obs.length, episodes };
    this.meta = { ...this.meta, test: result };
    return result;
  }

  private fit(frames: LabelledFrames<Observation>, options: ClassifierTrainOptions, rng: Rng): void {
    const n = frames.obs.length;
    const batchSize = Math.min(options.batchSize ?? 64, n);
    const image = this.image;
    // tf.train.adam's ε (this head was trained with it before it moved to typed arrays).
    const optimizer = new Adam([...paramList(this.head), ...(image ? encoderParamList(image.params) : [])], { lr: options.lr ?? 1e-3, epsilon: 1e-7 });
    const pass = new MlpPass(this.head.spec, batchSize, this.kernels);
    const dLogit = new Float32Array(batchSize);
    const xs = this.featureMatrix(frames.obs);
    const ys = Float32Array.from(frames.labels);
    const width = this.head.spec.input;
    const bx = new Float32Array(batchSize * width);
    const by = new Float32Array(batchSize);
    const F = image?.spec.features ?? 0;
    const imagePass = image ? new ConvEncoderPass(image.spec, batchSize, this.kernels) : null;
    const frameBytes = image ? image.spec.height * image.spec.width * image.spec.channels : 0;
    const rawFrames = new Uint8Array(batchSize * frameBytes);
    const shifted = new Float32Array(batchSize * frameBytes);
    const dFeat = new Float32Array(batchSize * F);
    for (let epoch = 0; epoch < (options.epochs ?? 200); epoch++) {
      const order = rng.shuffle(indices(n));
      for (let start = 0; start + batchSize <= n; start += batchSize) {
        for (let r = 0; r < batchSize; r++) {
          const k = order[start + r] as number;
          bx.set(xs.data.subarray(k * xs.dim, (k + 1) * xs.dim), r * width + F);
          by[r] = ys[k] as number;
          if (image) rawFrames.set(this.frameOf(frames.obs[k] as Observation), r * frameBytes);
        }
        if (image && imagePass) {
          randomShift(rawFrames, batchSize, image.spec.height, image.spec.width, image.spec.channels, image.pad, rng, shifted);
          const f = imagePass.forward(image.params, shifted);
          for (let r = 0; r < batchSize; r++) bx.set(f.subarray(r * F, (r + 1) * F), r * width);
        }
        // Binary cross-entropy on the logit z, mean over the batch: dL/dz = (σ(z) − y)/B.
        const z = pass.forward(this.head, bx);
        for (let r = 0; r < batchSize; r++) dLogit[r] = (sigmoid(z[r] as number) - (by[r] as number)) / batchSize;
        pass.backward(dLogit, { params: true, input: image !== null });
        if (!imagePass) {
          optimizer.apply(pass.grads);
          continue;
        }
        // The encoder learns from the same loss, through the head's input gradient.
        for (let r = 0; r < batchSize; r++) for (let j = 0; j < F; j++) dFeat[r * F + j] = pass.dInput[r * width + j] as number;
        imagePass.backward(dFeat);
        optimizer.apply([...pass.grads, ...imagePass.grads]);
      }
    }
  }

  /** Standardised features of many observations, row-major. */
  private featureMatrix(obs: readonly Observation[]): { data: Float32Array; dim: number } {
    const dim = this.mean.length;
    const data = new Float32Array(obs.length * dim);
    const indices = this.encoder.kind === 'conv' ? (this.encoder.indices ?? []) : this.encoder.indices;
    obs.forEach((ob, r) => {
      const o = stateOf(ob);
      if (dim > 0 && o.length !== this.obsDim) throw new RangeError(`reward classifier: expected observations of length ${this.obsDim}, got ${o.length}`);
      for (let i = 0; i < dim; i++) {
        const v = indices ? (o[indices[i] as number] as number) : (o[i] as number);
        data[r * dim + i] = (v - (this.mean[i] as number)) / (this.std[i] as number);
      }
    });
    return { data, dim };
  }

  /** The classifier's camera frame of an observation; a clear error when it has none of the right size. */
  private frameOf(o: Observation): Uint8Array {
    const image = this.image as ImageEncoder;
    const f = o instanceof Float32Array ? undefined : o[image.camera];
    const bytes = image.spec.height * image.spec.width * image.spec.channels;
    if (!(f instanceof Uint8Array) || f.length !== bytes) throw new RangeError(`reward classifier: observations need a "${image.camera}" frame of ${image.spec.height}×${image.spec.width}×${image.spec.channels} bytes`);
    return f;
  }

  /** Success probabilities of observations (scored SCORE_CHUNK at a time: memory stays bounded). */
  probabilities(obs: readonly Observation[]): Float32Array {
    if (obs.length === 0) return new Float32Array(0);
    if (obs.length > SCORE_CHUNK) {
      const out = new Float32Array(obs.length);
      for (let i = 0; i < obs.length; i += SCORE_CHUNK) out.set(this.probabilities(obs.slice(i, i + SCORE_CHUNK)), i);
      return out;
    }
    const { data, dim } = this.featureMatrix(obs);
    const n = obs.length;
    let input = data;
    const image = this.image;
    if (image) {
      const F = image.spec.features;
      const bytes = image.spec.height * image.spec.width * image.spec.channels;
      const raw = new Uint8Array(n * bytes);
      obs.forEach((o, r) => raw.set(this.frameOf(o), r * bytes));
      const x = new Float32Array(n * bytes);
      randomShift(raw, n, image.spec.height, image.spec.width, image.spec.channels, 0, new Rng(0), x);
      const f = new ConvEncoderPass(image.spec, n, this.kernels).forward(image.params, x);
      input = new Float32Array(n * (F + dim));
      for (let r = 0; r < n; r++) {
        input.set(f.subarray(r * F, (r + 1) * F), r * (F + dim));
        input.set(data.subarray(r * dim, (r + 1) * dim), r * (F + dim) + F);
      }
    }
    const pass = n === 1 ? (this.single ??= new MlpPass(this.head.spec, 1, this.kernels)) : new MlpPass(this.head.spec, n, this.kernels);
    return Float32Array.from(pass.forward(this.head, input), sigmoid);
  }

  /** Success probability of one observation. */
  probability(obs: Observation): number {
    return this.probabilities([obs])[0] as number;
  }

  success(obs: Observation): boolean {
    return this.probability(obs) >= this.threshold;
  }

  /** Writes the classifier (weights, normalisation, threshold) atomically. */
  save(path: string): void {
    const weights = [...paramList(this.head), ...(this.image ? encoderParamList(this.image.params) : [])];
    const image = this.image ? { camera: this.image.camera, spec: this.image.spec, pad: this.image.pad } : undefined;
    const header = { version: 1, obsDim: this.obsDim, encoder: this.encoder, ...(image ? { image } : {}), hidden: this.head.spec.hidden, threshold: this.threshold, meta: this.meta };
    writeFileAtomic(path, encodeBinary(MAGIC, header, [this.mean, this.std, ...weights]));
  }

  /** Loads a classifier written by {@link save}; a corrupt file throws before anything is built. */
  static load(path: string): RewardClassifier {
    const file = readBinaryFile(path, MAGIC);
    const h = file.header;
    const obsDim = h['obsDim'];
    const hidden = h['hidden'];
    const threshold = h['threshold'];
    const encoder = readEncoderSpec(h['encoder']);
    if (typeof obsDim !== 'number' || !Array.isArray(hidden) || typeof threshold !== 'number' || !encoder) throw new CorruptFileError(`${path}: not a reward classifier header`);
    const sections = file.sections.map(asFloat32);
    const weightValues = sections.slice(2).reduce((n, w) => n + w.length, 0);
    const image = encoder.kind === 'conv' ? readImage(h['image'], path, weightValues) : null;
    const [mean, std, ...weights] = sections;
    if (!mean || !std) throw new CorruptFileError(`${path}: missing normalisation`);
    if (!hidden.every((n): n is number => Number.isInteger(n) && n > 0)) throw new CorruptFileError(`${path}: hidden layer sizes [${hidden}] are not positive integers`);
    const head = createMlpParams({ input: (image?.spec.features ?? 0) + mean.length, hidden, output: 1, layerNorm: false, activation: 'relu' }, new Rng(0));
    const params = [...paramList(head), ...(image ? encoderParamList(image.params) : [])];
    if (weights.length !== params.length || params.some((p, i) => p.length !== (weights[i] as Float32Array).length)) throw new CorruptFileError(`${path}: weights do not match the network`);
    params.forEach((p, i) => p.set(weights[i] as Float32Array));
    return new RewardClassifier(head, activeKernels(), encoder, image, mean, std, obsDim, threshold, readMeta(h['meta']));
  }

  /** Nothing native is held (the kernels are shared); kept for callers' lifecycle. */
  dispose(): void {
    this.single = null;
  }
}

/**
 * Throws, saying what differs, unless `classifier` can score `spec`'s observations: its task, its
 * state length where it reads the state (`stateLength`: the length it is shown, where that is not
 * the spec's) and the camera it looks at, at its frame size.
 */
export function checkClassifierFits(classifier: RewardClassifier, spec: { readonly id: string; readonly observationSpace: ObservationSpace }, { stateLength }: { stateLength?: number } = {}): void {
  const trainedFor = classifier.meta.envId;
  if (trainedFor !== undefined && trainedFor !== spec.id) throw new Error(`reward classifier was trained on ${trainedFor} episodes; this is ${spec.id}`);
  const dim = stateLength ?? stateSpace(spec.observationSpace).low.length;
  if (classifier.readsState && dim !== classifier.obsDim) throw new Error(`reward classifier takes observations of length ${classifier.obsDim}; ${spec.id} gives ${dim}`);
  const camera = classifier.camera;
  if (!camera) return;
  const space = spec.observationSpace;
  const seen = space.kind === 'dict' && Object.hasOwn(space.cameras, camera.name) ? space.cameras[camera.name] : undefined;
  if (!seen) throw new Error(`reward classifier looks at camera "${camera.name}"; ${spec.id} observes ${space.kind === 'dict' ? `cameras ${Object.keys(space.cameras).join(', ')}` : 'no camera'}`);
  if (seen.height !== camera.height || seen.width !== camera.width || seen.channels !== camera.channels) throw new Error(`reward classifier looks at "${camera.name}" frames of ${camera.height}×${camera.width}×${camera.channels}; ${spec.id} gives ${seen.height}×${seen.width}×${seen.channels}`);
}

/**
 * Replaces the env's reward and success with the classifier's, for robots where no reward can
 * be computed (HIL-SERL): reward 1 and the episode ends (terminated) when the classifier says
 * success, 0 otherwise. The env's own reward and success stay in `info.metrics` as
 * `envReward` / `envSuccess` where it has them, for evaluation only. A simulated task that ends
 * an episode on its own success where the classifier sees none ends it truncated (bootstrapped).
 */
export class ClassifierReward<O extends Observation = Float32Array> extends BaseWrapper<O> {
  readonly stats = { steps: 0, successes: 0 };
  /** The reward of a success (the intervention wrapper stores it when a person presses success). */
  readonly successReward = 1;

  /**
   * `view`: what the classifier is shown of each observation (`of`, with a state of `stateLength`),
   * where the env observes more than the learner will (record-demos with `state: proprio`: the
   * expert sees the goal, the table stores proprioception) — the frames and the learner's state.
   */
  constructor(
    env: Env<O>,
    readonly classifier: RewardClassifier,
    private readonly view?: { readonly of: (obs: O) => O; readonly stateLength: number },
  ) {
    super(env);
    checkClassifierFits(classifier, env.spec, view ? { stateLength: view.stateLength } : {});
  }

  override async reset(options?: ResetOptions): Promise<ResetResult<O>> {
    return this.env.reset(options);
  }

  override async step(action: Float32Array): Promise<StepResult<O>> {
    const r = await this.env.step(action);
    const success = this.classifier.success(this.view ? this.view.of(r.obs) : r.obs);
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

/** The conv encoder for `spec`'s camera, shaped by the first observation's frame (its size is the camera's). */
function createImageEncoder(spec: Extract<EncoderSpec, { kind: 'conv' }>, first: Observation, rng: Rng): ImageEncoder {
  const frame = first instanceof Float32Array ? undefined : first[spec.camera];
  if (!(frame instanceof Uint8Array)) throw new Error(`reward classifier: encoder conv reads camera "${spec.camera}", which the observations do not have`);
  const dims = CAMERA_SHAPES.get(frame.length);
  const shape = spec.shape ?? dims;
  if (!shape) throw new Error(`reward classifier: give the "${spec.camera}" frame's shape (encoder.shape: [height, width, channels]); ${frame.length} bytes is not a square RGB or grey frame`);
  const [height, width, channels] = shape;
  if (height * width * channels !== frame.length) throw new Error(`reward classifier: encoder.shape ${height}×${width}×${channels} does not match the "${spec.camera}" frame's ${frame.length} bytes`);
  const conv: ConvEncoderSpec = { height, width, channels, filters: spec.filters ?? 32, strides: spec.strides ?? [2, 2, 1, 1], features: spec.features ?? 50 };
  return { camera: spec.camera, spec: conv, params: createConvEncoder(conv, rng), pad: spec.pad ?? 4 };
}

/** Square RGB and grey frames by their byte count (the common case needs no shape). */
const CAMERA_SHAPES = new Map<number, [number, number, number]>(
  Array.from({ length: 512 }, (_, i) => i + 1).flatMap((n): [number, [number, number, number]][] => [
    [n * n * 3, [n, n, 3]],
    [n * n, [n, n, 1]],
  ]),
);

const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The encoder entry of a file's header, checked field by field. */
function readEncoderSpec(v: unknown): EncoderSpec | null {
  if (typeof v !== 'object' || v === null) return null;
  const m = new Map(Object.entries(v));
  const indices = m.get('indices');
  const ints = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => Number.isInteger(n) && n >= 0);
  if (indices !== undefined && !ints(indices)) return null;
  const idx = indices === undefined ? {} : { indices };
  if (m.get('kind') === 'state') return { kind: 'state', ...idx };
  const camera = m.get('camera');
  if (m.get('kind') === 'conv' && typeof camera === 'string') return { kind: 'conv', camera, ...idx };
  return null;
}

/**
 * A conv classifier's encoder shape from its header (weights are read after). `weightValues`: the
 * file's weight values in all; a header that asks for more is corrupt, and is said so before
 * anything is allocated (a crafted 90 KB file asked for a 4 GB encoder).
 */
function readImage(v: unknown, path: string, weightValues: number): ImageEncoder {
  const bad = (): never => {
    throw new CorruptFileError(`${path}: the image encoder's header is malformed`);
  };
  if (typeof v !== 'object' || v === null) return bad();
  const m = new Map(Object.entries(v));
  const camera = m.get('camera');
  const pad = m.get('pad');
  const spec = m.get('spec');
  if (typeof camera !== 'string' || typeof pad !== 'number' || typeof spec !== 'object' || spec === null) return bad();
  const sm = new Map(Object.entries(spec));
  const int = (k: string): number => {
    const x = sm.get(k);
    return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 4096 ? x : bad();
  };
  const strides = sm.get('strides');
  if (!Array.isArray(strides) || !strides.every((x) => Number.isInteger(x) && x >= 1)) return bad();
  const conv: ConvEncoderSpec = { height: int('height'), width: int('width'), channels: int('channels'), filters: int('filters'), strides: strides.map(Number), features: int('features') };
  try {
    const needed = encoderParamShapes(conv, 'encoder').reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    if (needed > weightValues) throw new Error(`its image encoder (${conv.height}×${conv.width}×${conv.channels}, ${conv.filters} filters) needs ${needed} weights, the file holds ${weightValues}`);
    return { camera, spec: conv, params: createConvEncoder(conv, new Rng(0)), pad };
  } catch (err) {
    throw new CorruptFileError(`${path}: ${(err as Error).message}`);
  }
}

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
  let frames: FrameSource | undefined;
  try {
    frames = m['frames'] === undefined ? undefined : checkSource({ env: 'classifier', frames: m['frames'] }, 'classifier').frames;
  } catch {
    frames = undefined;
  }
  return {
    ...(typeof m['envId'] === 'string' ? { envId: m['envId'] } : {}),
    ...(frames ? { frames } : {}),
    ...(p ? { thresholdPick: { precision: get(p, 'precision'), recall: get(p, 'recall'), frames: get(p, 'frames') } } : {}),
    ...(t
      ? { test: { precision: get(t, 'precision'), recall: get(t, 'recall'), truePositives: get(t, 'truePositives'), falsePositives: get(t, 'falsePositives'), positives: get(t, 'positives'), frames: get(t, 'frames'), episodes: get(t, 'episodes') } }
      : {}),
  };
}
