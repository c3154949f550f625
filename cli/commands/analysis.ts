import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { aggregate } from '../../analysis/curves.js';
import { curvesSpec, renderSvg, svgToPng } from '../../analysis/plot.js';
import { displayPath, findRunDirs, groupByName, higherIsBetter, lastStep, loadRun, metricSeries, resolveMetric, valueAt, type RunData } from '../../analysis/runs.js';
import { adaStop, bootstrapCI, iqm, mean } from '../../analysis/stats.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';

const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** Loads the runs under `paths`, telling the user about lines it skipped. */
function loadRuns(paths: readonly string[]): RunData[] {
  const runs = findRunDirs(paths).map(loadRun);
  for (const r of runs) {
    if (r.configError) log(`${displayPath(r.dir)}: ${r.configError}; named by its folder`);
    for (const b of r.badLines.slice(0, 3)) log(`${displayPath(r.dir)}/metrics.jsonl line ${b.line} skipped: ${b.error}`);
  }
  return runs;
}

/** `roborl plot <runs…> --metric M --out FIG.svg|png`. */
export async function plotCommand(args: Args): Promise<void> {
  allowFlags(args, 'plot', ['metric', 'out', 'title']);
  const out = stringFlag(args, 'out');
  if (args.positionals.length === 0 || !out) throw new UsageError(USAGE.plot);
  const format = extname(out).toLowerCase();
  if (format !== '.svg' && format !== '.png') throw new UsageError(`--out must end in .svg or .png, got ${out}`);
  const metric = stringFlag(args, 'metric') ?? 'return';
  resolveMetric(metric);
  const runs = loadRuns(args.positionals);
  if (runs.length === 0) throw new UsageError(`no run folders (with metrics.jsonl) under ${args.positionals.join(', ')}`);
  const groups = new Map<string, ReturnType<typeof aggregate>>();
  for (const [name, members] of groupByName(runs)) {
    const curve = aggregate(members.map((r) => metricSeries(r.records, metric)));
    if (curve.length) groups.set(name, curve);
    else log(`${name}: no ${metric} values in its ${members.length} run(s); left out`);
  }
  if (groups.size === 0) throw new UsageError(`none of the ${runs.length} run(s) has ${metric} values (metrics: return, success, cost:NAME, or TYPE.FIELD)`);
  const svg = await renderSvg(curvesSpec(groups, { metric, title: stringFlag(args, 'title') }));
  writeFileSync(out, format === '.svg' ? svg : await svgToPng(svg));
  process.stdout.write(`${out}: ${[...groups].map(([n, c]) => `${n} (${Math.max(...c.map((p) => p.n))} seeds, ${c.length} points)`).join(', ')}\n`);
}

