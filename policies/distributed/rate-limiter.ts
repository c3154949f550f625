/**
 * A sample-to-insert ratio limiter, as Reverb's `SampleToInsertRatio`: the learner may sample
 * only while `inserts · samplesPerInsert − samples` stays above `minSize · samplesPerInsert −
 * errorBuffer`, and actors may insert only while it stays below `minSize · samplesPerInsert +
 * errorBuffer`. So the update-to-data ratio holds whatever the number and speed of actors: fast
 * actors wait for the learner, a fast learner waits for data. Nothing samples before
 * `minSize` inserts. Counts are in transitions (a batch of 256 is 256 samples).
 */
export interface RateLimiterOptions {
  /** Sampled transitions per inserted transition (batch size × updates per env step). */
  readonly samplesPerInsert: number;
  /** Inserts before the first sample (the warm-up). */
  readonly minSize: number;
  /** How far (in samples) the ratio may drift either way before one side waits. */
  readonly errorBuffer: number;
}

export class RateLimiter {
  private inserts = 0;
  private samples = 0;
  private readonly minDiff: number;
  private readonly maxDiff: number;
  /** Times each side was told to wait. */
  readonly stalls = { insert: 0, sample: 0 };

  constructor(readonly options: RateLimiterOptions) {
    const { samplesPerInsert: spi, minSize, errorBuffer } = options;
    if (!(spi > 0 && Number.isFinite(spi))) throw new RangeError(`Expected \`samplesPerInsert\` to be a positive finite number, got \`${spi}\``);
    if (!(Number.isInteger(minSize) && minSize >= 1)) throw new RangeError(`Expected \`minSize\` to be a positive integer, got \`${minSize}\``);
    if (!(errorBuffer >= spi && Number.isFinite(errorBuffer))) throw new RangeError(`Expected \`errorBuffer\` to be a finite number ≥ samplesPerInsert (${spi}), got \`${errorBuffer}\` (a smaller one deadlocks)`);
    this.minDiff = minSize * spi - errorBuffer;
    this.maxDiff = minSize * spi + errorBuffer;
  }

  private diff(inserts = this.inserts, samples = this.samples): number {
    return inserts * this.options.samplesPerInsert - samples;
  }

  /**
   * The insert-side check as a total: the most transitions that may have been inserted by now
   * (at least `minSize`, so the warm-up is never held back). The distributed learner publishes
   * it as the actors' window; {@link canInsert} is the same check.
   */
  insertLimit(): number {
    const { samplesPerInsert: spi, minSize } = this.options;
    return Math.max(minSize, Math.floor((this.samples + this.maxDiff) / spi + 1e-9));
  }

  /** Whether `n` more transitions may be inserted now (without counting a stall). */
  wouldInsert(n = 1): boolean {
    return this.inserts < this.options.minSize || this.inserts + n <= this.insertLimit();
  }

  /** Whether `n` transitions may be sampled now (without counting a stall). */
  wouldSample(n: number): boolean {
    return this.inserts >= this.options.minSize && this.diff(this.inserts, this.samples + n) >= this.minDiff;
  }

  /** {@link wouldInsert}, counting a stall when not: call it once per insert attempt. */
  canInsert(n = 1): boolean {
    const ok = this.wouldInsert(n);
    if (!ok) this.stalls.insert++;
    return ok;
  }

  /** {@link wouldSample}, counting a stall when not: call it once per sample attempt. */
  canSample(n: number): boolean {
    const ok = this.wouldSample(n);
    if (!ok) this.stalls.sample++;
    return ok;
  }

  inserted(n: number): void {
    this.inserts += n;
  }

  sampled(n: number): void {
    this.samples += n;
  }

  /** Samples per insert so far, past the warm-up (the quantity the limiter holds). */
  ratio(): number {
    const after = this.inserts - this.options.minSize;
    return after > 0 ? this.samples / after : 0;
  }

  state(): { inserts: number; samples: number } {
    return { inserts: this.inserts, samples: this.samples };
  }

  restore(s: { inserts: number; samples: number }): void {
    this.inserts = s.inserts;
    this.samples = s.samples;
  }
}

/**
 * The window actors are always left, in transitions, whatever state the learner is in: during
 * the warm-up it is `errorBufferInserts + 1` (the limit is `minSize + errorBufferInserts` and the
 * learner cannot sample below `minSize`); afterwards, a learner that cannot sample has left at
 * least ⌊2·errorBufferInserts − rowsPerLearn / samplesPerInsert⌋. A batch larger than this can
 * wait for room that never comes (the learner waits for its data): configs must send smaller
 * batches.
 */
export function guaranteedWindow(o: { readonly samplesPerInsert: number; readonly errorBufferInserts: number; readonly rowsPerLearn: number }): number {
  return Math.min(o.errorBufferInserts + 1, Math.floor(2 * o.errorBufferInserts - o.rowsPerLearn / o.samplesPerInsert + 1e-9));
}
