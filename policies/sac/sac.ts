import * as tf from '@tensorflow/tfjs-core';
import type { Rng, RngState } from '../../control/rng.js';
import { asFloat32 } from '../binary-file.js';
import { Adam, polyakInto, writeVariable } from '../nn/adam.js';
import { mlpBackward, mlpForwardTape } from '../nn/mlp-backprop.js';
import { copyMlp, createMlp, disposeMlp, mlpForward, mlpVariables, type Mlp, type MlpSpec } from '../nn/mlp.js';
import type { MlpWeights } from '../nn/mlp-js.js';
import type { Batch } from '../replay.js';
import type { SacConfig } from './config.js';
import { boundLogStd, squashedSample } from './squashed-gaussian.js';

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
}

/**
 * Soft Actor-Critic (Haarnoja et al. 2018) with the RLPD/SERL extensions (Ball et al. 2023;
 * Luo et al. 2024): a critic ensemble with REDQ target subsets, LayerNorm, several critic
 * updates per actor update. Networks and updates run in TensorFlow.js; acting at batch 1 uses
 * {@link snapshot}s in plain JS (see GaussianActor).
 *
 * One `update(batches)` = `batches.length` critic steps (critic_actor_ratio), then one actor
 * step and one temperature step.
 */
export class SacLearner {
  readonly actor: Mlp;
  readonly critics: Mlp[];
  private readonly targets: Mlp[];
  private readonly logAlpha: tf.Variable<tf.Rank.R0>;
  private readonly actorOpt: Adam;
  private readonly criticOpt: Adam;
  private readonly alphaOpt: Adam;
  private readonly criticVars: tf.Variable[];
  private readonly targetVars: tf.Variable[];
  /** Float32 copies of the target critics' parameters (Polyak-averaged in place). */
  private readonly targetParams: Float32Array[];
  readonly targetEntropy: number;
  /** Learner updates done (each: ratio critic steps + one actor step). */
  updates = 0;
  /**
   * SAC-Lagrangian: `safe.costCritics` cost critics (and targets) per constrained cost column,
   * constraint-major: critic k of constraint i is at i·K + k.
   */
  readonly costCritics: Mlp[];
  /** Cost critics per constraint (K). */
  readonly costEnsemble: number;
  private readonly costTargets: Mlp[];
  private readonly costTargetVars: tf.Variable[];
  private readonly costTargetParams: Float32Array[];
  private readonly costOpt: Adam | null;
  /** λ of each cost critic's constraint, set by the trainer's multipliers. */
  readonly lambdas: Float64Array;

  /**
   * `costColumns`: for SAC-Lagrangian, the column in a batch's cost rows of each constrained
   * cost (`costDim` columns in all); empty for plain SAC.
   */
  constructor(
    readonly config: SacConfig,
    readonly obsDim: number,
    readonly actDim: number,
    private readonly rng: Rng,
    private readonly costColumns: readonly number[] = [],
    private readonly costDim = 0,
  ) {
    if (costColumns.some((c) => !(c >= 0 && c < costDim))) throw new RangeError(`cost columns [${costColumns}] out of range for ${costDim} costs`);
    const trunk = { hidden: config.hidden, layerNorm: config.layerNorm, activation: config.activation };
    const actorSpec: MlpSpec = { input: obsDim, output: 2 * actDim, ...trunk };
    const criticSpec: MlpSpec = { input: obsDim + actDim, output: 1, ...trunk };
    // tfjs variable names are global to the engine: prefix them so learners can coexist.
    const prefix = `sac${nextLearnerId++}`;
    this.actor = createMlp(actorSpec, rng, `${prefix}/actor`, 0.1);
    this.critics = Array.from({ length: config.critics }, (_, i) => createMlp(criticSpec, rng, `${prefix}/critic${i}`));
    this.targets = Array.from({ length: config.critics }, (_, i) => {
      const t = createMlp(criticSpec, rng, `${prefix}/target${i}`);
      copyMlp(t, this.critics[i] as Mlp);
      return t;
    });
    this.logAlpha = tf.variable(tf.scalar(Math.log(config.initAlpha)), true, `${prefix}/log_alpha`);
    this.targetEntropy = config.targetEntropy === 'auto' ? (config.preset === 'rlpd' ? -actDim / 2 : -actDim) : config.targetEntropy;
    this.criticVars = this.critics.flatMap(mlpVariables);
    this.targetVars = this.targets.flatMap(mlpVariables);
    this.targetParams = this.targetVars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
    this.actorOpt = new Adam(mlpVariables(this.actor), { lr: config.actorLr });
    this.criticOpt = new Adam(this.criticVars, { lr: config.criticLr });
    this.alphaOpt = new Adam([this.logAlpha], { lr: config.alphaLr });
    this.costEnsemble = config.safe?.costCritics ?? 1;
    const K = this.costEnsemble;
    this.costCritics = costColumns.flatMap((_, i) => Array.from({ length: K }, (_, k) => createMlp(criticSpec, rng, `${prefix}/cost_critic${i}${K > 1 ? `_${k}` : ''}`)));
    this.costTargets = this.costCritics.map((c, j) => {
      const t = createMlp(criticSpec, rng, `${prefix}/cost_target${Math.floor(j / K)}${K > 1 ? `_${j % K}` : ''}`);
      copyMlp(t, c);
      return t;
    });
    this.costTargetVars = this.costTargets.flatMap(mlpVariables);
    this.costTargetParams = this.costTargetVars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
    this.costOpt = costColumns.length ? new Adam(this.costCritics.flatMap(mlpVariables), { lr: config.safe?.costLr ?? config.criticLr }) : null;
    this.lambdas = new Float64Array(costColumns.length);
  }

