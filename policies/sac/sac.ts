import type { Rng, RngState } from '../../control/rng.js';
import { activeKernels } from '../backend.js';
import { asFloat32 } from '../binary-file.js';
import type { Kernels } from '../kernels/kernels.js';
import { Adam, polyak } from '../nn/adam.js';
import type { MlpSpec } from '../nn/mlp.js';
import type { MlpWeights } from '../nn/mlp-js.js';
import { cloneParams, createMlpParams, MlpPass, paramList, paramShapes, type MlpParams } from '../nn/net.js';
import type { Batch, CameraShape } from '../replay.js';
import { cloneEncoder, encoderParamList, type ConvEncoderParams, type ConvEncoderSpec } from '../encoder/conv-encoder.js';
import { createPixelEncoders, pixelParams, PixelWorkspace, type PixelEncoders } from '../encoder/pixel-features.js';
import type { SacConfig } from './config.js';
import { squashedSampleInto, type SquashedSample } from './squashed-gaussian.js';

let nextLearnerId = 0;

/**
 * REDQ's target subset: `m` distinct critic indices out of `e`, uniformly at random
 * (Chen et al. 2021). With m = e this is the plain min over the ensemble (clipped double Q).
 */
export function sampleSubset(rng: Rng, e: number, m: number): number[] {
  if (!(Number.isInteger(m) && m >= 1 && m <= e)) throw new RangeError(`Expected a subset size in 1..${e}, got ${m}`);
  return rng.shuffle(Array.from({ length: e }, (_, i) => i)).slice(0, m);
}

/** What one learner update reports. */
export interface SacMetrics {
  readonly criticLoss: number;
  readonly actorLoss: number;
  readonly alpha: number;
  /** −E[log π(a|s)] on the batch. */
  readonly entropy: number;
  readonly qMean: number;
  /** Cost critics' TD loss (SAC-Lagrangian only). */
  readonly costCriticLoss?: number;
}

/** The actor's parameters at one version: what the learner publishes and actors run. */
export interface PolicySnapshot {
  readonly version: number;
  readonly weights: MlpWeights;
  readonly actDim: number;
  readonly logStdMin: number;
  readonly logStdMax: number;
  /** Image observations: the encoders (copies) whose features, then the state, make the actor's input. */
  readonly encoder?: { readonly cameras: readonly CameraShape[]; readonly specs: readonly ConvEncoderSpec[]; readonly params: readonly ConvEncoderParams[] };
}

/** Preallocated buffers of one batch size (an update allocates nothing). */
interface Workspace {
  readonly B: number;
  readonly actor: MlpPass;
  readonly critics: MlpPass[];
  readonly target: MlpPass;
  readonly costCritics: MlpPass[];
  readonly criticGrads: Float32Array[];
  readonly costGrads: Float32Array[];
  /** [s | a] and [s′ | a′], B × (obs + act). */
  readonly input: Float32Array;
  readonly next: Float32Array;
  readonly eps: Float32Array;
  readonly sample: SquashedSample;
  readonly y: Float32Array;
  readonly acc: Float32Array;
  readonly dq: Float32Array;
  readonly dAction: Float32Array;
  readonly dActorOut: Float32Array;
  readonly costQ: Float32Array;
  /** Image observations: the encoders' buffers, and the networks' inputs [features | state] of obs, next obs (online encoder) and next obs (target encoder). */
  readonly pixels: PixelWorkspace | null;
  readonly obsIn: Float32Array;
  readonly nextIn: Float32Array;
  readonly nextTargetIn: Float32Array;
  /** Σ over critics of dL/d[input], for the encoder's gradient. */
  readonly dIn: Float32Array;
}

/** The networks' observation inputs of one batch (the batch's own arrays without an encoder). */
interface NetInputs {
  readonly obs: Float32Array;
  readonly next: Float32Array;
  readonly nextTarget: Float32Array;
}

/**
 * Soft Actor-Critic (Haarnoja et al. 2018) with the RLPD/SERL extensions (Ball et al. 2023;
 * Luo et al. 2024): a critic ensemble with REDQ target subsets, LayerNorm, several critic
 * updates per actor update, and SAC-Lagrangian cost critics. The networks are roborl's own
 * (policies/nn/net.ts) on Float32Arrays; their matrix products run on {@link Kernels} (the
 * system BLAS or tfjs, issue 20). Acting at batch 1 uses {@link snapshot}s (see GaussianActor).
 *
 * One `update(batches)` = `batches.length` critic steps (critic_actor_ratio), then one actor
 * step and one temperature step.
 */
