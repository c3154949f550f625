import { Rng } from '../control/rng.js';

/**
 * Statistics for comparing runs over seeds: means with percentile-bootstrap confidence
 * intervals (for curves) and AdaStop's sequential permutation test (for decisions). Pure
 * functions: the CLI, the plot and the dashboard's page use the same code.
 */

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/**
 * Interquartile mean (rliable, Agarwal et al. 2021): the mean after dropping ⌊n/4⌋ values at
 * each end (scipy's trim_mean(x, 0.25)) — robust to a seed that diverged, less noisy than the median.
 */
export function iqm(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length / 4);
  return mean(sorted.slice(cut, sorted.length - cut));
}

/**
 * Percentile-bootstrap confidence interval of the mean: resample the values with replacement
 * `resamples` times, take the (1 − level)/2 and (1 + level)/2 quantiles of the resampled means.
 * Seeded, so a figure redraws identically. One value gives [x, x].
 */
export function bootstrapCI(xs: readonly number[], options: { level?: number; resamples?: number; seed?: number } = {}): [number, number] {
  const n = xs.length;
  if (n === 0) return [NaN, NaN];
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 2000;
  const rng = new Rng(options.seed ?? 0);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[rng.int(n)] as number;
    means[r] = s / n;
  }
  means.sort();
  const at = (q: number): number => means[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))] as number;
  return [at((1 - level) / 2), at((1 + level) / 2)];
}

export interface AdaStopOptions {
  /** Seeds per agent at each interim. Default 5. */
  readonly n?: number;
  /** Largest number of interims (at most n·K seeds per agent). Default 5. */
  readonly K?: number;
  /** Random permutations approximating the permutation distribution. Default 10 000. */
  readonly B?: number;
  /** Family-wise error: the chance of declaring a difference between equal agents. Default 0.05. */
  readonly alpha?: number;
  /** Whether a larger value is better (returns) or worse (costs). Default true. */
  readonly higherIsBetter?: boolean;
  readonly seed?: number;
}

export interface AdaStopInterim {
  readonly interim: number;
  /** Seeds per agent used so far. */
  readonly seeds: number;
  /** |Σ over interims of the per-interim mean differences| (A − B). */
  readonly statistic: number;
  /** Reject above this (Infinity when the level left cannot reject yet). */
  readonly boundary: number;
  readonly levelSpent: number;
}

export interface AdaStopResult {
  readonly decision: 'A better' | 'B better' | 'not different' | 'need more seeds';
  readonly interims: readonly AdaStopInterim[];
  /** Seeds per agent the decision used. */
  readonly seedsUsed: number;
  /** With `need more seeds`: how many more per agent the next interim needs, and the most it may take in all. */
  readonly next?: { readonly more: number; readonly upTo: number };
  readonly meanA: number;
  readonly meanB: number;
  readonly options: Required<AdaStopOptions>;
}

/**
 * AdaStop (Mathieu et al., 2023) for two agents: a group-sequential permutation test. Seeds
 * come in interims of n per agent; at interim k (of at most K) the statistic is
 * |Σⱼ≤ₖ (mean Aⱼ − mean Bⱼ)|, compared to a boundary from the permutation distribution (labels
 * permuted within each interim's block), conditioned on not having rejected at earlier interims,
 * with the error spent linearly: α·k/K by interim k. It rejects (the agents differ) as soon as the
 * evidence allows, decides `not different` after K interims, and otherwise asks for another n seeds.
 * The reference implementation compares the absolute statistic against the signed permutation
 * distribution; this one uses the absolute value on both sides (a two-sided test at level α).
 */
