import { RunningMeanStd, type RunningMeanStdState } from '../../control/running-stats.js';

/**
 * Observation normalisation as in stream-x: update with the sample first, then
 * (x − μ)/√(σ² + 1e-8) with the sample variance (1 until two samples), no clipping.
 */
export class ObservationNormalizer {
  readonly stats: RunningMeanStd;
  private readonly out: Float64Array;

  constructor(size: number) {
    this.stats = new RunningMeanStd(size);
    this.out = new Float64Array(size);
  }

  /** Updates the statistics with `x` (unless frozen) and returns the normalised observation (a view). */
  normalize(x: ArrayLike<number>, update = true): Float64Array {
    if (update) this.stats.update(x);
    for (let i = 0; i < this.stats.size; i++) this.out[i] = ((x[i] as number) - (this.stats.mean[i] as number)) / Math.sqrt(this.stats.sampleVariance(i) + 1e-8);
    return this.out;
  }
}

/**
 * Reward scaling by the running standard deviation of the discounted return (stream-x's
 * ScaleReward): G ← γ·(1 − done)·G + r with `done` of the current step (as the reference code),
 * r̃ = r / √(var(G) + 1e-8), without mean subtraction.
 */
export class RewardScaler {
  readonly stats = new RunningMeanStd(1);
  private g = 0;

  constructor(readonly gamma: number) {}

  scale(r: number, done: boolean): number {
    this.g = this.gamma * (done ? 0 : 1) * this.g + r;
    this.stats.update([this.g]);
    return r / Math.sqrt(this.stats.sampleVariance(0) + 1e-8);
  }

  getState(): { g: number; stats: RunningMeanStdState } {
    return { g: this.g, stats: this.stats.getState() };
  }

  setState(s: { g: number; stats: RunningMeanStdState }): void {
    this.g = s.g;
    this.stats.setState(s.stats);
  }
}