export class SacLearner {
  readonly actor: MlpParams;
  readonly critics: MlpParams[];
  readonly targets: MlpParams[];
  private readonly logAlpha = new Float32Array(1);
  private readonly actorOpt: Adam;
  private readonly criticOpt: Adam;
  private readonly alphaOpt: Adam;
  private readonly criticParams: Float32Array[];
  private readonly targetParams: Float32Array[];
  readonly targetEntropy: number;
  /** Learner updates done (each: ratio critic steps + one actor step). */
  updates = 0;
  /**
   * SAC-Lagrangian: `safe.costCritics` cost critics (and targets) per constrained cost column,
   * constraint-major: critic k of constraint i is at i·K + k.
   */
  readonly costCritics: MlpParams[];
  /** Cost critics per constraint (K). */
  readonly costEnsemble: number;
  readonly costTargets: MlpParams[];
  private readonly costTargetParams: Float32Array[];
  private readonly costOpt: Adam | null;
  /** λ of each cost critic's constraint, set by the trainer's multipliers. */
  readonly lambdas: Float64Array;
  /** Where the matrix products run. */
  readonly kernels: Kernels;
  private readonly prefix: string;
  private ws: Workspace | null = null;
  private readonly criticSpec: MlpSpec;
  /** Image encoders (config.encoder with cameras), trained by the critic loss; null for state observations. */
  readonly pixels: PixelEncoders | null;
  /** Whether the encoders are fixed (`encoder.frozen`): the critic loss does not reach them. */
  readonly encodersFrozen: boolean;
  /** Width of the networks' observation input: encoder features (if any) + the state vector. */
  readonly netObsDim: number;

  /**
   * `costColumns`: for SAC-Lagrangian, the column in a batch's cost rows of each constrained
   * cost (`costDim` columns in all); empty for plain SAC. `kernels`: default, the ones
   * `selectBackend` chose. `cameras`: the frames of each observation (image observations; needs
   * `config.encoder`); `obsDim` is then the state vector's size.
   */
  constructor(
    readonly config: SacConfig,
    readonly obsDim: number,
    readonly actDim: number,
    private readonly rng: Rng,
    private readonly costColumns: readonly number[] = [],
    private readonly costDim = 0,
    kernels?: Kernels,
    cameras: readonly CameraShape[] = [],
  ) {
    if (costColumns.some((c) => !(c >= 0 && c < costDim))) throw new RangeError(`cost columns [${costColumns}] out of range for ${costDim} costs`);
    if (cameras.length && !config.encoder) throw new Error(`the observation has camera frames (${cameras.map((c) => c.name).join(', ')}): the agent needs an image encoder (algo.encoder: {kind: conv})`);
    this.kernels = kernels ?? activeKernels();
    const featDim = config.encoder ? cameras.length * config.encoder.features : 0;
    this.netObsDim = featDim + obsDim;
    const trunk = { hidden: config.hidden, layerNorm: config.layerNorm, activation: config.activation };
    const actorSpec: MlpSpec = { input: this.netObsDim, output: 2 * actDim, ...trunk };
    this.criticSpec = { input: this.netObsDim + actDim, output: 1, ...trunk };
    this.prefix = `sac${nextLearnerId++}`;
    // The draw order (actor, each critic, then each target — drawn, then overwritten) is the
    // tfjs learner's, so seeded runs start from the same networks as before.
    this.actor = createMlpParams(actorSpec, rng, 0.1);
    this.critics = Array.from({ length: config.critics }, () => createMlpParams(this.criticSpec, rng));
    this.targets = this.critics.map((c) => (createMlpParams(this.criticSpec, rng), cloneParams(c)));
    // The encoders belong to the critic (SERL): its optimizer steps them, its Polyak update averages their targets.
    this.pixels = config.encoder ? createPixelEncoders(config.encoder, cameras, rng) : null;
    this.logAlpha[0] = Math.log(config.initAlpha);
    this.targetEntropy = config.targetEntropy === 'auto' ? (config.preset === 'rlpd' ? -actDim / 2 : -actDim) : config.targetEntropy;
    // Frozen encoders (config.encoder.frozen) are neither stepped nor averaged: their targets stay equal to them.
    this.encodersFrozen = config.encoder?.frozen === true;
    const trained = this.encodersFrozen ? null : this.pixels;
    this.criticParams = [...this.critics.flatMap(paramList), ...(trained?.online.flatMap(encoderParamList) ?? [])];
    this.targetParams = [...this.targets.flatMap(paramList), ...(trained?.target.flatMap(encoderParamList) ?? [])];
    this.actorOpt = new Adam(paramList(this.actor), { lr: config.actorLr });
    this.criticOpt = new Adam(this.criticParams, { lr: config.criticLr });
    this.alphaOpt = new Adam([this.logAlpha], { lr: config.alphaLr });
    this.costEnsemble = config.safe?.costCritics ?? 1;
    const K = this.costEnsemble;
    this.costCritics = costColumns.flatMap(() => Array.from({ length: K }, () => createMlpParams(this.criticSpec, rng)));
    this.costTargets = this.costCritics.map((c) => (createMlpParams(this.criticSpec, rng), cloneParams(c)));
    this.costTargetParams = this.costTargets.flatMap(paramList);
    this.costOpt = costColumns.length ? new Adam(this.costCritics.flatMap(paramList), { lr: config.safe?.costLr ?? config.criticLr }) : null;
    this.lambdas = new Float64Array(costColumns.length);
  }

