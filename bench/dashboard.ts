import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Dashboard } from '../dashboard/server.js';
import { adaStop, bootstrapCI } from '../analysis/stats.js';
import { Rng } from '../control/rng.js';

/**
 * The dashboard's costs: server start (bundling the page), the run list over many runs, how
 * fast a watched metrics.jsonl streams to a page (records/s over a 32 MB file), the analysis
 * maths (a bootstrap CI, an AdaStop decision), and AdaStop's error rates on synthetic scores.
 */
export async function dashboardBenchmark(json: boolean): Promise<unknown> {
  const root = mkdtempSync(join(tmpdir(), 'roborl-bench-dash-'));
  const RUNS = 50;
  for (let i = 0; i < RUNS; i++) {
    const dir = join(root, `run-${i}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.yaml'), `name: m${i % 5}\nenv: { id: PandaReach-v0 }\nseed: ${i}\n`);
    writeFileSync(join(dir, 'metrics.jsonl'), Array.from({ length: 200 }, (_, k) => JSON.stringify({ type: 'eval', step: 1000 * k, returnMean: -k, successRate: 0.5 })).join('\n') + '\n');
  }
  const big = join(root, 'big');
  mkdirSync(big);
  const line = (k: number): string => JSON.stringify({ type: 'train', step: k, updates: k, updatesPerSec: 512.5, envStepsPerSec: 480.25, criticLoss: 0.0123, actorLoss: -3.21, alpha: 0.05, entropy: -6.5 });
  const lines: string[] = [];
  let bytes = 0;
  for (let k = 0; bytes < 32 * 2 ** 20 - 200; k++) {
    const l = line(k);
    lines.push(l);
    bytes += l.length + 1;
  }
  writeFileSync(join(big, 'metrics.jsonl'), `${lines.join('\n')}\n`);

  let t = performance.now();
  const d = await Dashboard.open({ runsDir: root, pollMs: 50 });
  const startMs = performance.now() - t;
  const token = new URL(d.url).searchParams.get('token') as string;
  const base = d.url.replace(/\?token=.*/, '');
  t = performance.now();
  await (await fetch(`${base}api/runs?token=${token}`)).json(); // first: reads every file
  const listFirstMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 10; i++) await (await fetch(`${base}api/runs?token=${token}`)).json();
  const listMs = (performance.now() - t) / 10;

  const ws = new WebSocket(`${base.replace('http', 'ws')}ws?token=${token}`);
  await new Promise((r) => ws.once('open', r));
  let received = 0;
  t = performance.now();
  const done = new Promise<void>((resolve) =>
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString()) as { op: string; records?: unknown[] };
      if (msg.op === 'records') received += msg.records?.length ?? 0;
      if (received >= lines.length) resolve();
    }),
  );
  ws.send(JSON.stringify({ op: 'watch', runs: ['big'] }));
  await done;
  const streamS = (performance.now() - t) / 1000;
  ws.close();
  await d.close();
  rmSync(root, { recursive: true, force: true });

  const values = Array.from({ length: 10 }, (_, i) => i);
  t = performance.now();
  for (let i = 0; i < 100; i++) bootstrapCI(values, { seed: i });
  const bootstrapMs = (performance.now() - t) / 100;
  t = performance.now();
  adaStop(Array.from({ length: 25 }, (_, i) => i % 7), Array.from({ length: 25 }, (_, i) => i % 5), { B: 10_000 });
  const adaStopMs = performance.now() - t;

  // AdaStop's calibration: how often equal methods are called different (nominal α = 0.05), and
  // how often (and how early) a 1.5σ shift is found; n = 5 seeds per interim, K = 4 interims.
  const normal = (rng: Rng): number => Math.sqrt(-2 * Math.log(1 - rng.random())) * Math.cos(2 * Math.PI * rng.random());
  const draw = (rng: Rng, shift: number): number[] => Array.from({ length: 20 }, () => normal(rng) + shift);
  const equalRng = new Rng(11);
  let falseDifferences = 0;
  const REPEATS = 2000;
  for (let r = 0; r < REPEATS; r++) if (adaStop(draw(equalRng, 0), draw(equalRng, 0), { n: 5, K: 4, B: 1000, seed: r }).decision !== 'not different') falseDifferences++;
  const shiftRng = new Rng(12);
  let found = 0;
  let seedsUsed = 0;
  for (let r = 0; r < 200; r++) {
    const d = adaStop(draw(shiftRng, 0), draw(shiftRng, 1.5), { n: 5, K: 4, B: 1000, seed: r });
    if (d.decision === 'B better') found++;
    seedsUsed += d.seedsUsed;
  }
  const adaStopCalibration = { repeats: REPEATS, alpha: 0.05, falseDifferenceRate: falseDifferences / REPEATS, shift1p5Sigma: { repeats: 200, foundRate: found / 200, meanSeedsPerAgent: seedsUsed / 200 } };

  const out = { serverStartMs: startMs, runs: RUNS, runListFirstMs: listFirstMs, runListMs: listMs, streamed: { bytes, records: lines.length, seconds: streamS, recordsPerSec: lines.length / streamS }, bootstrapCiMs: bootstrapMs, adaStop25SeedsMs: adaStopMs, adaStopCalibration };
  if (!json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return out;
}