export function adaStop(a: readonly number[], b: readonly number[], options: AdaStopOptions = {}): AdaStopResult {
  const o: Required<AdaStopOptions> = { n: options.n ?? 5, K: options.K ?? 5, B: options.B ?? 10_000, alpha: options.alpha ?? 0.05, higherIsBetter: options.higherIsBetter ?? true, seed: options.seed ?? 0 };
  for (const [k, v] of [['n', o.n], ['K', o.K], ['B', o.B]] as const) if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`AdaStop: ${k} must be a positive integer, got ${v}`);
  if (!(o.alpha > 0 && o.alpha < 1)) throw new RangeError(`AdaStop: alpha must be in (0, 1), got ${o.alpha}`);
  for (const [name, xs] of [['A', a], ['B', b]] as const) {
    const bad = xs.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new RangeError(`AdaStop: agent ${name}'s value ${bad} is ${xs[bad]}; every seed needs a finite score`);
  }
  const { n, K, B, alpha } = o;
  const rng = new Rng(o.seed);
  const available = Math.min(Math.floor(a.length / n), Math.floor(b.length / n), K);
  const stats = new Float64Array(B); // Σ block mean differences per permutation (index 0: the observed labels)
  const alive = new Uint8Array(B).fill(1);
  const idx = new Int32Array(2 * n);
  const z = new Float64Array(2 * n);
  const interims: AdaStopInterim[] = [];
  let levelSpent = 0;
  for (let k = 0; k < available; k++) {
    for (let i = 0; i < n; i++) {
      z[i] = a[k * n + i] as number;
      z[n + i] = b[k * n + i] as number;
    }
    let total = 0;
    for (const x of z) total += x;
    for (let p = 0; p < B; p++) {
      if (!alive[p]) continue;
      let sumA = 0;
      if (p === 0) for (let i = 0; i < n; i++) sumA += z[i] as number;
      else {
        // n of the 2n indices, by a partial Fisher–Yates shuffle.
        for (let i = 0; i < 2 * n; i++) idx[i] = i;
        for (let i = 0; i < n; i++) {
          const j = i + rng.int(2 * n - i);
          const t = idx[i] as number;
          idx[i] = idx[j] as number;
          idx[j] = t;
          sumA += z[idx[i] as number] as number;
        }
      }
      stats[p] = (stats[p] as number) + sumA / n - (total - sumA) / n;
    }
    const statistic = Math.abs(stats[0] as number);
    // Smallest boundary b with levelSpent + P(|T| > b, not rejected before) < α·(k+1)/K.
    const values: number[] = [];
    for (let p = 0; p < B; p++) if (alive[p]) values.push(Math.abs(stats[p] as number));
    values.sort((x, y) => x - y);
    const level = (alpha * (k + 1)) / K;
    let boundary = Infinity;
    let add = 0;
    for (let i = 0; i < values.length; i++) {
      let j = i;
      while (j + 1 < values.length && values[j + 1] === values[i]) j++;
      const above = (values.length - 1 - j) / B;
      if (levelSpent + above < level) {
        boundary = values[i] as number;
        add = above;
        break;
      }
      i = j;
    }
    levelSpent += add;
    interims.push({ interim: k + 1, seeds: (k + 1) * n, statistic, boundary, levelSpent });
    if (statistic > boundary) {
      const aLarger = (stats[0] as number) > 0;
      return finish(aLarger === o.higherIsBetter ? 'A better' : 'B better', (k + 1) * n);
    }
    for (let p = 0; p < B; p++) if (alive[p] && Math.abs(stats[p] as number) > boundary) alive[p] = 0;
  }
  if (available === K) return finish('not different', K * n);
  return { ...finish('need more seeds', available * n), next: { more: (available + 1) * n - Math.min(a.length, b.length), upTo: n * K } };

  function finish(decision: AdaStopResult['decision'], seeds: number): AdaStopResult {
    // Means over the seeds the decision used (all there are when none could be used yet).
    const used = seeds > 0 ? seeds : undefined;
    return { decision, interims, seedsUsed: seeds, meanA: mean(a.slice(0, used)), meanB: mean(b.slice(0, used)), options: o };
  }
}