  get alpha(): number {
    return Math.exp(this.logAlpha[0] as number);
  }

  /** Critic steps on each batch, then one actor and one temperature step on the last. */
  update(batches: readonly Batch[]): SacMetrics {
    if (batches.length === 0) throw new Error('SacLearner.update: expected at least one batch');
    let criticLoss = 0;
    let qMean = 0;
    let costCriticLoss: number | undefined;
    for (const batch of batches) {
      ({ criticLoss, qMean } = this.criticStep(batch));
      if (this.costOpt) costCriticLoss = this.costCriticStep(batch);
    }
    const { actorLoss, logProbMean } = this.actorStep(batches[batches.length - 1] as Batch);
    if (this.config.learnAlpha) this.alphaOpt.apply([Float32Array.of(-(logProbMean + this.targetEntropy))]);
    this.updates++;
    return { criticLoss, actorLoss, alpha: this.alpha, entropy: -logProbMean, qMean, ...(costCriticLoss === undefined ? {} : { costCriticLoss }) };
  }

  /**
   * Critic: y = r + γⁿ·(1 − d)·(min_{i∈M} Q̄ᵢ(s′, a′) − [backup_entropy]·α·log π(a′|s′)), a′ ~ π(·|s′);
   * loss = ½ Σᵢ mean (Qᵢ(s, a) − y)² (SB3 convention), so dL/dQᵢ = (Qᵢ − y)/B.
   * Then Polyak-average the targets.
   */
  private criticStep(batch: Batch): { criticLoss: number; qMean: number } {
    const subset = sampleSubset(this.rng, this.config.critics, this.config.criticSubset);
    const { grads, loss, q0 } = this.criticGradients(batch, this.noise(batch.size), subset, this.alpha);
    this.criticOpt.apply(grads);
    polyak(this.targetParams, this.criticParams, this.config.tau);
    return { criticLoss: loss, qMean: q0 };
  }

  /**
   * The networks' observation inputs for a batch. With an encoder: DrQ-augment the frames (one
   * draw per image from the learner's RNG), then [features | state] of obs (the differentiated
   * passes), of next obs through the online encoder (the actor's a′) and the target encoder (Q̄).
   */
  private inputs(batch: Batch, w: Workspace, obsOnly = false): NetInputs {
    if (!w.pixels) return { obs: batch.obs, next: batch.nextObs, nextTarget: batch.nextObs };
    w.pixels.augment(batch, this.rng);
    const obs = w.pixels.observe('obs', batch.obs, this.obsDim, w.obsIn);
    if (obsOnly) return { obs, next: obs, nextTarget: obs };
    return {
      obs,
      next: w.pixels.observe('next', batch.nextObs, this.obsDim, w.nextIn),
      nextTarget: w.pixels.observe('target', batch.nextObs, this.obsDim, w.nextTargetIn),
    };
  }

  /** The critic target y (a view, [B]) for given noise on s′ (B × A), target subset and α. */
  criticTarget(batch: Batch, eps: Float32Array, subset: readonly number[], alpha: number, inputs?: NetInputs): Float32Array {
    const w = this.workspace(batch.size);
    const inp = inputs ?? this.inputs(batch, w);
    const { action, logProb } = this.policy(inp.next, batch.size, eps);
    concatRows(w.next, inp.nextTarget, this.netObsDim, action, this.actDim, w.B);
    const { y } = w;
    subset.forEach((t, n) => {
      const q = w.target.forward(this.targets[t] as MlpParams, w.next);
      for (let r = 0; r < w.B; r++) y[r] = n === 0 ? (q[r] as number) : Math.min(y[r] as number, q[r] as number);
    });
    for (let r = 0; r < w.B; r++) {
      const soft = this.config.backupEntropy ? (y[r] as number) - alpha * (logProb[r] as number) : (y[r] as number);
      y[r] = (batch.reward[r] as number) + (batch.discount[r] as number) * soft;
    }
    return y;
  }

