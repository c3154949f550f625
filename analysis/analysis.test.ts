import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { aggregate } from './curves.js';
import { parseMetrics } from '../policies/metrics-log.js';
import { metricSeries, valueAt } from './runs.js';

const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
async function roborl(...args: (string | { timeout: number })[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const timeout = args.find((a): a is { timeout: number } => typeof a !== 'string')?.timeout ?? 0;
  return promisify(execFile)(process.execPath, [BIN, ...args.filter((a): a is string => typeof a === 'string')], { timeout }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

/** Seeds of a method as train writes them: final returns drawn around `mu`. */
function writeRuns(root: string, name: string, seeds: number, mu: number, rng: Rng): string[] {
  return Array.from({ length: seeds }, (_, seed) => {
    const dir = join(root, `${name}-${seed}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.yaml'), `name: ${name}\nenv: { id: Pendulum-v1 }\nseed: ${seed}\n`);
    const lines = [1000, 2000, 3000].map((step) => JSON.stringify({ type: 'eval', step, returnMean: (mu * step) / 3000 + 10 * (rng.random() - 0.5), successRate: step / 3000, costMeans: { keep_out: 3 - step / 1000 } }));
    lines.push(JSON.stringify({ type: 'episode', step: 700 + seed, return: -1 }), '{"type":"eval","step":40'); // a killed run's torn last line
    writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    return dir;
  });
}

describe('curves over seeds', () => {
  it('evaluations are matched by step; per-seed episode records are binned; metric names resolve', () => {
    const { records, badLines } = parseMetrics('{"type":"eval","step":10,"returnMean":-3,"costMeans":{"c":1}}\n{"type":"eval","step":20,"returnMean":-1}\nnot json\n');
    expect(badLines).toEqual([{ line: 3, error: expect.stringMatching(/not JSON/) }]);
    expect(metricSeries(records, 'return')).toEqual([{ step: 10, value: -3 }, { step: 20, value: -1 }]);
    expect(metricSeries(records, 'cost:c')).toEqual([{ step: 10, value: 1 }]);
    expect(valueAt(metricSeries(records, 'return'), 15)).toBe(-3);
    expect(valueAt(metricSeries(records, 'return'), null)).toBe(-1);
    const shared = aggregate([[{ step: 10, value: 1 }, { step: 20, value: 3 }], [{ step: 10, value: 3 }, { step: 20, value: 5 }]]);
    expect(shared.map((p) => [p.step, p.mean, p.n])).toEqual([[10, 2, 2], [20, 4, 2]]);
    expect(shared[0]?.lo).toBeGreaterThanOrEqual(1);
    expect(shared[0]?.hi).toBeLessThanOrEqual(3);
    const binned = aggregate([[{ step: 3, value: 1 }, { step: 51, value: 2 }], [{ step: 7, value: 3 }, { step: 97, value: 4 }]], 2);
    expect(binned.map((p) => [p.step, p.mean, p.n])).toEqual([[49, 2, 2], [97, 3, 2]]);
  });
});

describe('roborl plot and roborl compare on run folders', () => {
  it('plot writes an SVG and a PNG with each method’s mean and CI band, grouped by config name; bad input is a clear error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-plot-'));
    const rng = new Rng(3);
    writeRuns(root, 'sac', 3, -200, rng);
    writeRuns(root, 'rlpd', 4, -100, rng);
    const svg = await roborl('plot', root, '--out', join(root, 'fig.svg'));
    expect(svg.code).toBe(0);
    expect(svg.stdout).toMatch(/rlpd \(4 seeds, 3 points\), sac \(3 seeds, 3 points\)/);
    expect(svg.stderr).toMatch(/line 5 skipped: not JSON/);
    const text = readFileSync(join(root, 'fig.svg'), 'utf8');
    expect(text).toMatch(/^<svg/);
    expect(text).toContain('sac (3 seeds)');
    expect(text).toContain('rlpd (4 seeds)');
    expect(text.match(/class="mark-area/g)?.length).toBe(2); // a CI band per method
    expect(text.match(/class="mark-line/g)?.length).toBe(2); // a mean per method
    const png = await roborl('plot', root, '--metric', 'cost:keep_out', '--out', join(root, 'fig.png'));
    expect(png.code).toBe(0);
    const bytes = readFileSync(join(root, 'fig.png'));
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBeGreaterThan(900); // 2× the SVG's width
    for (const [args, message] of [
      [[root, '--out', join(root, 'fig.pdf')], /--out must end in .svg or .png/],
      [[root], /usage: roborl plot/],
      [[join(root, 'nope'), '--out', join(root, 'x.svg')], /no such run folder/],
      [[root, '--metric', 'bogus', '--out', join(root, 'x.svg')], /Expected --metric/],
      [[root, '--metric', 'train.alpha', '--out', join(root, 'x.svg')], /none of the 7 run\(s\) has train.alpha values/],
    ] as const) {
      const r = await roborl('plot', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it('compare: a clearly better method is found with the seeds it needs; equal ones with too few seeds ask for more; the decision is written as JSON', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-compare-'));
    const rng = new Rng(4);
    const a = writeRuns(root, 'sac', 10, -300, rng);
    const b = writeRuns(root, 'rlpd', 10, -100, rng);
    const out = join(root, 'c.json');
    const r = await roborl('compare', ...a, '--', ...b, '--json', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/B better \(rlpd\) after 5 seeds per agent/);
    expect(r.stdout).toMatch(/A sac: 10 runs, mean -\d+\.\d{3} \[95% CI -\d+\.\d{3}, -\d+\.\d{3}\], IQM -\d+\.\d{3}/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { decision: string; seedsUsed: number; A: { values: number[]; mean: number; iqm: number; ci95: [number, number] }; interims: unknown[] };
    expect(json.decision).toBe('B better');
    expect(json.A.values).toHaveLength(10);
    expect(json.A.ci95[0]).toBeLessThanOrEqual(json.A.mean);
    expect(json.A.ci95[1]).toBeGreaterThanOrEqual(json.A.mean);
    expect(Math.abs(json.A.iqm - -300)).toBeLessThan(5); // the runs' scores are −300 ± 5
    // At step 1000 every run's keep_out cost is 2: equal, and 7 seeds are too few to say "not different" (5 per interim, 5 interims).
    const cost = await roborl('compare', ...a.slice(0, 7), '--', ...b.slice(0, 7), '--metric', 'cost:keep_out', '--at', '1000', '--json', out);
    expect(cost.stdout).toMatch(/need more seeds: run 3 more of each \(interims of 5, at most 25 per agent in all\)/);
    const bad = await roborl('compare', ...a);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/usage: roborl compare/);
    const early = await roborl('compare', a[0] as string, '--', b[0] as string, '--at', '500', '--json', out);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/has no return value at or before step 500/);
  }, 60_000);

  it('compare refuses a run that never reached --at, and runs of different lengths unless --allow-unequal', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-compare-len-'));
    const rng = new Rng(5);
    const a = writeRuns(root, 'sac', 5, -300, rng);
    const b = writeRuns(root, 'rlpd', 5, -100, rng);
    // A seed stopped (Ctrl-C) after its evaluation at step 2000: its metrics end there.
    const short = a[2] as string;
    const lines = readFileSync(join(short, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => !l.includes('"step":3000'));
    writeFileSync(join(short, 'metrics.jsonl'), lines.join('\n'));
    const out = join(root, 'c.json');
    const at = await roborl('compare', ...a, '--', ...b, '--at', '2500', '--json', out);
    expect(at.code).toBe(2);
    expect(at.stderr).toMatch(/sac-2 never reached step 2500 \(its metrics end at step 2000\)/);
    // At a step every run reached, the comparison runs.
    expect((await roborl('compare', ...a, '--', ...b, '--at', '2000', '--json', out)).code).toBe(0);
    const unequal = await roborl('compare', ...a, '--', ...b, '--json', out);
    expect(unequal.code).toBe(2);
    expect(unequal.stderr).toMatch(/runs of different lengths: .*sac-2 ends at step 2000, the others at 3000/);
    expect(unequal.stderr).toMatch(/\(--at STEPS\) or .*\(--allow-unequal\)/);
    const allowed = await roborl('compare', ...a, '--', ...b, '--allow-unequal', '--json', out);
    expect(allowed.code).toBe(0);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { A: { values: number[] } };
    expect(json.A.values).toHaveLength(5);
  }, 60_000);

  it('a FIFO or a link to /dev/zero in a run folder is a clear error (or a config that is not read), never a command that hangs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-compare-odd-'));
    const rng = new Rng(6);
    const a = writeRuns(root, 'sac', 2, -300, rng);
    const b = writeRuns(root, 'rlpd', 2, -100, rng);
    // A config.yaml that cannot be read: the run stands under its folder's name.
    rmSync(join(a[0] as string, 'config.yaml'));
    symlinkSync('/dev/zero', join(a[0] as string, 'config.yaml'));
    rmSync(join(a[1] as string, 'config.yaml'));
    execFileSync('mkfifo', [join(a[1] as string, 'config.yaml')]);
    const out = join(root, 'c.json');
    const ok = await roborl('compare', ...a, '--', ...b, '--json', out, { timeout: 60_000 });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/config\.yaml: not a regular file/) });
    rmSync(join(b[1] as string, 'metrics.jsonl'));
    execFileSync('mkfifo', [join(b[1] as string, 'metrics.jsonl')]);
    const fifo = await roborl('compare', ...a, '--', ...b, '--json', out, { timeout: 60_000 });
    expect({ code: fifo.code, stderr: fifo.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/rlpd-1\/metrics\.jsonl: not a regular file/) });
  }, 150_000);
});
