import { field } from '../protocol.js';

/** Points kept per (run, metric): past this, older points are thinned (every other one dropped). */
export const MAX_POINTS = 10_000;
/** Metrics kept per run; more are refused (a file with a key per step would grow without end). */
export const MAX_METRICS = 200;
/** Longest metric name kept. */
export const MAX_NAME = 200;

/** Fields that are not curves. */
const SKIP = new Set(['type', 'step', 'episode', 'firstSeed', 'episodes', 'returnStd']);

export interface Points {
  readonly x: number[];
  readonly y: number[];
}

/**
 * The page's curves: run → metric (`type.field[.sub]`) → points. Records come from files on
 * disk: only a string `type`, a finite `step` and finite numbers (or a boolean `success`) become
 * points. Bounded for long live sessions: at most {@link MAX_POINTS} per curve — when a curve
 * grows past it, its points are thinned to half, evenly over the run, the newest kept — and at
 * most {@link MAX_METRICS} curves per run.
 */
export class SeriesStore {
  private readonly runs = new Map<string, Map<string, Points>>();

  /** Forgets a run's curves (its file started over, or it was unticked). */
  drop(run: string): void {
    this.runs.delete(run);
  }

  clear(): void {
    this.runs.clear();
  }

  has(run: string): boolean {
    return this.runs.has(run);
  }

  get(run: string, metric: string): Points | undefined {
    return this.runs.get(run)?.get(metric);
  }

  metrics(run: string): Iterable<string> {
    return this.runs.get(run)?.keys() ?? [];
  }

  /** Adds records to a run's curves; returns what was refused (for the problems list). */
  add(run: string, records: readonly unknown[]): string[] {
    let s = this.runs.get(run);
    if (!s) this.runs.set(run, (s = new Map()));
    const curves = s;
    const refused = new Set<string>();
    const push = (key: string, step: number, v: number): void => {
      let p = curves.get(key);
      if (!p) {
        if (key.length > MAX_NAME) return void refused.add(`a metric name of ${key.length} characters skipped`);
        if (curves.size >= MAX_METRICS) return void refused.add(`more than ${MAX_METRICS} metrics: ${key.slice(0, 80)} skipped`);
        curves.set(key, (p = { x: [], y: [] }));
      }
      p.x.push(step);
      p.y.push(v);
      if (p.x.length > MAX_POINTS) thin(p);
    };
    for (const r of records) {
      const type = field(r, 'type');
      const step = field(r, 'step');
      if (typeof type !== 'string' || typeof step !== 'number' || !Number.isFinite(step) || typeof r !== 'object' || r === null) {
        refused.add('a record without a string type and a finite step skipped');
        continue;
      }
      for (const [k, v] of Object.entries(r)) {
        if (SKIP.has(k)) continue;
        if (typeof v === 'number' && Number.isFinite(v)) push(`${type}.${k}`, step, v);
        else if (typeof v === 'boolean' && k === 'success') push(`${type}.${k}`, step, v ? 1 : 0);
        else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number' && Number.isFinite(v2)) push(`${type}.${k}.${k2}`, step, v2);
      }
    }
    return [...refused];
  }
}

/** Keeps every other point (and the newest): half the points, spread over the whole run. */
function thin(p: Points): void {
  const n = p.x.length;
  let w = 0;
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0 || i === n - 1) {
      p.x[w] = p.x[i] as number;
      p.y[w] = p.y[i] as number;
      w++;
    }
  }
  p.x.length = w;
  p.y.length = w;
}