  /** Critic loss, mean Q of critic 0 and the gradients (critics' parameters, in order; views) for given noise, subset and α. */
  criticGradients(batch: Batch, eps: Float32Array, subset: readonly number[], alpha: number): { grads: Float32Array[]; loss: number; q0: number } {
    const w = this.workspace(batch.size);
    const inp = this.inputs(batch, w);
    const y = this.criticTarget(batch, eps, subset, alpha, inp);
    const width = this.netObsDim + this.actDim;
    concatRows(w.input, inp.obs, this.netObsDim, batch.action, this.actDim, w.B);
    let loss = 0;
    let q0 = 0;
    const learnEncoders = w.pixels !== null && !this.encodersFrozen;
    if (learnEncoders) w.dIn.fill(0);
    this.critics.forEach((critic, i) => {
      const pass = w.critics[i] as MlpPass;
      const q = pass.forward(critic, w.input);
      const l = regressionGrad(q, y, w.dq, w.B);
      loss += l;
      if (i === 0) q0 = mean(q, w.B);
      pass.backward(w.dq, { params: true, input: learnEncoders });
      if (learnEncoders) addInto(w.dIn, pass.dInput, w.B * width);
    });
    // The encoders learn from the critic loss only (SERL/DrQ): their gradient flows back from every critic's input.
    if (learnEncoders && w.pixels) return { grads: [...w.criticGrads, ...w.pixels.backward(w.dIn, width)], loss, q0 };
    return { grads: w.criticGrads, loss, q0 };
  }

  /**
   * Cost critics: y_c = c + γⁿ·(1 − d)·max_k Q̄_c,k(s′, a′), a′ ~ π(·|s′) (no entropy term:
   * costs are not soft); loss ½·mean (Q_c,k − y_c)² per critic. Then Polyak-average their
   * targets. The max over the K critics is clipped double-Q mirrored: the actor minimises
   * λ·Q_c, so it seeks out actions whose cost is underestimated, and an upper estimate
   * counters that (and keeps a margin where the critics disagree).
   */
  private costCriticStep(batch: Batch): number {
    const { grads, loss } = this.costCriticGradients(batch, this.noise(batch.size));
    (this.costOpt as Adam).apply(grads);
    polyak(this.costTargetParams, (this.costOpt as Adam).params, this.config.tau);
    return loss;
  }

  /** Cost-critic loss and gradients (cost critics' parameters, in order; views) for given noise on s′. */
  costCriticGradients(batch: Batch, eps: Float32Array): { grads: Float32Array[]; loss: number } {
    const w = this.workspace(batch.size);
    const B = w.B;
    const inp = this.inputs(batch, w);
    const { action } = this.policy(inp.next, B, eps);
    concatRows(w.next, inp.nextTarget, this.netObsDim, action, this.actDim, B);
    concatRows(w.input, inp.obs, this.netObsDim, batch.action, this.actDim, B);
    const discount = this.config.safe?.costGamma;
    const gc = discount === undefined || discount === this.config.gamma ? null : discount;
    let loss = 0;
    this.costColumns.forEach((col, i) => {
      this.costGroup(this.costTargets, i).forEach((t, k) => {
        const q = w.target.forward(t, w.next);
        for (let r = 0; r < B; r++) w.acc[r] = k === 0 ? (q[r] as number) : Math.max(w.acc[r] as number, q[r] as number);
      });
      for (let r = 0; r < B; r++) {
        // costGamma γ_c ≠ γ (1-step returns, so the discount is γ·(1 − d)): γ_c on non-terminal rows.
        const d = batch.discount[r] as number;
        w.y[r] = (batch.costs[r * this.costDim + col] as number) + (gc === null ? d : d > 0 ? gc : 0) * (w.acc[r] as number);
      }
      this.costGroup(this.costCritics, i).forEach((critic, k) => {
        const pass = w.costCritics[i * this.costEnsemble + k] as MlpPass;
        loss += regressionGrad(pass.forward(critic, w.input), w.y, w.dq, B);
        pass.backward(w.dq, { params: true, input: false });
      });
    });
    return { grads: w.costGrads, loss };
  }

  /** Constraint i's cost critics (or their targets) in `nets`. */
  private costGroup(nets: MlpParams[], i: number): MlpParams[] {
    return nets.slice(i * this.costEnsemble, (i + 1) * this.costEnsemble);
  }

  /** Mean cost-critic values Q_c(s, a) = max_k Q_c,k(s, a) on a batch (for metrics), per constraint. */
  costValues(batch: Batch): number[] {
    const w = this.workspace(batch.size);
    concatRows(w.input, this.inputs(batch, w, true).obs, this.netObsDim, batch.action, this.actDim, w.B);
    return this.costColumns.map((_, i) => {
      this.costGroup(this.costCritics, i).forEach((c, k) => {
        const q = w.target.forward(c, w.input);
        for (let r = 0; r < w.B; r++) w.acc[r] = k === 0 ? (q[r] as number) : Math.max(w.acc[r] as number, q[r] as number);
      });
      return mean(w.acc, w.B);
    });
  }

