import { bootstrapCI, mean } from './stats.js';

/** One point of a method's curve over seeds. */
export interface CurvePoint {
  readonly step: number;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  /** Seeds with a value at this step. */
  readonly n: number;
}

/**
 * Mean and 95% bootstrap CI over seeds of one method's series. Series that share their steps
 * (evaluations) are matched step by step; others (episode returns, whose steps differ by seed)
 * are averaged per seed within `bins` equal step bins first.
 */
export function aggregate(series: readonly (readonly { step: number; value: number }[])[], bins = 60, resamples = 2000): CurvePoint[] {
  const nonEmpty = series.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) return [];
  const stepSets = nonEmpty.map((s) => s.map((p) => p.step).join(','));
  const shared = stepSets.every((k) => k === stepSets[0]) || nonEmpty.every((s) => s.length <= 200 && new Set(s.map((p) => p.step)).size === s.length && isSubsetOfLongest(nonEmpty, s));
  const byStep = new Map<number, number[]>();
  if (shared) {
    for (const s of nonEmpty) for (const p of s) byStep.set(p.step, [...(byStep.get(p.step) ?? []), p.value]);
  } else {
    const maxStep = Math.max(...nonEmpty.map((s) => s.at(-1)?.step ?? 0));
    const width = Math.max(1, maxStep / bins);
    for (const s of nonEmpty) {
      const perBin = new Map<number, number[]>();
      for (const p of s) {
        const b = Math.min(bins - 1, Math.floor(p.step / width));
        perBin.set(b, [...(perBin.get(b) ?? []), p.value]);
      }
      for (const [b, vs] of perBin) {
        const step = Math.round((b + 1) * width);
        byStep.set(step, [...(byStep.get(step) ?? []), mean(vs)]);
      }
    }
  }
  return [...byStep.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([step, vs]) => {
      const [lo, hi] = bootstrapCI(vs, { seed: step, resamples });
      return { step, mean: mean(vs), lo, hi, n: vs.length };
    });
}

/** Evaluation series of seeds that stopped early are prefixes of the longest. */
function isSubsetOfLongest(all: readonly (readonly { step: number }[])[], s: readonly { step: number }[]): boolean {
  const longest = all.reduce((a, b) => (b.length > a.length ? b : a));
  return s.every((p, i) => longest[i]?.step === p.step);
}