/** `roborl compare <runs-A…> -- <runs-B…>`: AdaStop on each run's final (or --at) value. */
export async function compareCommand(args: Args): Promise<void> {
  allowFlags(args, 'compare', ['metric', 'at', 'n', 'K', 'alpha', 'json', 'seed', 'allow-unequal']);
  const sep = args.positionals.indexOf('--');
  if (sep <= 0 || sep === args.positionals.length - 1) throw new UsageError(USAGE.compare);
  const metric = stringFlag(args, 'metric') ?? 'return';
  resolveMetric(metric);
  const at = args.flags.has('at') ? intFlag(args, 'at', 0, 0) : null;
  const alphaText = stringFlag(args, 'alpha') ?? '0.05';
  const alpha = Number(alphaText);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`Expected --alpha to be in (0, 1), got \`${alphaText}\``);
  const n = intFlag(args, 'n', 5);
  const K = intFlag(args, 'K', 5);
  const scores = (paths: readonly string[], side: string): { runs: RunData[]; values: number[] } => {
    const runs = loadRuns(paths).sort((x, y) => (x.seed ?? 0) - (y.seed ?? 0));
    if (runs.length === 0) throw new UsageError(`${side}: no run folders (with metrics.jsonl) under ${paths.join(', ')}`);
    const values = runs.map((r) => {
      const reached = lastStep(r.records);
      // A value "at S" from a run that stopped before S would be an earlier value in disguise.
      if (at !== null && reached < at) throw new UsageError(`${displayPath(r.dir)} never reached step ${at} (its metrics end at step ${reached}); compare at a step every run reached`);
      const v = valueAt(metricSeries(r.records, metric), at);
      if (v === null) throw new UsageError(`${displayPath(r.dir)} has no ${metric} value${at === null ? '' : ` at or before step ${at}`}`);
      return v;
    });
    return { runs, values };
  };
  const A = scores(args.positionals.slice(0, sep), 'A');
  const B = scores(args.positionals.slice(sep + 1), 'B');
  if (at === null && !args.flags.has('allow-unequal')) refuseUnequalLengths([...A.runs, ...B.runs]);
  const name = (rs: RunData[]): string => [...new Set(rs.map((r) => r.name))].join('+');
  // Beside the decision, each side's summary over all its runs: mean with a 95% bootstrap CI and the IQM.
  const summary = (values: number[]): { mean: number; ci95: [number, number]; iqm: number } => ({ mean: mean(values), ci95: bootstrapCI(values), iqm: iqm(values) });
  const r = adaStop(A.values, B.values, { n, K, alpha, higherIsBetter: higherIsBetter(metric), seed: intFlag(args, 'seed', 0, 0) });
  const result = {
    metric,
    at: at ?? 'last',
    A: { name: name(A.runs), runs: A.runs.map((x) => displayPath(x.dir)), values: A.values, ...summary(A.values) },
    B: { name: name(B.runs), runs: B.runs.map((x) => displayPath(x.dir)), values: B.values, ...summary(B.values) },
    ...r,
  };
  const jsonPath = stringFlag(args, 'json') ?? 'compare.json';
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  const verdict =
    r.decision === 'need more seeds'
      ? `need more seeds: run ${r.next?.more} more of each (interims of ${n}, at most ${r.next?.upTo} per agent in all)`
      : `${r.decision}${r.decision === 'not different' ? '' : ` (${r.decision === 'A better' ? result.A.name : result.B.name})`} after ${r.seedsUsed} seeds per agent`;
  const line = (side: 'A' | 'B'): string => {
    const x = result[side];
    return `  ${side} ${x.name}: ${x.values.length} runs, mean ${x.mean.toFixed(3)} [95% CI ${x.ci95[0].toFixed(3)}, ${x.ci95[1].toFixed(3)}], IQM ${x.iqm.toFixed(3)}`;
  };
  process.stdout.write(
    `${metric}${at === null ? '' : ` @${at}`}:\n${line('A')}\n${line('B')}\nAdaStop (α = ${alpha}, ${n} seeds per interim, at most ${K} interims): ${verdict}\ndecision written to ${jsonPath}\n`,
  );
}

/**
 * Each run's last value is only comparable across runs that trained equally long: a run cut
 * short (Ctrl-C, a crash) scores its earlier, usually worse, policy. Refuses unequal lengths,
 * naming the runs off the most common length.
 */
function refuseUnequalLengths(runs: readonly RunData[]): void {
  const lengths = new Map<number, RunData[]>();
  for (const r of runs) {
    const n = lastStep(r.records);
    lengths.set(n, [...(lengths.get(n) ?? []), r]);
  }
  if (lengths.size <= 1) return;
  const [common] = [...lengths.entries()].sort((x, y) => y[1].length - x[1].length || y[0] - x[0])[0] as [number, RunData[]];
  const odd = runs.filter((r) => lastStep(r.records) !== common);
  const named = odd.slice(0, 5).map((r) => `${displayPath(r.dir)} ends at step ${lastStep(r.records)}`).join(', ');
  throw new UsageError(
    `runs of different lengths: ${named}${odd.length > 5 ? ` and ${odd.length - 5} more` : ''}, the others at ${common}; compare at a step every run reached (--at STEPS) or compare each run's last value anyway (--allow-unequal)`,
  );
}
