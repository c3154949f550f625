import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseRunConfig, type RunConfigFields } from '../analysis/runs.js';
import { parseRunStatus, statusView, type RunStatus } from '../experiment/run-status.js';
import { parseRecord } from '../policies/metrics-log.js';
import type { EvalSummary, RunRow } from './protocol.js';
import { JsonlTail, readSmallFile, type TailOptions } from './tail.js';

/** Recording file names the dashboard serves (no path separators, no markup). */
export const SCENE_FILE = /^[\w.-]+\.scene\.jsonl$/;

/** A file's identity for caching: re-read only when its size or mtime changes. */
interface Cached<T> {
  readonly key: string;
  readonly value: T;
}

interface Summary {
  readonly tail: JsonlTail;
  lastStep: number;
  lastEval: EvalSummary | null;
  bestEval: EvalSummary | null;
  badLines: number;
  problems: string[];
  config?: Cached<RunConfigFields>;
  status?: Cached<RunStatus | string | null>;
}

/**
 * The run list, read without blocking the server: folders are walked and files read with async
 * fs, a metrics file is summarised incrementally (only new bytes, in bounded reads, yielding
 * between them), config.yaml and status.json are re-read only when their size or mtime changes, and
 * concurrent requests share one refresh. Everything read is checked (`parseRunConfig`,
 * `parseRunStatus`, `parseRecord`).
 */
export class RunIndex {
  private readonly summaries = new Map<string, Summary>(); // folder → summary
  private ids = new Map<string, string>(); // run id → folder
  private rows: RunRow[] = [];
  private refreshing: Promise<RunRow[]> | null = null;
  private refreshedAt = -Infinity;

  constructor(
    readonly runsDir: string,
    private readonly tail: TailOptions = {},
    /** A list at most this old is served as it is (default 0: requests meanwhile share the refresh under way). */
    private readonly maxAgeMs = 0,
  ) {}

  /** The run list, at most `maxAgeMs` old. */
  async list(): Promise<RunRow[]> {
    if (performance.now() - this.refreshedAt < this.maxAgeMs) return this.rows;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** The folder of a run id, listing the runs first if they never were. */
  async dirOf(id: string): Promise<string | undefined> {
    if (this.refreshedAt === -Infinity) await this.list();
    return this.ids.get(id);
  }

  private async refresh(): Promise<RunRow[]> {
    const dirs = await findRunDirsAsync(this.runsDir);
    const ids = new Map<string, string>();
    const rows: RunRow[] = [];
    for (const dir of dirs) {
      const id = relative(this.runsDir, dir) || '.';
      ids.set(id, dir);
      rows.push(await this.row(id, dir));
    }
    for (const dir of this.summaries.keys()) if (!dirs.includes(dir)) this.summaries.delete(dir);
    this.ids = ids;
    this.rows = rows;
    this.refreshedAt = performance.now();
    return rows;
  }

  private async row(id: string, dir: string): Promise<RunRow> {
    let s = this.summaries.get(dir);
    if (!s) {
      s = { tail: new JsonlTail(join(dir, 'metrics.jsonl'), this.tail), lastStep: 0, lastEval: null, bestEval: null, badLines: 0, problems: [] };
      this.summaries.set(dir, s);
    }
    await summarise(s);
    const config = (s.config = await cachedRead(join(dir, 'config.yaml'), s.config, (file) => (file === null ? {} : 'problem' in file ? { error: `config.yaml: ${file.problem}` } : parseRunConfig(file.text)))).value;
    const status = (s.status = await cachedRead(join(dir, 'status.json'), s.status, (file) => (file === null ? null : 'problem' in file ? `status.json: ${file.problem}` : parseRunStatus(file.text)))).value;
    const shown = status === null || typeof status === 'string' ? null : statusView(status);
    const problems = [...s.problems, ...(s.badLines ? [`metrics.jsonl: ${s.badLines} line(s) are not records (skipped)`] : []), ...(config.error ? [config.error] : []), ...(typeof status === 'string' ? [status] : [])];
    const scenes = await readdir(join(dir, 'scenes')).then((fs) => fs.filter((f) => SCENE_FILE.test(f)).sort(), () => []);
    const updated = await stat(join(dir, 'metrics.jsonl')).then((st) => st.mtimeMs, () => 0);
    const state = shown?.state ?? (Date.now() - updated < 30_000 ? 'writing' : 'unknown');
    const teleop = state === 'running' && (await stat(join(dir, 'teleop.json')).then(() => true, () => false));
    return {
      id,
      name: config.name ?? id,
      env: config.env ?? '?',
      algo: config.algo ?? '?',
      seed: config.seed ?? null,
      state,
      step: Math.max(s.lastStep, shown?.step ?? 0),
      steps: shown?.steps ?? config.steps ?? null,
      lastEval: s.lastEval,
      bestEval: s.bestEval,
      scenes,
      teleop,
      problems,
      updated,
    };
  }
}

/** Reads the metrics lines added since the last call into the summary, yielding between reads. */
async function summarise(s: Summary): Promise<void> {
  for (;;) {
    const r = await s.tail.read();
    if (r.reset) Object.assign(s, { lastStep: 0, lastEval: null, bestEval: null, badLines: 0 });
    for (const p of r.problems) if (!s.problems.includes(p) && s.problems.length < 20) s.problems.push(p);
    for (const line of r.lines) {
      if (line.trim() === '') continue;
      const rec = parseRecord(line);
      if (typeof rec === 'string') {
        s.badLines++;
        continue;
      }
      s.lastStep = Math.max(s.lastStep, rec.step);
      const returnMean = rec['returnMean'];
      const successRate = rec['successRate'];
      if (rec.type === 'eval' && typeof returnMean === 'number' && Number.isFinite(returnMean)) {
        const e = { step: rec.step, returnMean, successRate: typeof successRate === 'number' && Number.isFinite(successRate) ? successRate : 0 };
        s.lastEval = e;
        if (!s.bestEval || e.returnMean > s.bestEval.returnMean) s.bestEval = e;
      }
    }
    if (!r.more) return;
    await yieldToLoop(); // a 32 MB file is 512 reads: the relay and the other pages go between them
  }
}

/**
 * Bytes of config.yaml or status.json read at most: train writes about 1 KB, and YAML parses at
 * roughly 50 KB/s on a loaded machine, on the thread that relays teleop commands.
 */
const MAX_SMALL_FILE = 64 * 1024;

/** A small file's parsed value, re-read only when its size or mtime changed (null: no file). */
async function cachedRead<T>(path: string, cached: Cached<T> | undefined, parse: (file: { text: string } | { problem: string } | null) => T): Promise<Cached<T>> {
  const key = await stat(path).then((st) => `${st.size}:${st.mtimeMs}:${st.ino}`, () => 'absent');
  if (cached?.key === key) return cached;
  return { key, value: parse(key === 'absent' ? null : await readSmallFile(path, MAX_SMALL_FILE)) };
}

/** Run folders (holding metrics.jsonl) under `root`, 3 levels deep, sorted: `findRunDirs` with async fs. */
export async function findRunDirsAsync(root: string, depth = 3): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, left: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.name === 'metrics.jsonl' && !e.isDirectory())) {
      out.push(dir);
      return;
    }
    if (left === 0) return;
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'checkpoints' || e.name === 'scenes') continue;
      const p = join(dir, e.name);
      // A linked run folder counts, as with findRunDirs (stat follows the link).
      if (e.isDirectory() || (e.isSymbolicLink() && (await stat(p).then((st) => st.isDirectory(), () => false)))) await visit(p, left - 1);
    }
  };
  await visit(root, depth);
  return out.sort();
}