  get alpha(): number {
    return Math.exp(this.logAlpha.dataSync()[0] as number);
  }

  /** Critic steps on each batch, then one actor and one temperature step on the last. */
  update(batches: readonly Batch[]): SacMetrics {
    let criticLoss = 0;
    let qMean = 0;
    let costCriticLoss: number | undefined;
    for (const batch of batches) {
      ({ criticLoss, qMean } = this.criticStep(batch));
      if (this.costOpt) costCriticLoss = this.costCriticStep(batch);
    }
    const { actorLoss, logProbMean } = this.actorStep(batches[batches.length - 1] as Batch);
    if (this.config.learnAlpha) this.alphaStep(logProbMean);
    this.updates++;
    return { criticLoss, actorLoss, alpha: this.alpha, entropy: -logProbMean, qMean, ...(costCriticLoss === undefined ? {} : { costCriticLoss }) };
  }

  /**
   * Cost critics: y_c = c + γⁿ·(1 − d)·max_k Q̄_c,k(s′, a′), a′ ~ π(·|s′) (no entropy term:
   * costs are not soft); loss ½·mean (Q_c,k − y_c)² per critic. Then Polyak-average their
   * targets. The max over the K critics is clipped double-Q mirrored: the actor minimises
   * λ·Q_c, so it seeks out actions whose cost is underestimated, and an upper estimate
   * counters that (and keeps a margin where the critics disagree).
   */
  private costCriticStep(batch: Batch): number {
    const eps = this.noise(batch.size);
    const { grads, loss } = this.costCriticGradients(batch, eps);
    (this.costOpt as Adam).apply(grads);
    polyakInto(this.costTargetParams, (this.costOpt as Adam).params, this.config.tau, this.costTargetVars);
    const value = loss.dataSync()[0] as number;
    tf.dispose([...grads, loss, eps]);
    return value;
  }

