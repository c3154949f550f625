import type { Rng } from '../../control/rng.js';
import { ObGD } from './obgd.js';
import { StreamNet, type StreamLearnerOptions } from './stream-net.js';

export interface StreamTdOptions extends StreamLearnerOptions {
  readonly obsDim: number;
  readonly kappa?: number;
}

/** Stream TD(λ): prediction of v(s) for a fixed policy, ObGD with κ = 2 (Elsayed et al. 2024). */
export class StreamTD {
  readonly net: StreamNet;
  readonly opt: ObGD;
  private readonly gamma: number;

  constructor(readonly options: StreamTdOptions, rng: Rng) {
    this.gamma = options.gamma ?? 0.99;
    this.net = new StreamNet({ input: options.obsDim, hidden: options.hidden ?? [32, 32], output: 1 });
    this.net.sparseInit(rng, options.sparsity ?? 0.9);
    this.opt = new ObGD(this.net.params, options.lr ?? 1, this.gamma, options.lambda ?? 0.8, options.kappa ?? 2);
  }

  value(s: ArrayLike<number>): number {
    return this.net.forward(s)[0] as number;
  }

  /** δ = r + γ(1 − terminated)·v(s′) − v(s); z ← γλz + ∇v(s); ObGD step. Returns δ. */
  update(s: ArrayLike<number>, r: number, sNext: ArrayLike<number>, terminated: boolean, episodeEnd: boolean): number {
    const vNext = terminated ? 0 : this.value(sNext);
    const delta = r + this.gamma * vNext - this.value(s);
    this.opt.accumulateBackward(this.net, [1]);
    this.opt.step(delta);
    if (episodeEnd) this.opt.resetTraces();
    return delta;
  }
}
