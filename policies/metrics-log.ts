import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './binary-file.js';
import type { EpisodeSummary } from '../control/env.js';
import type { EvalResult } from './evaluate.js';

/** One line of metrics.jsonl. `step` is the env step the line describes. */
export type MetricsRecord = { readonly type: 'episode' | 'train' | 'eval' | 'info'; readonly step: number } & Record<string, unknown>;

/**
 * Append-only JSON-lines metrics. Each record is one `appendFileSync` of a whole line, so a
 * kill leaves at most one partial trailing line; {@link truncateAfter} drops it on resume along
 * with any records newer than the checkpoint being resumed (they will be produced again), and
 * rewrites the file atomically (a kill during the rewrite leaves the old file, never an empty one).
 */
export class MetricsLog {
  constructor(readonly path: string) {}

  write(record: MetricsRecord): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    } catch (err) {
      throw new Error(`cannot append to ${this.path} at step ${record.step}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Keeps only well-formed records with `step ≤ step`. Returns how many were dropped. */
  truncateAfter(step: number): number {
    if (!existsSync(this.path)) return 0;
    const lines = readFileSync(this.path, 'utf8').split('\n').filter((l) => l.length > 0);
    const kept = lines.filter((l) => {
      try {
        return (JSON.parse(l) as MetricsRecord).step <= step;
      } catch {
        return false;
      }
    });
    writeFileAtomic(this.path, kept.map((l) => `${l}\n`).join(''));
    return lines.length - kept.length;
  }

  read(): MetricsRecord[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as MetricsRecord];
        } catch {
          return [];
        }
      });
  }
}

/** The `episode` record every trainer writes when a training episode ends. */
export function episodeRecord(step: number, episode: number, ep: EpisodeSummary): MetricsRecord {
  return { type: 'episode', step, episode, return: ep.return, length: ep.length, success: ep.success, costs: ep.costs, ...(ep.safety ? { safety: ep.safety } : {}), ...(ep.human ? { human: ep.human } : {}) };
}

/** The `eval` record every trainer writes after a deterministic evaluation. */
export function evalRecord(step: number, e: EvalResult, extra: Record<string, number> = {}): MetricsRecord {
  return { type: 'eval', step, returnMean: e.returnMean, returnStd: e.returnStd, successRate: e.successRate, lengthMean: e.lengthMean, costMeans: e.costMeans, episodes: e.returns.length, firstSeed: e.firstSeed, ...extra };
}

/** One log line for an evaluation. */
export function describeEval(step: number, e: EvalResult): string {
  const costs = Object.entries(e.costMeans ?? {}).map(([n, c]) => `, cost ${n} ${c.toFixed(2)}`).join('');
  return `eval @${step}: return ${e.returnMean.toFixed(2)} ± ${e.returnStd.toFixed(2)}, success ${(100 * e.successRate).toFixed(0)}%${costs}`;
}