  /** Cost-critic loss and gradients (cost critics' variables, in order) for given noise on s′. */
  costCriticGradients(batch: Batch, eps: tf.Tensor2D): { grads: tf.Tensor[]; loss: tf.Scalar } {
    return tf.tidy(() => {
      const B = batch.size;
      const obs = tf.tensor2d(batch.obs, [B, this.obsDim]);
      const nextObs = tf.tensor2d(batch.nextObs, [B, this.obsDim]);
      const input = tf.concat([obs, tf.tensor2d(batch.action, [B, this.actDim])], 1);
      const next = tf.concat([nextObs, this.policy(nextObs, eps).action], 1);
      const costs = tf.tensor2d(batch.costs, [B, this.costDim]);
      const discount = tf.tensor1d(this.costDiscount(batch.discount));
      const grads: tf.Tensor[] = [];
      let loss: tf.Tensor = tf.scalar(0);
      this.costColumns.forEach((col, i) => {
        const column = tf.reshape(tf.slice(costs, [0, col], [B, 1]), [-1]);
        const bootstrap = rowMax(this.costGroup(this.costTargets, i).map((t) => tf.reshape(mlpForward(t, next), [-1])));
        const y = tf.reshape(tf.add(column, tf.mul(discount, bootstrap)), [-1, 1]);
        for (const critic of this.costGroup(this.costCritics, i)) {
          const { out: q, tape } = mlpForwardTape(critic, input);
          const err = tf.sub(q, y);
          loss = tf.add(loss, tf.mul(0.5, tf.mean(tf.square(err))));
          grads.push(...mlpBackward(critic, tape, tf.div(err, B) as tf.Tensor2D, { params: true, input: false }).grads);
        }
      });
      return { grads, loss: loss as tf.Scalar };
    });
  }

  /** Constraint i's cost critics (or their targets) in `nets`. */
  private costGroup(nets: Mlp[], i: number): Mlp[] {
    return nets.slice(i * this.costEnsemble, (i + 1) * this.costEnsemble);
  }

  /**
   * The batch's bootstrap discounts γᵏ·(1 − d) for the cost critics: with `costGamma` γ_c ≠ γ
   * (1-step returns, so k = 1) γ becomes γ_c on non-terminal rows.
   */
  private costDiscount(discount: Float32Array): Float32Array {
    const gc = this.config.safe?.costGamma;
    if (gc === undefined || gc === this.config.gamma) return discount;
    return discount.map((d) => (d > 0 ? gc : 0));
  }

  /** Mean cost-critic values Q_c(s, a) = max_k Q_c,k(s, a) on a batch (for metrics), per constraint. */
  costValues(batch: Batch): number[] {
    return tf.tidy(() => {
      const input = tf.concat([tf.tensor2d(batch.obs, [batch.size, this.obsDim]), tf.tensor2d(batch.action, [batch.size, this.actDim])], 1);
      return this.costColumns.map((_, i) => tf.mean(rowMax(this.costGroup(this.costCritics, i).map((c) => tf.reshape(mlpForward(c, input), [-1])))).dataSync()[0] as number);
    });
  }

  /**
   * Critic: y = r + γⁿ·(1 − d)·(min_{i∈M} Q̄ᵢ(s′, a′) − [backup_entropy]·α·log π(a′|s′)), a′ ~ π(·|s′);
   * loss = ½ Σᵢ mean (Qᵢ(s, a) − y)² (SB3 convention), so dL/dQᵢ = (Qᵢ − y)/B.
   * Then Polyak-average the targets.
   */
  private criticStep(batch: Batch): { criticLoss: number; qMean: number } {
    const subset = sampleSubset(this.rng, this.config.critics, this.config.criticSubset);
    const eps = this.noise(batch.size);
    const { grads, loss, q0 } = this.criticGradients(batch, eps, subset, this.alpha);
    this.criticOpt.apply(grads);
    polyakInto(this.targetParams, this.criticOpt.params, this.config.tau, this.targetVars);
    const criticLoss = loss.dataSync()[0] as number;
    const qMean = q0.dataSync()[0] as number;
    tf.dispose([...grads, loss, q0, eps]);
    return { criticLoss, qMean };
  }

  /** The critic target y (shape [B]) for given noise on s′, target subset and α. */
  criticTarget(batch: Batch, eps: tf.Tensor2D, subset: readonly number[], alpha: number): tf.Tensor1D {
    return tf.tidy(() => {
      const nextObs = tf.tensor2d(batch.nextObs, [batch.size, this.obsDim]);
      const { action: a2, logProb: logp2 } = this.policy(nextObs, eps);
      const next = tf.concat([nextObs, a2], 1);
      let qNext = subset.map((i) => tf.reshape(mlpForward(this.targets[i] as Mlp, next), [-1])).reduce((m, q) => tf.minimum(m, q));
      if (this.config.backupEntropy) qNext = tf.sub(qNext, tf.mul(alpha, logp2));
      return tf.add(tf.tensor1d(batch.reward), tf.mul(tf.tensor1d(batch.discount), qNext)) as tf.Tensor1D;
    });
  }

