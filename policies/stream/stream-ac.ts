import type { Rng } from '../../control/rng.js';
import { ObGD } from './obgd.js';
import { StreamNet, type StreamLearnerOptions } from './stream-net.js';

export interface StreamAcOptions extends StreamLearnerOptions {
  readonly obsDim: number;
  readonly actDim: number;
  /** ObGD κ for the policy (default 3) and the value function (default 2). */
  readonly kappaPolicy?: number;
  readonly kappaValue?: number;
  /** Entropy coefficient η. Default 0.01. */
  readonly entropyCoef?: number;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const ONE = Float64Array.of(1);

/**
 * Stream AC(λ) (Elsayed, Vasan & Mahmood 2024, Alg. 4): Gaussian policy a ~ N(μ(s), σ(s)),
 * σ = softplus(·), and a value function, both updated from every transition with ObGD:
 *
 *   δ   = r + γ(1 − terminated)·v(s′) − v(s)
 *   z_w ← γλ z_w + ∇_w v(s)                                   (κ = 2)
 *   z_θ ← γλ z_θ + ∇_θ log π(a|s) + η·sign(δ)·∇_θ H(π(·|s))    (κ = 3)
 *
 * both with the same pre-update δ; traces cleared when an episode ends. Inputs must already
 * be normalised (the trainer does it). log π uses the unclipped sample; the env clips.
 */
export class StreamAC {
  readonly actor: StreamNet;
  readonly critic: StreamNet;
  readonly policyOpt: ObGD;
  readonly valueOpt: ObGD;
  private readonly gamma: number;
  private readonly entropyCoef: number;
  private readonly gradPi: Float64Array;
  private readonly dOut: Float64Array;
  private readonly action: Float32Array;

  constructor(readonly options: StreamAcOptions, rng: Rng) {
    const hidden = options.hidden ?? [128, 128];
    this.gamma = options.gamma ?? 0.99;
    this.entropyCoef = options.entropyCoef ?? 0.01;
    this.actor = new StreamNet({ input: options.obsDim, hidden, output: 2 * options.actDim });
    this.critic = new StreamNet({ input: options.obsDim, hidden, output: 1 });
    this.actor.sparseInit(rng, options.sparsity ?? 0.9);
    this.critic.sparseInit(rng, options.sparsity ?? 0.9);
    const lambda = options.lambda ?? 0.8;
    const lr = options.lr ?? 1;
    this.policyOpt = new ObGD(this.actor.params, lr, this.gamma, lambda, options.kappaPolicy ?? 3);
    this.valueOpt = new ObGD(this.critic.params, lr, this.gamma, lambda, options.kappaValue ?? 2);
    this.gradPi = new Float64Array(this.actor.size);
    this.dOut = new Float64Array(2 * options.actDim);
    this.action = new Float32Array(options.actDim);
  }

  /** Samples a ~ N(μ(s), σ(s)) (or returns μ when `deterministic`). A fresh array. */
  act(s: ArrayLike<number>, rng: Rng, deterministic = false): Float32Array {
    const out = this.actor.forward(s);
    const A = this.options.actDim;
    for (let i = 0; i < A; i++) {
      const mu = out[i] as number;
      this.action[i] = deterministic ? mu : mu + softplus(out[A + i] as number) * rng.normal();
    }
    return this.action.slice();
  }

  /** One Stream AC(λ) update from (s, a, r, s′); returns δ. */
  update(s: ArrayLike<number>, a: ArrayLike<number>, r: number, sNext: ArrayLike<number>, terminated: boolean, episodeEnd: boolean): number {
    const vNext = terminated ? 0 : (this.critic.forward(sNext)[0] as number);
    const v = this.critic.forward(s)[0] as number;
    const delta = r + this.gamma * vNext - v;
    this.valueOpt.accumulateBackward(this.critic, ONE);
    this.policyOpt.accumulateBackward(this.actor, this.policyOutputGradient(s, a, Math.sign(delta)));
    this.policyOpt.step(delta);
    this.valueOpt.step(delta);
    if (episodeEnd) {
      this.policyOpt.resetTraces();
      this.valueOpt.resetTraces();
    }
    return delta;
  }

  /**
   * ∇_θ [log π(a|s) + η·sign(δ)·H(π(·|s))] into gradPi. Per dimension, with σ = softplus(ρ):
   *   ∂/∂μ = (a − μ)/σ²,   ∂/∂σ = (a − μ)²/σ³ − 1/σ + η·sign(δ)/σ,   ∂σ/∂ρ = sigmoid(ρ).
   */
  policyGradient(s: ArrayLike<number>, a: ArrayLike<number>, signDelta: number): void {
    this.actor.backward(this.policyOutputGradient(s, a, signDelta), this.gradPi);
  }

  /** ∂[log π + η·sign(δ)·H]/∂(actor output) at s (runs the actor forward on s). */
  private policyOutputGradient(s: ArrayLike<number>, a: ArrayLike<number>, signDelta: number): Float64Array {
    const out = this.actor.forward(s);
    const A = this.options.actDim;
    for (let i = 0; i < A; i++) {
      const mu = out[i] as number;
      const rho = out[A + i] as number;
      const sigma = softplus(rho);
      const diff = (a[i] as number) - mu;
      this.dOut[i] = diff / (sigma * sigma);
      const dSigma = (diff * diff) / (sigma * sigma * sigma) - 1 / sigma + (this.entropyCoef * signDelta) / sigma;
      this.dOut[A + i] = dSigma * sigmoid(rho);
    }
    return this.dOut;
  }

  /** log π(a|s) under the current policy (tests, diagnostics). */
  logProb(s: ArrayLike<number>, a: ArrayLike<number>): number {
    const out = this.actor.forward(s);
    const A = this.options.actDim;
    let lp = 0;
    for (let i = 0; i < A; i++) {
      const sigma = softplus(out[A + i] as number);
      const z = ((a[i] as number) - (out[i] as number)) / sigma;
      lp += -0.5 * z * z - Math.log(sigma) - HALF_LOG_2PI;
    }
    return lp;
  }
}

/** log(1 + eˣ), stable for large |x|; floored at 1e-6 so σ never reaches 0. */
export function softplus(x: number): number {
  return Math.max(x > 20 ? x : Math.log1p(Math.exp(x)), 1e-6);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
