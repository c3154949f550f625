import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { tinySacConfig } from './test-configs.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('./bin.mjs', import.meta.url));

const sacConfig = tinySacConfig;
const streamConfig = (steps: number): string => `
name: tinystream
env: { id: Pendulum-v1 }
seed: 2
algo: { kind: stream-ac, hidden: [16, 16] }
train: { steps: ${steps}, evalEvery: 0, evalEpisodes: 2, checkpointEvery: 200, logEvery: 100 }
`;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `roborl …` to its end, never rejecting on a non-zero exit. */
async function roborl(...args: string[]): Promise<Outcome> {
  return run(process.execPath, [bin, ...args], { timeout: 300_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

function spawnRoborl(...args: string[]): { child: ChildProcess; done: Promise<Outcome>; stderr: () => string } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Outcome>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

function metricPairs(runDir: string): string[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; episode?: number })
    .map((r) => `${r.type}@${r.step}${r.episode === undefined ? '' : `#${r.episode}`}`);
}

function expectNoDuplicates(pairs: string[]): void {
  expect(pairs.length).toBe(new Set(pairs).size);
}

describe('roborl train: Ctrl-C and SIGTERM', () => {
  // The kill moments are random; each test prints its own and the seed that replays them all.
  const seed = Number(process.env['ROBORL_SIGNAL_SEED'] ?? Date.now() % 1000);
  const rng = new Rng(seed);
  for (const [kind, config, signal, code] of [
    ['sac', sacConfig(100_000), 'SIGINT', 130],
    ['sac', sacConfig(100_000), 'SIGTERM', 143],
    ['stream-ac', streamConfig(5_000_000), 'SIGINT', 130],
  ] as const) {
    it(`${kind}: ${signal} at a random moment checkpoints, exits ${code}, and --resume finishes the run with consistent metrics`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'roborl-sig-'));
      const cfg = join(dir, 'c.yaml');
      writeFileSync(cfg, config);
      const runDir = join(dir, 'run');
      const training = spawnRoborl('train', cfg, '--run-dir', runDir, '--quiet');
      // Wait until it trains, then a random moment within the next 1.5 s.
      while (!/run folder:/.test(training.stderr())) await new Promise((r) => setTimeout(r, 20));
      const delay = rng.uniform(0, 1500);
      const moment = `${signal} ${delay.toFixed(0)} ms after "run folder:" (ROBORL_SIGNAL_SEED=${seed} replays this file's moments)`;
      console.log(`${kind}: ${moment}`);
      await new Promise((r) => setTimeout(r, delay));
      const t0 = performance.now();
      training.child.kill(signal);
      const stopped = await training.done;
      expect(stopped.code, `${moment}\n${stopped.stderr}`).toBe(code);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(stopped.stderr).toMatch(new RegExp(`${signal}: stopped at step (\\d+) with a checkpoint`));
      const step = Number(/stopped at step (\d+)/.exec(stopped.stderr)![1]);
      expect(readdirSync(join(runDir, 'checkpoints'))).toContain(`ckpt-${String(step).padStart(10, '0')}.bin`);
      // Continue for 600 more steps (the stream config is long, so that the signal lands mid-run).
      const resumed = await roborl('train', '--resume', runDir, '--steps', String(step + 600), '--quiet');
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(new RegExp(`resumed from .* at step ${step}`));
      const pairs = metricPairs(runDir);
      expectNoDuplicates(pairs);
      // The run reached its end: the final evaluation and checkpoint at step + 600, and a train
      // line at every 100 steps on the way — none lost before the stop, none missing after it.
      const end = step + 600;
      expect(pairs.at(-1), moment).toBe(`eval@${end}`);
      expect(readdirSync(join(runDir, 'checkpoints'))).toContain(`ckpt-${String(end).padStart(10, '0')}.bin`);
      const trainSteps = pairs.filter((p) => p.startsWith('train@')).map((p) => Number(p.slice('train@'.length)));
      expect(trainSteps, moment).toEqual(Array.from({ length: Math.floor(end / 100) }, (_, i) => 100 * (i + 1)));
      // Episodes (200 steps) end in order, one record each, the last within 200 steps of the end.
      const episodes = pairs.filter((p) => p.startsWith('episode@')).map((p) => Number(/#(\d+)/.exec(p)![1]));
      expect(episodes, moment).toEqual(Array.from({ length: episodes.length }, (_, i) => i + 1));
    }, 300_000);
  }
});

describe('roborl train --resume refuses what it cannot trust', () => {
  it('every checkpoint corrupt: refuses, names the files, changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-corrupt-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, sacConfig(400));
    const runDir = join(dir, 'run');
    expect((await roborl('train', cfg, '--run-dir', runDir, '--quiet')).code).toBe(0);
    const ckptDir = join(runDir, 'checkpoints');
    const files = readdirSync(ckptDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const path = join(ckptDir, f);
      const bytes = readFileSync(path);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
      writeFileSync(path, bytes);
    }
    const before = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const ckptBefore = files.map((f) => readFileSync(join(ckptDir, f)).toString('base64'));
    const r = await roborl('train', '--resume', runDir, '--steps', '600', '--quiet');
    expect(r.code).toBe(1);
    for (const f of files) expect(r.stderr).toContain(f);
    expect(r.stderr).toMatch(/cannot be resumed/);
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).toBe(before);
    expect(files.map((f) => readFileSync(join(ckptDir, f)).toString('base64'))).toEqual(ckptBefore);
  }, 300_000);

  it('a finished run is not re-run; a config beside --resume is refused; --steps extends a run; stale temp files go', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-extend-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, sacConfig(400));
    const runDir = join(dir, 'run');
    expect((await roborl('train', cfg, '--run-dir', runDir, '--quiet')).code).toBe(0);
    const finished = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const again = await roborl('train', '--resume', runDir, '--quiet');
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/finished at step 400 of 400: nothing to do/);
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).toBe(finished);
    const both = await roborl('train', cfg, '--resume', runDir);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--resume continues a run with the config it was started with/);
    writeFileSync(join(runDir, 'metrics.jsonl.tmp-99999'), 'half a rewrite');
    writeFileSync(join(runDir, 'checkpoints', 'ckpt-0000000600.bin.tmp-99999'), 'half a checkpoint');
    const extended = await roborl('train', '--resume', runDir, '--steps', '600', '--quiet');
    expect(extended.code, extended.stderr).toBe(0);
    expect(extended.stdout).toMatch(/tiny: 600 env steps/);
    expect(extended.stderr).toMatch(/removed 2 temp file/);
    expect(readdirSync(runDir).concat(readdirSync(join(runDir, 'checkpoints'))).some((f) => f.includes('.tmp-'))).toBe(false);
    expect(readFileSync(join(runDir, 'config.yaml'), 'utf8')).toMatch(/steps: 600/);
    const pairs = metricPairs(runDir);
    expectNoDuplicates(pairs);
    // Two final evaluations: the first run's (at 400) and the extension's (at 600).
    expect(pairs.filter((p) => p.startsWith('eval@'))).toEqual(['eval@400', 'eval@600']);
  }, 300_000);
});