  /** Critic loss and its gradients (critics' variables, in order) for given noise, target subset and α. */
  criticGradients(batch: Batch, eps: tf.Tensor2D, subset: readonly number[], alpha: number): { grads: tf.Tensor[]; loss: tf.Scalar; q0: tf.Scalar } {
    return tf.tidy(() => {
      const obs = tf.tensor2d(batch.obs, [batch.size, this.obsDim]);
      const action = tf.tensor2d(batch.action, [batch.size, this.actDim]);
      const y = tf.reshape(this.criticTarget(batch, eps, subset, alpha), [-1, 1]);
      const input = tf.concat([obs, action], 1);
      const grads: tf.Tensor[] = [];
      let loss: tf.Tensor = tf.scalar(0);
      let q0: tf.Tensor = tf.scalar(0);
      this.critics.forEach((critic, i) => {
        const { out: q, tape } = mlpForwardTape(critic, input);
        const err = tf.sub(q, y);
        loss = tf.add(loss, tf.mul(0.5, tf.mean(tf.square(err))));
        if (i === 0) q0 = tf.mean(q);
        grads.push(...mlpBackward(critic, tape, tf.div(err, batch.size) as tf.Tensor2D, { params: true, input: false }).grads);
      });
      return { grads, loss: loss as tf.Scalar, q0: q0 as tf.Scalar };
    });
  }

  /**
   * Actor: loss ℓ = mean(α·log π(a|s) − Q(s, a)), a = tanh(u), u = μ + σ·ε (reparameterised),
   * Q = min or mean over the ensemble. Gradients by hand (checked against autodiff in tests):
   *   ∂ℓ/∂u = (α·2a − ∂Q/∂a ⊙ (1 − a²))/B      (∂ log π/∂u = 2·tanh u, from −log(1 − tanh²u))
   *   ∂ℓ/∂μ = ∂ℓ/∂u,   ∂ℓ/∂log σ = −α/B + ∂ℓ/∂u ⊙ σ ⊙ ε
   * The critics are only differentiated with respect to their input (no weight gradients).
   */
  private actorStep(batch: Batch): { actorLoss: number; logProbMean: number } {
    const eps = this.noise(batch.size);
    const { grads, loss, logp } = this.actorGradients(batch, eps, this.alpha);
    this.actorOpt.apply(grads);
    const actorLoss = loss.dataSync()[0] as number;
    const logProbMean = logp.dataSync()[0] as number;
    tf.dispose([...grads, loss, logp, eps]);
    return { actorLoss, logProbMean };
  }

