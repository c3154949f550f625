import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Dashboard } from '../dashboard/server.js';
import { adaStop, bootstrapCI } from '../analysis/stats.js';
import { Rng } from '../control/rng.js';
import { writeRunStatus } from '../experiment/run-status.js';
import { bigMetrics, probeRelay } from '../test/relay-probe.js';

/**
 * The dashboard's costs: server start (bundling the page), the run list over many runs, how
 * fast a watched metrics.jsonl streams to a page (records/s over a 32 MB file), the teleop
 * relay's round trip while pages read all that (p99 ≤ 50 ms is the aim), the analysis
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
  const bytes = 32 * 2 ** 20;
  const bigRecords = bigMetrics(join(big, 'metrics.jsonl'), bytes);

  // A person at the teleop panel while the dashboard reads all this: commands every 20 ms through
  // the relay and back, four pages reading the run list every 2 s, one watching the big run.
  const hil = join(root, 'hil');
  mkdirSync(hil);
  writeFileSync(join(hil, 'metrics.jsonl'), '');
  writeRunStatus(hil, { state: 'running', pid: process.pid, step: 0, steps: 1000 });
  // The same with no page open: what this machine's own scheduling adds (other processes).
  let relayed = await Dashboard.open({ runsDir: root });
  const teleopRelayIdle = await probeRelay(relayed.url, hil, 'hil', { durationMs: 5000 });
  await relayed.close();
  relayed = await Dashboard.open({ runsDir: root });
  const teleopRelay = await probeRelay(relayed.url, hil, 'hil', { durationMs: 10_000, load: () => pagesReading(relayed.url, 'big', 10_000) });
  await relayed.close();

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
      if (received >= bigRecords) resolve();
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

  const out = { serverStartMs: startMs, runs: RUNS, runListFirstMs: listFirstMs, runListMs: listMs, streamed: { bytes, records: bigRecords, seconds: streamS, recordsPerSec: bigRecords / streamS }, teleopRelay, teleopRelayIdle, bootstrapCiMs: bootstrapMs, adaStop25SeedsMs: adaStopMs, adaStopCalibration };
  if (!json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return out;
}

/** Four pages: each reads the run list every 2 s (staggered); the first also watches `run`. */
async function pagesReading(dashboardUrl: string, run: string, forMs: number): Promise<void> {
  const url = new URL(dashboardUrl);
  const token = url.searchParams.get('token') as string;
  const ws = new WebSocket(`ws://${url.host}/ws?token=${token}`);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ op: 'watch', runs: [run] }));
  const end = performance.now() + forMs;
  await Promise.all(
    Array.from({ length: 4 }, async (_, p) => {
      await new Promise((r) => setTimeout(r, 500 * p));
      while (performance.now() < end - 2000) {
        await (await fetch(`http://${url.host}/api/runs?token=${token}`)).json();
        await new Promise((r) => setTimeout(r, 2000));
      }
    }),
  );
  ws.close();
}
