import type { Rng } from '../../control/rng.js';
import { ObGD } from './obgd.js';
import { StreamNet, type StreamLearnerOptions } from './stream-net.js';

export interface StreamQOptions extends StreamLearnerOptions {
  readonly obsDim: number;
  readonly actions: number;
  /** ObGD κ. Default 2. */
  readonly kappa?: number;
}

/**
 * Stream Q(λ) (Elsayed et al. 2024, Alg. 5) with Watkins-style trace cutting:
 *
 *   δ = r + γ(1 − terminated)·maxₐ′ Q(s′, a′) − Q(s, a),   z ← γλ z + ∇Q(s, a),   θ ← ObGD(z, δ, κ = 2)
 *
 * Trace-cut timing — a deliberate choice. The reference code clears the traces *after* the
 * update of a step whose action was non-greedy, so that step's δ still flows to earlier pairs.
 * We cut *before* adding that step's gradient, as in Sutton & Barto (§12.10): the greedy λ-return
 * of an earlier pair stops at the first exploratory action, so δ_t of a non-greedy a_t must not
 * reach it, while (s_t, a_t) itself keeps receiving credit from later greedy steps.
 */
export class StreamQ {
  readonly net: StreamNet;
  readonly opt: ObGD;
  private readonly gamma: number;
  private readonly dOut: Float64Array;

  constructor(readonly options: StreamQOptions, rng: Rng) {
    this.gamma = options.gamma ?? 0.99;
    this.net = new StreamNet({ input: options.obsDim, hidden: options.hidden ?? [32, 32], output: options.actions });
    this.net.sparseInit(rng, options.sparsity ?? 0.9);
    this.opt = new ObGD(this.net.params, options.lr ?? 1, this.gamma, options.lambda ?? 0.8, options.kappa ?? 2);
    this.dOut = new Float64Array(options.actions);
  }

  /** ε-greedy action; `greedy` says whether it was the arg-max. */
  act(s: ArrayLike<number>, epsilon: number, rng: Rng): { action: number; greedy: boolean } {
    const best = argmax(this.net.forward(s));
    if (rng.random() < epsilon) {
      const action = rng.int(this.options.actions);
      return { action, greedy: action === best };
    }
    return { action: best, greedy: true };
  }

  /** One Stream Q(λ) update; returns δ. */
  update(s: ArrayLike<number>, a: number, r: number, sNext: ArrayLike<number>, terminated: boolean, episodeEnd: boolean, greedy: boolean): number {
    if (!greedy) this.opt.resetTraces();
    const qNext = terminated ? 0 : max(this.net.forward(sNext));
    const q = this.net.forward(s)[a] as number;
    const delta = r + this.gamma * qNext - q;
    this.dOut.fill(0);
    this.dOut[a] = 1;
    this.opt.accumulateBackward(this.net, this.dOut);
    this.opt.step(delta);
    if (episodeEnd) this.opt.resetTraces();
    return delta;
  }
}

/** ε for step t: linear from `start` to `end` over the first `fraction` of `total` steps. */
export function linearEpsilon(t: number, total: number, fraction = 0.05, start = 1, end = 0.01): number {
  const horizon = Math.max(1, fraction * total);
  return t >= horizon ? end : start + (end - start) * (t / horizon);
}

function argmax(x: Float64Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if ((x[i] as number) > (x[best] as number)) best = i;
  return best;
}

function max(x: Float64Array): number {
  return x[argmax(x)] as number;
}