  /** Actor loss, mean log π and the actor's gradients (in `mlpVariables` order) for given noise and α. */
  actorGradients(batch: Batch, eps: tf.Tensor2D, alpha: number): { grads: tf.Tensor[]; loss: tf.Scalar; logp: tf.Scalar } {
    const B = batch.size;
    const A = this.actDim;
    return tf.tidy(() => {
      const obs = tf.tensor2d(batch.obs, [B, this.obsDim]);
      const { out, tape } = mlpForwardTape(this.actor, obs);
      const [mean, raw] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      const logStd = boundLogStd(raw, this.config.logStdMin, this.config.logStdMax);
      const { action, logProb } = squashedSample(mean, logStd, eps);
      const input = tf.concat([obs, action], 1);
      const forwards = this.critics.map((c) => mlpForwardTape(c, input));
      const qs = forwards.map((f) => tf.reshape(f.out, [-1]));
      // Weight of each critic in Q per sample: 1/E (mean) or the arg-min indicator (min).
      let weights: tf.Tensor2D[];
      let q: tf.Tensor;
      if (this.config.actorQ === 'mean') {
        q = tf.div(tf.addN(qs), qs.length);
        weights = qs.map(() => tf.fill([B, 1], 1 / qs.length) as tf.Tensor2D);
      } else {
        const stacked = tf.stack(qs, 1);
        q = tf.min(stacked, 1);
        const onehot = tf.oneHot(tf.argMin(stacked, 1), qs.length);
        weights = tf.split(onehot, qs.length, 1) as tf.Tensor2D[];
      }
      // SAC-Lagrangian: ℓ = mean(α·log π − Q + Σᵢ λᵢ·Q_cᵢ) / (1 + Σᵢ λᵢ), Q_cᵢ = max_k Q_cᵢ,k.
      const lambdaSum = this.lambdas.reduce((a, l) => a + l, 0);
      const scale = 1 / (1 + lambdaSum);
      // ∂(−Q/B + Σ λᵢ·Q_cᵢ/B)/∂a, summed over the critics through their input gradients.
      const actionGrad = (critic: Mlp, tape: ReturnType<typeof mlpForwardTape>['tape'], dq: tf.Tensor2D): tf.Tensor2D => tf.slice(mlpBackward(critic, tape, dq, { params: false, input: true }).dInput as tf.Tensor2D, [0, this.obsDim], [B, A]);
      const parts = forwards.map((f, i) => actionGrad(this.critics[i] as Mlp, f.tape, tf.mul(weights[i] as tf.Tensor2D, -1 / B) as tf.Tensor2D));
      let costQ: tf.Tensor = tf.zeros([B]);
      const K = this.costEnsemble;
      this.costColumns.forEach((_, i) => {
        const lambda = this.lambdas[i] as number;
        if (lambda === 0) return;
        const ensemble = this.costGroup(this.costCritics, i);
        const fs = ensemble.map((c) => mlpForwardTape(c, input));
        const values = fs.map((f) => tf.reshape(f.out, [-1]));
        costQ = tf.add(costQ, tf.mul(lambda, rowMax(values)));
        // The gradient flows through the arg-max critic of each sample.
        const pick = K === 1 ? [tf.ones([B, 1])] : tf.split(tf.oneHot(tf.argMax(tf.stack(values, 1), 1), K), K, 1);
        fs.forEach((f, k) => parts.push(actionGrad(ensemble[k] as Mlp, f.tape, tf.mul(pick[k] as tf.Tensor2D, lambda / B) as tf.Tensor2D)));
      });
      const dAction = tf.addN(parts);
      const du = tf.mul(tf.add(tf.mul(action, (2 * alpha) / B), tf.mul(dAction, tf.sub(1, tf.square(action)))), scale);
      const dLogStd = tf.add(-(alpha * scale) / B, tf.mul(du, tf.mul(tf.exp(logStd), eps)));
      const span = 0.5 * (this.config.logStdMax - this.config.logStdMin);
      const dRaw = tf.mul(dLogStd, tf.mul(span, tf.sub(1, tf.square(tf.tanh(raw)))));
      const dOut = tf.concat([du, dRaw], 1) as tf.Tensor2D;
      const grads = mlpBackward(this.actor, tape, dOut, { params: true, input: false }).grads;
      return { grads, loss: tf.mul(tf.mean(tf.add(tf.sub(tf.mul(alpha, logProb), q), costQ)), scale) as tf.Scalar, logp: tf.mean(logProb) as tf.Scalar };
    });
  }

  /** Temperature: loss = −log α · (E[log π] + H̄); its gradient is −(E[log π] + H̄). */
  private alphaStep(logProbMean: number): void {
    const grad = tf.scalar(-(logProbMean + this.targetEntropy));
    this.alphaOpt.apply([grad]);
    grad.dispose();
  }

  /** Squashed-Gaussian sample and log-density for a batch of observations (forward only). */
  policy(obs: tf.Tensor2D, eps: tf.Tensor2D): { action: tf.Tensor2D; logProb: tf.Tensor1D } {
    const out = mlpForward(this.actor, obs);
    const [mean, raw] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return squashedSample(mean, boundLogStd(raw, this.config.logStdMin, this.config.logStdMax), eps);
  }

  /** ε ~ N(0, I) from the learner's seeded RNG (so updates are reproducible and resumable). */
  private noise(batch: number): tf.Tensor2D {
    const n = batch * this.actDim;
    const e = new Float32Array(n);
    for (let i = 0; i < n; i++) e[i] = this.rng.normal();
    return tf.tensor2d(e, [batch, this.actDim]);
  }