  /**
   * Actor: loss ℓ = mean(α·log π(a|s) − Q(s, a)), a = tanh(u), u = μ + σ·ε (reparameterised),
   * Q = min or mean over the ensemble. Gradients by hand (checked against autodiff in tests):
   *   ∂ℓ/∂u = (α·2a − ∂Q/∂a ⊙ (1 − a²))/B      (∂ log π/∂u = 2·tanh u, from −log(1 − tanh²u))
   *   ∂ℓ/∂μ = ∂ℓ/∂u,   ∂ℓ/∂log σ = −α/B + ∂ℓ/∂u ⊙ σ ⊙ ε
   * SAC-Lagrangian: ℓ = mean(α·log π − Q + Σᵢ λᵢ·Q_cᵢ) / (1 + Σᵢ λᵢ), Q_cᵢ = max_k Q_cᵢ,k.
   * The critics are only differentiated with respect to their input (no weight gradients).
   */
  private actorStep(batch: Batch): { actorLoss: number; logProbMean: number } {
    const { grads, loss, logp } = this.actorGradients(batch, this.noise(batch.size), this.alpha);
    this.actorOpt.apply(grads);
    return { actorLoss: loss, logProbMean: logp };
  }

  /** Actor loss, mean log π and the actor's gradients (in `paramList` order; views) for given noise and α. */
  actorGradients(batch: Batch, eps: Float32Array, alpha: number): { grads: Float32Array[]; loss: number; logp: number } {
    const w = this.workspace(batch.size);
    const { B } = w;
    const A = this.actDim;
    const O = this.netObsDim;
    // With an encoder the actor sees its features detached (SERL): no gradient reaches it from here.
    const obsIn = this.inputs(batch, w, true).obs;
    const out = w.actor.forward(this.actor, obsIn);
    const s = w.sample;
    squashedSampleInto(out, eps, B, A, this.config.logStdMin, this.config.logStdMax, s);
    concatRows(w.input, obsIn, O, s.action, A, B);
    const E = this.critics.length;
    const qs = this.critics.map((c, i) => (w.critics[i] as MlpPass).forward(c, w.input));
    // Q per sample (w.acc) and each critic's weight in it: 1/E (mean) or the arg-min indicator (min).
    for (let r = 0; r < B; r++) {
      let best = 0;
      let sum = 0;
      for (let i = 0; i < E; i++) {
        const v = (qs[i] as Float32Array)[r] as number;
        sum += v;
        if (v < ((qs[best] as Float32Array)[r] as number)) best = i;
      }
      w.acc[r] = this.config.actorQ === 'mean' ? sum / E : ((qs[best] as Float32Array)[r] as number);
      w.y[r] = best; // the arg-min, kept in a spare buffer
    }
    w.dAction.fill(0);
    // ∂(−Q/B)/∂a through each critic's input gradient.
    this.critics.forEach((_, i) => {
      for (let r = 0; r < B; r++) w.dq[r] = this.config.actorQ === 'mean' ? -1 / (E * B) : (w.y[r] as number) === i ? -1 / B : 0;
      this.addActionGrad(w.critics[i] as MlpPass, w, B);
    });
    // + Σᵢ λᵢ·Q_cᵢ/B: the gradient flows through the arg-max cost critic of each sample.
    w.costQ.fill(0);
    const K = this.costEnsemble;
    this.costColumns.forEach((_, i) => {
      const lambda = this.lambdas[i] as number;
      if (lambda === 0) return;
      const values = this.costGroup(this.costCritics, i).map((c, k) => (w.costCritics[i * K + k] as MlpPass).forward(c, w.input));
      for (let r = 0; r < B; r++) {
        let best = 0;
        for (let k = 1; k < K; k++) if (((values[k] as Float32Array)[r] as number) > ((values[best] as Float32Array)[r] as number)) best = k;
        w.costQ[r] = (w.costQ[r] as number) + lambda * ((values[best] as Float32Array)[r] as number);
        w.y[r] = best;
      }
      for (let k = 0; k < K; k++) {
        for (let r = 0; r < B; r++) w.dq[r] = (w.y[r] as number) === k ? lambda / B : 0;
        this.addActionGrad(w.costCritics[i * K + k] as MlpPass, w, B);
      }
    });
    const scale = 1 / (1 + this.lambdas.reduce((a, l) => a + l, 0));
    const span = 0.5 * (this.config.logStdMax - this.config.logStdMin);
    let loss = 0;
    let logp = 0;
    for (let r = 0; r < B; r++) {
      loss += alpha * (s.logProb[r] as number) - (w.acc[r] as number) + (w.costQ[r] as number);
      logp += s.logProb[r] as number;
      for (let j = 0; j < A; j++) {
        const k = r * A + j;
        const a = s.action[k] as number;
        const du = ((2 * alpha * a) / B + (w.dAction[k] as number) * (1 - a * a)) * scale;
        const dLogStd = -(alpha * scale) / B + du * Math.exp(s.logStd[k] as number) * (eps[k] as number);
        const t = Math.tanh(out[r * 2 * A + A + j] as number);
        w.dActorOut[r * 2 * A + j] = du;
        w.dActorOut[r * 2 * A + A + j] = dLogStd * span * (1 - t * t);
      }
    }
    w.actor.backward(w.dActorOut, { params: true, input: false });
    return { grads: w.actor.grads, loss: (loss / B) * scale, logp: logp / B };
  }