describe('roborl train checks everything before writing anything', () => {
  it('a bad env id, option, constraint or demo file fails without creating the run folder, so the retry works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-validate-'));
    const runDir = join(dir, 'run');
    const cases: [string, RegExp][] = [
      [sacConfig(100).replace('Pendulum-v1', 'Pendulum-v9'), /Pendulum-v9/],
      [sacConfig(100).replace('env: { id: Pendulum-v1 }', 'env: { id: Pendulum-v1, options: { gravity: -3 } }'), /gravity/],
      [sacConfig(100, 'safety: { constraints: [{ name: bad, cost: "nosuchvar > 1" }] }'), /nosuchvar/],
      [sacConfig(100).replace('learningStarts: 100 }', 'learningStarts: 100, preset: rlpd, critics: 2, demos: { path: missing.demos } }'), /missing\.demos not found/],
    ];
    for (const [text, why] of cases) {
      const cfg = join(dir, 'bad.yaml');
      writeFileSync(cfg, text);
      const r = await roborl('train', cfg, '--run-dir', runDir, '--quiet');
      expect(r.code, text).not.toBe(0);
      expect(r.stderr).toMatch(why);
      expect(existsSync(runDir)).toBe(false);
    }
    const cfg = join(dir, 'good.yaml');
    writeFileSync(cfg, sacConfig(100));
    expect((await roborl('train', cfg, '--run-dir', runDir, '--quiet')).code).toBe(0);
  }, 300_000);

  it('a run that fails mid-way (here: metrics.jsonl cannot be written) checkpoints first and names the file, the step and how to continue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-fail-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, sacConfig(100_000));
    const runDir = join(dir, 'run');
    const training = spawnRoborl('train', cfg, '--run-dir', runDir, '--quiet');
    const ckptDir = join(runDir, 'checkpoints');
    while (!(existsSync(ckptDir) && readdirSync(ckptDir).some((f) => f.endsWith('.bin')))) await new Promise((r) => setTimeout(r, 20));
    // The metrics file turns into a directory under the running trainer: its next append fails.
    renameSync(join(runDir, 'metrics.jsonl'), join(dir, 'metrics.saved'));
    mkdirSync(join(runDir, 'metrics.jsonl'));
    const failed = await training.done;
    expect(failed.code).toBe(1);
    const m = /the run failed at step (\d+); checkpoint written: (\S+)/.exec(failed.stderr);
    expect(m, failed.stderr).not.toBeNull();
    expect(existsSync(m![2]!)).toBe(true);
    expect(failed.stderr).toMatch(new RegExp(`cannot append to .*metrics\\.jsonl at step \\d+: EISDIR[\\s\\S]*continue with: roborl train --resume ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  }, 120_000);
});
