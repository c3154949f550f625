/**
 * Running mean and sample variance (Welford), as stream-x's SampleMeanStd: the variance is
 * p / (n − 1), and 1 until two samples have been seen.
 */
export class SampleMeanStd {
  readonly mean: Float64Array;
  readonly p: Float64Array;
  count = 0;

  constructor(readonly size: number) {
    this.mean = new Float64Array(size);
    this.p = new Float64Array(size);
  }

  update(x: ArrayLike<number>): void {
    this.count++;
    for (let i = 0; i < this.size; i++) {
      const v = x[i] as number;
      const old = this.mean[i] as number;
      const mean = old + (v - old) / this.count;
      this.mean[i] = mean;
      this.p[i] = (this.p[i] as number) + (v - old) * (v - mean);
    }
  }

  variance(i: number): number {
    return this.count < 2 ? 1 : (this.p[i] as number) / (this.count - 1);
  }

  getState(): { count: number; mean: number[]; p: number[] } {
    return { count: this.count, mean: Array.from(this.mean), p: Array.from(this.p) };
  }

  setState(s: { count: number; mean: readonly number[]; p: readonly number[] }): void {
    if (s.mean.length !== this.size || s.p.length !== this.size) throw new RangeError(`normaliser state has size ${s.mean.length}, expected ${this.size}`);
    this.count = s.count;
    this.mean.set(s.mean);
    this.p.set(s.p);
  }
}

/**
 * Observation normalisation as in stream-x: update with the sample first, then
 * (x − μ)/√(σ² + 1e-8), no clipping.
 */
export class ObservationNormalizer {
  readonly stats: SampleMeanStd;
  private readonly out: Float64Array;

  constructor(size: number) {
    this.stats = new SampleMeanStd(size);
    this.out = new Float64Array(size);
  }

  /** Updates the statistics with `x` (unless frozen) and returns the normalised observation (a view). */
  normalize(x: ArrayLike<number>, update = true): Float64Array {
    if (update) this.stats.update(x);
    for (let i = 0; i < this.stats.size; i++) this.out[i] = ((x[i] as number) - (this.stats.mean[i] as number)) / Math.sqrt(this.stats.variance(i) + 1e-8);
    return this.out;
  }
}

/**
 * Reward scaling by the running standard deviation of the discounted return (stream-x's
 * ScaleReward): G ← γ·(1 − done)·G + r with `done` of the current step (as the reference code),
 * r̃ = r / √(var(G) + 1e-8), without mean subtraction.
 */
export class RewardScaler {
  readonly stats = new SampleMeanStd(1);
  private g = 0;

  constructor(readonly gamma: number) {}

  scale(r: number, done: boolean): number {
    this.g = this.gamma * (done ? 0 : 1) * this.g + r;
    this.stats.update([this.g]);
    return r / Math.sqrt(this.stats.variance(0) + 1e-8);
  }

  getState(): { g: number; stats: ReturnType<SampleMeanStd['getState']> } {
    return { g: this.g, stats: this.stats.getState() };
  }

  setState(s: { g: number; stats: Parameters<SampleMeanStd['setState']>[0] }): void {
    this.g = s.g;
    this.stats.setState(s.stats);
  }
}