  /** dAction += the action columns of ∂(Σ dq·Q)/∂[s | a] through one critic's last forward pass. */
  private addActionGrad(pass: MlpPass, w: Workspace, B: number): void {
    pass.backward(w.dq, { params: false, input: true });
    const width = this.netObsDim + this.actDim;
    for (let r = 0; r < B; r++) {
      for (let j = 0; j < this.actDim; j++) w.dAction[r * this.actDim + j] = (w.dAction[r * this.actDim + j] as number) + (pass.dInput[r * width + this.netObsDim + j] as number);
    }
  }

  /** Squashed-Gaussian sample and log-density for B observations and noise ε (views, forward only). */
  policy(obs: Float32Array, B: number, eps: Float32Array): { action: Float32Array; logProb: Float32Array } {
    const w = this.workspace(B);
    const out = w.actor.forward(this.actor, obs);
    squashedSampleInto(out, eps, B, this.actDim, this.config.logStdMin, this.config.logStdMax, w.sample);
    return { action: w.sample.action, logProb: w.sample.logProb };
  }

  /** ε ~ N(0, I) from the learner's seeded RNG (so updates are reproducible and resumable). */
  private noise(batch: number): Float32Array {
    const e = this.workspace(batch).eps;
    for (let i = 0; i < e.length; i++) e[i] = this.rng.normal();
    return e;
  }

  /** Deterministic (mean) actions for a batch, in [−1, 1] (a fresh array). */
  meanAction(obs: Float32Array, batch: number): Float32Array {
    const out = new MlpPass(this.actor.spec, batch, this.kernels).forward(this.actor, obs);
    const a = new Float32Array(batch * this.actDim);
    for (let r = 0; r < batch; r++) for (let j = 0; j < this.actDim; j++) a[r * this.actDim + j] = Math.tanh(out[r * 2 * this.actDim + j] as number);
    return a;
  }

  /** The actor's current parameters as plain arrays (copies), tagged with the update count as version. */
  snapshot(): PolicySnapshot {
    const p = this.pixels;
    return {
      version: this.updates,
      weights: cloneParams(this.actor),
      actDim: this.actDim,
      logStdMin: this.config.logStdMin,
      logStdMax: this.config.logStdMax,
      ...(p ? { encoder: { cameras: p.cameras, specs: p.specs, params: p.online.map(cloneEncoder) } } : {}),
    };
  }

  /** The buffers for batch size B (reallocated only when B changes). */
  private workspace(B: number): Workspace {
    if (this.ws?.B === B) return this.ws;
    const A = this.actDim;
    const pass = (spec: MlpSpec): MlpPass => new MlpPass(spec, B, this.kernels);
    const critics = this.critics.map(() => pass(this.criticSpec));
    const costCritics = this.costCritics.map(() => pass(this.criticSpec));
    const width = this.netObsDim + A;
    const N = this.netObsDim;
    this.ws = {
      B,
      actor: pass(this.actor.spec),
      critics,
      target: pass(this.criticSpec),
      costCritics,
      criticGrads: critics.flatMap((c) => c.grads),
      costGrads: costCritics.flatMap((c) => c.grads),
      input: new Float32Array(B * width),
      next: new Float32Array(B * width),
      eps: new Float32Array(B * A),
      sample: { logStd: new Float32Array(B * A), u: new Float32Array(B * A), action: new Float32Array(B * A), logProb: new Float32Array(B) },
      y: new Float32Array(B),
      acc: new Float32Array(B),
      dq: new Float32Array(B),
      dAction: new Float32Array(B * A),
      dActorOut: new Float32Array(B * 2 * A),
      costQ: new Float32Array(B),
      pixels: this.pixels ? new PixelWorkspace(this.pixels, B, this.kernels) : null,
      obsIn: new Float32Array(this.pixels ? B * N : 0),
      nextIn: new Float32Array(this.pixels ? B * N : 0),
      nextTargetIn: new Float32Array(this.pixels ? B * N : 0),
      dIn: new Float32Array(this.pixels ? B * width : 0),
    };
    return this.ws;
  }