  /** Deterministic (mean) actions for a batch, in [−1, 1]. */
  meanAction(obs: Float32Array, batch: number): Float32Array {
    return tf.tidy(() => {
      const out = mlpForward(this.actor, tf.tensor2d(obs, [batch, this.obsDim]));
      return tf.tanh(tf.split(out, 2, 1)[0] as tf.Tensor2D).dataSync() as Float32Array;
    });
  }

  /** The actor's current parameters as plain arrays, tagged with the update count as version. */
  snapshot(): PolicySnapshot {
    const a = this.actor;
    const read = (vs: tf.Variable[]): Float32Array[] => vs.map((v) => Float32Array.from(v.dataSync() as Float32Array));
    return {
      version: this.updates,
      weights: { spec: a.spec, w: read(a.w), b: read(a.b), lnGain: read(a.lnGain), lnBias: read(a.lnBias) },
      actDim: this.actDim,
      logStdMin: this.config.logStdMin,
      logStdMax: this.config.logStdMax,
    };
  }

  /** Every variable in a fixed order: actor, critics, targets, log α, then cost critics and their targets. */
  private allVariables(): tf.Variable[] {
    return [...mlpVariables(this.actor), ...this.criticVars, ...this.targetVars, this.logAlpha, ...this.costCritics.flatMap(mlpVariables), ...this.costTargetVars];
  }

  private optimizers(): Adam[] {
    return this.costOpt ? [this.actorOpt, this.criticOpt, this.alphaOpt, this.costOpt] : [this.actorOpt, this.criticOpt, this.alphaOpt];
  }

  /** Networks, Adam moments, counters and RNG state, as a header and binary sections. */
  exportState(): { header: Record<string, unknown>; sections: Float32Array[] } {
    const opts = this.optimizers();
    const vars = this.allVariables();
    return {
      header: {
        updates: this.updates,
        rng: this.rng.getState(),
        variables: vars.map((v) => ({ name: v.name, shape: v.shape })),
        adamSteps: opts.map((o) => o.step),
      },
      sections: [...vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)), ...opts.flatMap((o) => [...o.m, ...o.v])],
    };
  }

  /** Restores a state from {@link exportState}; shapes are checked before anything is assigned. */
  importState(header: Record<string, unknown>, sections: Uint8Array[]): void {
    const vars = this.allVariables();
    const opts = this.optimizers();
    const declared = header['variables'] as { name: string; shape: number[] }[] | undefined;
    const steps = header['adamSteps'] as number[] | undefined;
    const expectedSections = vars.length + opts.reduce((a, o) => a + 2 * o.variables.length, 0);
    if (!declared || !steps || declared.length !== vars.length || sections.length !== expectedSections) {
      throw new Error(`checkpoint holds ${declared?.length ?? 0} variables and ${sections.length} sections; this learner needs ${vars.length} and ${expectedSections}: a different network config`);
    }
    const data = sections.map(asFloat32);
    declared.forEach((d, i) => {
      const v = vars[i] as tf.Variable;
      if (d.shape.join('x') !== v.shape.join('x') || (data[i] as Float32Array).length !== v.size) throw new Error(`checkpoint variable ${d.name} has shape [${d.shape}], expected [${v.shape}]`);
    });
    vars.forEach((v, i) => writeVariable(v, data[i] as Float32Array));
    let k = vars.length;
    opts.forEach((o, n) => {
      for (const arr of [...o.m, ...o.v]) arr.set(data[k++] as Float32Array);
      o.step = steps[n] as number;
      o.syncFromVariables();
    });
    this.targetVars.forEach((v, i) => (this.targetParams[i] as Float32Array).set(v.dataSync() as Float32Array));
    this.costTargetVars.forEach((v, i) => (this.costTargetParams[i] as Float32Array).set(v.dataSync() as Float32Array));
    this.updates = header['updates'] as number;
    this.rng.setState(header['rng'] as RngState);
  }

  dispose(): void {
    [this.actor, ...this.critics, ...this.targets, ...this.costCritics, ...this.costTargets].forEach(disposeMlp);
    this.logAlpha.dispose();
  }
}

/** Per-row maximum of equally shaped [B] tensors (the tensor itself when there is one). */
function rowMax(values: tf.Tensor[]): tf.Tensor {
  return values.length === 1 ? (values[0] as tf.Tensor) : tf.max(tf.stack(values, 1), 1);
}
