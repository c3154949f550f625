import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './binary-file.js';
import type { EpisodeSummary } from '../control/env.js';
import type { EvalResult } from './evaluate.js';

/** One line of metrics.jsonl. `step` is the env step the line describes. */
export type MetricsRecord = { readonly type: 'episode' | 'train' | 'eval' | 'info'; readonly step: number } & Record<string, unknown>;

/** A line of metrics.jsonl as a reader finds it (any `type`: other tools may add their own). */
export type MetricRecord = { readonly type: string; readonly step: number } & Record<string, unknown>;

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

  /** The well-formed records (a killed run's torn last line and corrupt lines are skipped). */
  read(): MetricsRecord[] {
    if (!existsSync(this.path)) return [];
    return parseMetrics(readFileSync(this.path, 'utf8')).records as MetricsRecord[];
  }
}

/** Parses metrics.jsonl text: records, and the lines that are not records (a killed run's torn last line, corruption). */
export function parseMetrics(text: string, firstLine = 1): { records: MetricRecord[]; badLines: { line: number; error: string }[] } {
  const records: MetricRecord[] = [];
  const badLines: { line: number; error: string }[] = [];
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    const r = parseRecord(l);
    if (typeof r === 'string') badLines.push({ line: firstLine + i, error: r });
    else records.push(r);
  });
  return { records, badLines };
}

/** One metrics line as a record, or why it is not one. */
export function parseRecord(line: string): MetricRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return `not JSON (${(e as Error).message}): ${line.slice(0, 80)}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `not a record: ${line.slice(0, 80)}`;
  const r = v as Record<string, unknown>;
  if (typeof r['type'] !== 'string' || typeof r['step'] !== 'number' || !Number.isFinite(r['step'])) return `a record needs a string "type" and a finite "step": ${line.slice(0, 80)}`;
  return r as MetricRecord;
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