  /** Every parameter array in a fixed order: actor, critics, targets, log α, then cost critics and their targets. */
  private allParams(): { name: string; shape: number[]; data: Float32Array }[] {
    const named = (p: MlpParams, name: string): { name: string; shape: number[]; data: Float32Array }[] => {
      const data = paramList(p);
      return paramShapes(p.spec, `${this.prefix}/${name}`).map((s, i) => ({ ...s, data: data[i] as Float32Array }));
    };
    const K = this.costEnsemble;
    const costName = (kind: string, j: number): string => `${kind}${Math.floor(j / K)}${K > 1 ? `_${j % K}` : ''}`;
    return [
      ...named(this.actor, 'actor'),
      ...this.critics.flatMap((c, i) => named(c, `critic${i}`)),
      ...this.targets.flatMap((t, i) => named(t, `target${i}`)),
      { name: `${this.prefix}/log_alpha`, shape: [], data: this.logAlpha },
      ...this.costCritics.flatMap((c, j) => named(c, costName('cost_critic', j))),
      ...this.costTargets.flatMap((t, j) => named(t, costName('cost_target', j))),
      ...(this.pixels ? pixelParams(this.pixels, this.prefix) : []),
    ];
  }

  private optimizers(): Adam[] {
    return this.costOpt ? [this.actorOpt, this.criticOpt, this.alphaOpt, this.costOpt] : [this.actorOpt, this.criticOpt, this.alphaOpt];
  }

  /**
   * Networks, Adam moments, counters and RNG state, as a header and binary sections. The same
   * layout as the tfjs learner's checkpoints (variables with names and shapes, then each
   * optimizer's m and v), so older checkpoints load.
   */
  exportState(): { header: Record<string, unknown>; sections: Float32Array[] } {
    const opts = this.optimizers();
    const params = this.allParams();
    return {
      header: {
        updates: this.updates,
        rng: this.rng.getState(),
        variables: params.map(({ name, shape }) => ({ name, shape })),
        adamSteps: opts.map((o) => o.step),
        // What an `encoder.init` elsewhere checks its cameras and settings against.
        ...(this.pixels ? { encoder: { cameras: this.pixels.cameras, filters: this.config.encoder?.filters, strides: this.config.encoder?.strides, features: this.config.encoder?.features, frozen: this.encodersFrozen } } : {}),
      },
      sections: [...params.map((p) => Float32Array.from(p.data)), ...opts.flatMap((o) => [...o.m, ...o.v].map((a) => Float32Array.from(a)))],
    };
  }

  /**
   * Sets every camera's encoder, online and target, from another learner's exported state
   * (`header.variables` and its sections: a camera run's checkpoint), matched by camera name (the
   * variables' names less their learner prefix) and checked by shape before anything is assigned.
   * `source` names the file in errors.
   */
  loadEncoders(header: Record<string, unknown>, sections: readonly Uint8Array[], source: string): void {
    const p = this.pixels;
    if (!p) throw new Error(`${source}: this learner has no image encoder to load`);
    const declared = header['variables'];
    if (!Array.isArray(declared)) throw new Error(`${source}: not a learner's checkpoint (no variables)`);
    const local = (name: string): string => name.slice(name.indexOf('/') + 1);
    const index = new Map<string, number>();
    declared.forEach((d: unknown, i) => {
      const name = typeof d === 'object' && d !== null && 'name' in d ? d.name : null;
      if (typeof name === 'string') index.set(local(name), i);
    });
    const have = [...index.keys()].filter((k) => /^encoder_[^/]+\/head\/b$/.test(k)).map((k) => k.slice(8, -7));
    // The settings the shapes cannot tell apart (a transposed image, other strides), where the
    // checkpoint records them (learners since encoder.init; older ones are checked by shape only).
    const theirs = header['encoder'] as { cameras?: unknown; filters?: unknown; strides?: unknown; features?: unknown } | undefined;
    if (theirs) {
      const cams = Array.isArray(theirs.cameras) ? (theirs.cameras as { name?: unknown; height?: unknown; width?: unknown; channels?: unknown }[]) : [];
      for (const c of p.cameras) {
        const t = cams.find((x) => x.name === c.name);
        if (!t) throw new Error(`${source}: no encoder for camera "${c.name}" (its run's cameras: ${cams.map((x) => String(x.name)).join(', ') || 'none'})`);
        if (t.height !== c.height || t.width !== c.width || t.channels !== c.channels) throw new Error(`${source}: camera "${c.name}" was ${String(t.width)}×${String(t.height)}×${String(t.channels)} there, ${c.width}×${c.height}×${c.channels} here`);
      }
      const mine = this.config.encoder;
      for (const key of ['filters', 'strides', 'features'] as const) {
        if (JSON.stringify(theirs[key]) !== JSON.stringify(mine?.[key])) throw new Error(`${source}: its encoder has ${key} ${JSON.stringify(theirs[key])}, this config ${JSON.stringify(mine?.[key])}`);
      }
    }
    const wanted = pixelParams(p, this.prefix);
    const online = wanted.filter((v) => local(v.name).startsWith('encoder_'));
    for (const c of p.cameras) {
      const layers = (prefix: string, names: Iterable<string>): number => [...names].filter((k) => k.startsWith(`${prefix}${c.name}/conv`) && k.endsWith('/w')).length;
      const theirLayers = layers('encoder_', index.keys());
      const myLayers = layers('encoder_', online.map((v) => local(v.name)));
      if (theirLayers && theirLayers !== myLayers) throw new Error(`${source}: camera "${c.name}"'s encoder has ${theirLayers} convolutions there, ${myLayers} here (encoder.strides)`);
    }
    const data = online.map((v) => {
      const i = index.get(local(v.name));
      const camera = local(v.name).split('/')[0]?.slice(8);
      if (i === undefined || i >= sections.length) throw new Error(`${source}: no encoder for camera "${camera}" (its run's cameras: ${have.join(', ') || 'none'})`);
      const d = asFloat32(sections[i] as Uint8Array);
      const decl = declared[i] as { shape?: unknown };
      const shape = Array.isArray(decl.shape) ? decl.shape.join('x') : '?';
      if (d.length !== v.data.length || shape !== v.shape.join('x')) throw new Error(`${source}: ${local(v.name)} has shape [${shape.split('x')}] there, this encoder needs [${v.shape}]: a different camera size or encoder setting`);
      return d;
    });
    online.forEach((v, k) => v.data.set(data[k] as Float32Array));
    p.online.forEach((o, c) => {
      const from = encoderParamList(o);
      encoderParamList(p.target[c] as ConvEncoderParams).forEach((t, k) => t.set(from[k] as Float32Array));
    });
  }

