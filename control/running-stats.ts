/**
 * Per-dimension running mean and variance (Welford's algorithm, with Chan et al.'s parallel
 * merge for batches). Used for observation normalisation here and by the streaming learners.
 * Statistics are kept in float64 so long runs do not drift.
 */
export class RunningMeanStd {
  readonly mean: Float64Array;
  /** Sum of squared deviations from the mean (M2); variance = m2 / count. */
  private readonly m2: Float64Array;
  private n = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Expected \`size\` to be a positive integer, got \`${size}\``);
    this.mean = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }

  get count(): number {
    return this.n;
  }

  /** Adds one sample. Non-finite samples are rejected (they would poison the statistics). */
  update(x: ArrayLike<number>): void {
    if (x.length !== this.size) throw new RangeError(`Expected a sample of length ${this.size}, got ${x.length}`);
    for (let i = 0; i < this.size; i++) {
      if (!Number.isFinite(x[i] as number)) throw new RangeError(`RunningMeanStd: sample[${i}] is ${x[i]}`);
    }
    this.n += 1;
    for (let i = 0; i < this.size; i++) {
      const v = x[i] as number;
      const delta = v - (this.mean[i] as number);
      this.mean[i] = (this.mean[i] as number) + delta / this.n;
      this.m2[i] = (this.m2[i] as number) + delta * (v - (this.mean[i] as number));
    }
  }

  /** Population variance of dimension i (0 before any sample). */
  variance(i: number): number {
    return this.n > 0 ? (this.m2[i] as number) / this.n : 0;
  }

  /** Sample variance m2 / (n − 1) of dimension i; 1 until two samples were seen (stream-x's convention). */
  sampleVariance(i: number): number {
    return this.n < 2 ? 1 : (this.m2[i] as number) / (this.n - 1);
  }

  /** Writes (x − mean) / sqrt(var + eps) into `out` (default: a new array) and returns it. */
  normalize(x: ArrayLike<number>, eps = 1e-8, out = new Float32Array(this.size)): Float32Array {
    for (let i = 0; i < this.size; i++) {
      out[i] = ((x[i] as number) - (this.mean[i] as number)) / Math.sqrt(this.variance(i) + eps);
    }
    return out;
  }

  getState(): RunningMeanStdState {
    return { count: this.n, mean: Array.from(this.mean), m2: Array.from(this.m2) };
  }

  setState(state: RunningMeanStdState): void {
    if (state.mean.length !== this.size || state.m2.length !== this.size || !(state.count >= 0)) {
      throw new RangeError(`RunningMeanStd state does not match size ${this.size}`);
    }
    this.n = state.count;
    this.mean.set(state.mean);
    this.m2.set(state.m2);
  }
}

export interface RunningMeanStdState {
  readonly count: number;
  readonly mean: readonly number[];
  readonly m2: readonly number[];
}

/** The p-quantile (0 ≤ p ≤ 1, nearest rank) of `xs`; 0 for an empty list. Does not modify `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}
