import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../experiment/errors.js';
import { parseMetrics, type MetricRecord } from '../policies/metrics-log.js';

export type { MetricRecord } from '../policies/metrics-log.js';

/** What the tools read of a run folder: its config's name, env, seed, and the parsed metrics. */
export interface RunData {
  readonly dir: string;
  readonly name: string;
  readonly env: string;
  readonly seed: number | null;
  readonly records: readonly MetricRecord[];
  /** Lines that could not be parsed (line number, why). */
  readonly badLines: readonly { line: number; error: string }[];
  /** Why config.yaml could not be read (the folder's name stands in for the run's). */
  readonly configError?: string;
}

/**
 * Run folders under `paths`: each path is a run folder (it holds metrics.jsonl) or a folder of
 * them (searched 3 levels deep). Sorted by path.
 */
export function findRunDirs(paths: readonly string[], depth = 3): string[] {
  const out = new Set<string>();
  const visit = (dir: string, left: number): void => {
    if (existsSync(join(dir, 'metrics.jsonl'))) {
      out.add(dir);
      return;
    }
    if (left === 0) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries.sort()) {
      if (e.startsWith('.') || e === 'node_modules' || e === 'checkpoints' || e === 'scenes') continue;
      const p = join(dir, e);
      try {
        if (statSync(p).isDirectory()) visit(p, left - 1);
      } catch {
        // removed while listing
      }
    }
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new UsageError(`${p}: no such run folder`);
    visit(p, depth);
  }
  return [...out].sort();
}

export function loadRun(dir: string): RunData {
  const metricsPath = join(dir, 'metrics.jsonl');
  if (!existsSync(metricsPath)) throw new UsageError(`${dir}: no metrics.jsonl (not a run folder)`);
  let text: string;
  try {
    text = readRegularFile(metricsPath);
  } catch (err) {
    throw new UsageError(`${metricsPath}: ${(err as Error).message}`);
  }
  const { records, badLines } = parseMetrics(text);
  const c = readRunConfig(dir); // without a readable config the folder's name stands in
  return { dir, name: c.name ?? basename(dir), env: c.env ?? '?', seed: c.seed ?? null, records, badLines, ...(c.error ? { configError: c.error } : {}) };
}

/**
 * A file's text, refusing what is not a regular file: a FIFO would block the read until a
 * writer came (the command hangs), a link to /dev/zero would be read until memory runs out.
 */
function readRegularFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** What the tools show of a run's config.yaml (absent fields stay absent; an unreadable file is an `error`). */
export type RunConfigFields = { name?: string; env?: string; algo?: string; seed?: number; steps?: number; error?: string };

/** What the tools show of a run's config.yaml (absent fields stay absent; an unreadable file is an `error`). */
export function readRunConfig(dir: string): RunConfigFields {
  const path = join(dir, 'config.yaml');
  if (!existsSync(path)) return {};
  try {
    return parseRunConfig(readRegularFile(path));
  } catch (err) {
    return { error: `config.yaml: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** {@link readRunConfig} on a config.yaml's text: each field kept only with its type (a file on disk is input). */
export function parseRunConfig(text: string): RunConfigFields {
  let c: unknown;
  try {
    c = parseYaml(text);
  } catch (err) {
    return { error: `config.yaml: ${(err as Error).message.split('\n')[0]}` };
  }
  const field = (o: unknown, k: string): unknown => (typeof o === 'object' && o !== null && !Array.isArray(o) && Object.hasOwn(o, k) ? Reflect.get(o, k) : undefined);
  const name = field(c, 'name');
  const env = field(field(c, 'env'), 'id');
  const algo = field(field(c, 'algo'), 'kind');
  const seed = field(c, 'seed');
  const steps = field(field(c, 'train'), 'steps');
  return {
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof env === 'string' ? { env } : {}),
    ...(typeof algo === 'string' ? { algo } : {}),
    ...(typeof seed === 'number' && Number.isSafeInteger(seed) ? { seed } : {}),
    ...(typeof steps === 'number' && Number.isSafeInteger(steps) ? { steps } : {}),
  };
}

/**
 * A metric's series (step, value) from a run's records. Names: `return` and `success` (the
 * evaluations' mean return and success rate), `cost:NAME` (evaluations' mean cost), or a dotted
 * path `TYPE.FIELD[.SUB]` into any record type (e.g. `episode.return`, `train.alpha`,
 * `episode.human.rate`).
 */
export function metricSeries(records: readonly MetricRecord[], metric: string): { step: number; value: number }[] {
  const [type, path] = resolveMetric(metric);
  const out: { step: number; value: number }[] = [];
  for (const r of records) {
    if (r.type !== type) continue;
    let v: unknown = r;
    for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ step: r.step, value: v });
    else if (typeof v === 'boolean') out.push({ step: r.step, value: v ? 1 : 0 });
  }
  return out;
}

export function resolveMetric(metric: string): [string, string[]] {
  if (metric === 'return') return ['eval', ['returnMean']];
  if (metric === 'success') return ['eval', ['successRate']];
  if (metric.startsWith('cost:')) return ['eval', ['costMeans', metric.slice(5)]];
  const parts = metric.split('.');
  if (parts.length < 2 || parts.some((p) => p === '')) throw new UsageError(`Expected --metric to be return, success, cost:NAME or TYPE.FIELD (e.g. episode.return, train.alpha), got \`${metric}\``);
  return [parts[0] as string, parts.slice(1)];
}

/** Whether larger is better for a metric (costs and losses: no). */
export function higherIsBetter(metric: string): boolean {
  return !/cost|loss|violation/i.test(metric);
}

/** The value of a metric at `step` (the last record at or before it), or at the run's end. */
export function valueAt(series: readonly { step: number; value: number }[], step: number | null): number | null {
  let v: number | null = null;
  for (const p of series) if (step === null || p.step <= step) v = p.value;
  return v;
}

/** The last step a run's records reach (how far the run got); 0 for none. */
export function lastStep(records: readonly MetricRecord[]): number {
  let last = 0;
  for (const r of records) if (r.step > last) last = r.step;
  return last;
}

/** Groups runs by config name (seeds of one method), in first-seen order. */
export function groupByName(runs: readonly RunData[]): Map<string, RunData[]> {
  const groups = new Map<string, RunData[]>();
  for (const r of runs) groups.set(r.name, [...(groups.get(r.name) ?? []), r]);
  return groups;
}

export function displayPath(dir: string): string {
  const r = relative(process.cwd(), dir);
  return r.startsWith('..') ? dir : r || '.';
}