  /** Restores a state from {@link exportState}; shapes are checked before anything is assigned. */
  importState(header: Record<string, unknown>, sections: Uint8Array[]): void {
    const params = this.allParams();
    const opts = this.optimizers();
    const declared = header['variables'];
    const steps = header['adamSteps'];
    const expectedSections = params.length + opts.reduce((a, o) => a + 2 * o.params.length, 0);
    const was = (header['encoder'] as { frozen?: unknown } | undefined)?.frozen;
    if (this.pixels && typeof was === 'boolean' && was !== this.encodersFrozen) {
      throw new Error(`the checkpoint's encoders were ${was ? 'frozen' : 'trained'} (algo.encoder.frozen: ${was}); this config says frozen: ${this.encodersFrozen}: resume with the run's own setting`);
    }
    if (!Array.isArray(declared) || !Array.isArray(steps) || declared.length !== params.length || steps.length !== opts.length || sections.length !== expectedSections) {
      throw new Error(`checkpoint holds ${Array.isArray(declared) ? declared.length : 0} variables and ${sections.length} sections; this learner needs ${params.length} and ${expectedSections}: a different network config`);
    }
    const data = sections.map(asFloat32);
    params.forEach((p, i) => {
      const d: unknown = declared[i];
      const shape = typeof d === 'object' && d !== null && 'shape' in d && Array.isArray(d.shape) ? d.shape.join('x') : '?';
      const name = typeof d === 'object' && d !== null && 'name' in d ? String(d.name) : `#${i}`;
      if (shape !== p.shape.join('x') || (data[i] as Float32Array).length !== p.data.length) throw new Error(`checkpoint variable ${name} has shape [${shape.split('x')}], expected [${p.shape}]`);
    });
    let k = params.length;
    opts.forEach((o) => [...o.m, ...o.v].forEach((arr) => {
      if ((data[k] as Float32Array).length !== arr.length) throw new Error(`checkpoint optimizer section ${k} has ${(data[k] as Float32Array).length} values, expected ${arr.length}`);
      k++;
    }));
    params.forEach((p, i) => p.data.set(data[i] as Float32Array));
    k = params.length;
    opts.forEach((o, n) => {
      for (const arr of [...o.m, ...o.v]) arr.set(data[k++] as Float32Array);
      o.step = Number(steps[n]);
    });
    this.updates = Number(header['updates']);
    this.rng.setState(header['rng'] as RngState);
  }

  /** Nothing native is held per learner (the kernels are shared); kept for the learners' common lifecycle. */
  dispose(): void {
    this.ws = null;
  }
}

/** dst row r = [a row r | b row r]. */
function concatRows(dst: Float32Array, a: Float32Array, aCols: number, b: Float32Array, bCols: number, rows: number): void {
  const width = aCols + bCols;
  for (let r = 0; r < rows; r++) {
    dst.set(a.subarray(r * aCols, (r + 1) * aCols), r * width);
    dst.set(b.subarray(r * bCols, (r + 1) * bCols), r * width + aCols);
  }
}

/** ½·mean (q − y)² over B rows; writes its gradient (q − y)/B into `dq`. */
function regressionGrad(q: Float32Array, y: Float32Array, dq: Float32Array, B: number): number {
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const err = (q[r] as number) - (y[r] as number);
    loss += err * err;
    dq[r] = err / B;
  }
  return (0.5 * loss) / B;
}

/** acc[0..n) += x[0..n). */
function addInto(acc: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + (x[i] as number);
}

function mean(x: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] as number;
  return s / n;
}
