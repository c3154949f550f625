import { Rng } from '../control/rng.js';
import { percentile } from '../control/running-stats.js';
import { projectOntoPolytope, type HalfSpace } from '../control/safety/projection.js';

export interface QpWorstCase {
  /**
   * The slowest input's time, ms: each draw is solved 5 times and its fastest time kept, so this
   * is the solver's worst case over the inputs, not a scheduler or GC pause of the machine
   * (those show in `rawP999Us`).
   */
  readonly qpWorstMs: number;
  /** Per case: p50 and worst (fastest of 5 per draw), raw single-run p99.9, µs, and how many were infeasible / not converged. */
  readonly qpCases: { case: string; p50Us: number; worstUs: number; rawP999Us: number; infeasible: number; notConverged: number }[];
}

/**
 * The shield QP's worst case at 7-D with 8 constraints (plus the 14 box rows): feasible sets
 * around an interior point, conflicting pairs (infeasible: least-violation path), nearly
 * parallel rows, and actions far outside the box — 2,000 draws each after a warm-up.
 */
export function qpWorstCase(trials = 2000): QpWorstCase {
  const rng = new Rng(5);
  const n = 7;
  const lower = new Array<number>(n).fill(-1);
  const upper = new Array<number>(n).fill(1);
  const vec = (scale = 1): number[] => Array.from({ length: n }, () => rng.normal() * scale);
  const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
  const cases: Record<string, () => { mu: number[]; hs: HalfSpace[] }> = {
    feasible: () => {
      const z = vec(0.3);
      return { mu: vec(), hs: Array.from({ length: 8 }, () => ((g) => ({ g, b: dot(g, z) + rng.uniform(0, 0.2) }))(vec())) };
    },
    conflicting: () => ({
      mu: vec(),
      hs: Array.from({ length: 4 }, () => {
        const g = vec();
        const c = rng.uniform(0.05, 0.5);
        return [
          { g, b: -c },
          { g: g.map((v) => -v), b: -c },
        ];
      }).flat(),
    }),
    nearlyParallel: () => {
      const g = vec();
      return { mu: vec(2), hs: Array.from({ length: 8 }, () => ({ g: g.map((v) => v + rng.normal() * 1e-6), b: rng.uniform(-0.3, 0.3) })) };
    },
    farOutside: () => {
      const z = vec(0.3);
      return { mu: vec(50), hs: Array.from({ length: 8 }, () => ((g) => ({ g, b: dot(g, z) + rng.uniform(0, 0.05) }))(vec())) };
    },
  };
  const out: QpWorstCase['qpCases'] = [];
  for (const [name, draw] of Object.entries(cases)) {
    for (let i = 0; i < 200; i++) {
      const { mu, hs } = draw();
      projectOntoPolytope(mu, hs, lower, upper);
    }
    const times: number[] = [];
    const raw: number[] = [];
    let infeasible = 0;
    let notConverged = 0;
    for (let i = 0; i < trials; i++) {
      const { mu, hs } = draw();
      let best = Infinity;
      for (let rep = 0; rep < 5; rep++) {
        const t0 = performance.now();
        const p = projectOntoPolytope(mu, hs, lower, upper);
        const us = (performance.now() - t0) * 1000;
        best = Math.min(best, us);
        raw.push(us);
        if (rep === 0 && p.infeasible) infeasible++;
        if (rep === 0 && !p.converged) notConverged++;
      }
      times.push(best);
    }
    out.push({ case: name, p50Us: percentile(times, 0.5), worstUs: percentile(times, 1), rawP999Us: percentile(raw, 0.999), infeasible, notConverged });
  }
  return { qpWorstMs: Math.max(...out.map((c) => c.worstUs)) / 1000, qpCases: out };
}
