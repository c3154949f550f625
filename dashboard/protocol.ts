/**
 * What the dashboard's server and page say to each other: the run list (`GET /api/runs`) and the
 * messages over `/ws`. Both sides check what they receive field by field — the page too, since
 * everything in it came from files on disk that anyone may have written.
 */

/** An evaluation shown in the run list. */
export interface EvalSummary {
  readonly step: number;
  readonly returnMean: number;
  readonly successRate: number;
}

/** One row of the run list. */
export interface RunRow {
  readonly id: string;
  readonly name: string;
  readonly env: string;
  readonly algo: string;
  readonly seed: number | null;
  readonly state: string;
  readonly step: number;
  readonly steps: number | null;
  readonly lastEval: EvalSummary | null;
  readonly bestEval: EvalSummary | null;
  readonly scenes: readonly string[];
  readonly teleop: boolean;
  readonly problems: readonly string[];
  /** When metrics.jsonl last changed, ms since epoch. */
  readonly updated: number;
}

/** The body of `GET /api/runs`. */
export interface RunList {
  readonly runsDir: string;
  readonly runs: readonly RunRow[];
}

/** Server → page over `/ws`. `records` and `lines` are checked where they are used. */
export type ServerMessage =
  | { readonly op: 'records'; readonly run: string; readonly reset: boolean; readonly records: readonly unknown[] }
  | { readonly op: 'problem'; readonly run?: string; readonly message: string }
  | { readonly op: 'scene-lines'; readonly run: string; readonly file: string; readonly reset: boolean; readonly lines: readonly unknown[] };

/** Page → server over `/ws`. */
export type ClientMessage = { readonly op: 'watch'; readonly runs: readonly string[] } | { readonly op: 'scene'; readonly run: string; readonly file: string } | { readonly op: 'unscene' };

/** An own field of a JSON object, or undefined. */
export function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && Object.hasOwn(o, key) ? Reflect.get(o, key) : undefined;
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

function evalSummary(v: unknown): EvalSummary | null | undefined {
  if (v === null) return null;
  const step = field(v, 'step');
  const returnMean = field(v, 'returnMean');
  const successRate = field(v, 'successRate');
  return finite(step) && finite(returnMean) && finite(successRate) ? { step, returnMean, successRate } : undefined;
}

/** A run-list row, checked; a string says what is wrong. */
export function parseRunRow(v: unknown): RunRow | string {
  const id = field(v, 'id');
  const name = field(v, 'name');
  const env = field(v, 'env');
  const algo = field(v, 'algo');
  const seed = field(v, 'seed');
  const state = field(v, 'state');
  const step = field(v, 'step');
  const steps = field(v, 'steps');
  const lastEval = evalSummary(field(v, 'lastEval'));
  const bestEval = evalSummary(field(v, 'bestEval'));
  const scenes = field(v, 'scenes');
  const teleop = field(v, 'teleop');
  const problems = field(v, 'problems');
  const updated = field(v, 'updated');
  if (typeof id !== 'string' || typeof name !== 'string' || typeof env !== 'string' || typeof algo !== 'string' || typeof state !== 'string') return 'a run without id, name, env, algo or state';
  if (!(seed === null || finite(seed)) || !finite(step) || !(steps === null || finite(steps)) || !finite(updated)) return `run ${id}: seed, step, steps or updated is not a number`;
  if (lastEval === undefined || bestEval === undefined) return `run ${id}: a malformed evaluation summary`;
  if (!strings(scenes) || !strings(problems) || typeof teleop !== 'boolean') return `run ${id}: scenes, problems or teleop malformed`;
  return { id, name, env, algo, seed, state, step, steps, lastEval, bestEval, scenes, teleop, problems, updated };
}

/** The body of `GET /api/runs`, checked: malformed rows are left out and named in `problems`. */
export function parseRunList(v: unknown): { list: RunList; problems: string[] } | string {
  const runsDir = field(v, 'runsDir');
  const runs = field(v, 'runs');
  if (typeof runsDir !== 'string' || !Array.isArray(runs)) return 'the run list is not {runsDir, runs}';
  const rows: RunRow[] = [];
  const problems: string[] = [];
  for (const r of runs) {
    const row = parseRunRow(r);
    if (typeof row === 'string') problems.push(row);
    else rows.push(row);
  }
  return { list: { runsDir, runs: rows }, problems };
}

/** A server message, checked; a string says what is wrong. */
export function parseServerMessage(v: unknown): ServerMessage | string {
  const op = field(v, 'op');
  const run = field(v, 'run');
  switch (op) {
    case 'records': {
      const records = field(v, 'records');
      if (typeof run !== 'string' || !Array.isArray(records)) return 'records: expected run and records';
      return { op, run, reset: field(v, 'reset') === true, records };
    }
    case 'problem': {
      const message = field(v, 'message');
      if (typeof message !== 'string') return 'problem: expected a message';
      return typeof run === 'string' ? { op, run, message } : { op, message };
    }
    case 'scene-lines': {
      const file = field(v, 'file');
      const lines = field(v, 'lines');
      if (typeof run !== 'string' || typeof file !== 'string' || !Array.isArray(lines)) return 'scene-lines: expected run, file and lines';
      return { op, run, file, reset: field(v, 'reset') === true, lines };
    }
    default:
      return `unknown op ${JSON.stringify(op)}`;
  }
}

/** A page message, checked (the server's side); a string says what is wrong. */
export function parseClientMessage(text: string): ClientMessage | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 60)}`;
  }
  if (typeof v !== 'object' || v === null) return 'expected a JSON object with an `op`';
  const op = field(v, 'op');
  if (op === 'watch') {
    const runs = field(v, 'runs');
    if (!strings(runs) || runs.length > 64) return 'watch: expected `runs`, an array of at most 64 run ids';
    return { op, runs };
  }
  if (op === 'scene') {
    const run = field(v, 'run');
    const file = field(v, 'file');
    if (typeof run !== 'string' || typeof file !== 'string') return 'scene: expected `run` and `file` strings';
    return { op, run, file };
  }
  if (op === 'unscene') return { op };
  return `unknown op ${JSON.stringify(op)} (expected watch, scene or unscene)`;
}
