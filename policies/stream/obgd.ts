/**
 * Overshooting-bounded gradient descent (ObGD; Elsayed, Vasan & Mahmood 2024, Alg. 3) for one
 * network, with eligibility traces:
 *
 *   e ← γλ·e + g                      (g: gradient of v̂, of log π + entropy term, or of q̂)
 *   z = ‖e‖₁,  δ̄ = max(|δ|, 1),  M = α·κ·δ̄·z
 *   α′ = α / max(M, 1)
 *   θ ← θ + α′·δ·e
 *
 * The step size shrinks exactly when the update could overshoot the TD target. Traces are
 * cleared at episode ends ({@link resetTraces}).
 */
export class ObGD {
  readonly traces: Float64Array;
  /** ‖e‖₁ after the last accumulation. */
  private traceNorm = 0;

  constructor(
    readonly params: Float64Array,
    readonly lr = 1,
    readonly gamma = 0.99,
    readonly lambda = 0.8,
    readonly kappa = 2,
  ) {
    this.traces = new Float64Array(params.length);
  }

  /** Decays the traces and adds `grad`. */
  accumulate(grad: Float64Array): void {
    const decay = this.gamma * this.lambda;
    const e = this.traces;
    let z = 0;
    for (let i = 0; i < e.length; i++) {
      const v = decay * (e[i] as number) + (grad[i] as number);
      e[i] = v;
      z += Math.abs(v);
    }
    this.traceNorm = z;
  }

  /**
   * Decays the traces and adds ∇ of Σ dOut·net(x) in one fused backward pass (see
   * StreamNet.backwardAccumulate); `net` must be the network these parameters belong to, after
   * its forward pass on x.
   */
  accumulateBackward(net: { backwardAccumulate(dOut: ArrayLike<number>, trace: Float64Array, decay: number): number }, dOut: ArrayLike<number>): void {
    this.traceNorm = net.backwardAccumulate(dOut, this.traces, this.gamma * this.lambda);
  }

  /** Applies the bounded step for TD error `delta`; returns the effective step size α′. */
  step(delta: number): number {
    const e = this.traces;
    const z = this.traceNorm;
    const m = this.lr * this.kappa * Math.max(Math.abs(delta), 1) * z;
    const alpha = this.lr / Math.max(m, 1);
    const s = alpha * delta;
    const p = this.params;
    for (let i = 0; i < p.length; i++) p[i] = (p[i] as number) + s * (e[i] as number);
    return alpha;
  }

  resetTraces(): void {
    this.traces.fill(0);
    this.traceNorm = 0;
  }
}
