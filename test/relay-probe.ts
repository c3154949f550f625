import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';

/** Round trips of teleop commands through a dashboard's relay, ms. */
export interface RelayLatency {
  readonly sent: number;
  readonly received: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Measures what a person at the dashboard's teleop panel feels: a command every `everyMs` from a
 * page socket on `/teleop/<run>/ws`, through the dashboard's relay to the run's teleop server (here
 * an echo server on 127.0.0.1, announced in the run's teleop.json) and back, while `load` runs
 * (pages reading the run list, a watched metrics file). The run folder `runDir` must be listed
 * by the dashboard as `runId`.
 */
export async function probeRelay(dashboardUrl: string, runDir: string, runId: string, o: { durationMs: number; everyMs?: number; load?: () => Promise<void> }): Promise<RelayLatency> {
  const upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => upstream.once('listening', r));
  upstream.on('connection', (ws) => ws.on('message', (m) => ws.send(m.toString())));
  const port = (upstream.address() as { port: number }).port;
  writeFileSync(join(runDir, 'teleop.json'), `${JSON.stringify({ url: `http://127.0.0.1:${port}/?token=t`, pid: process.pid })}\n`, { mode: 0o600 });
  const url = new URL(dashboardUrl);
  const page = new WebSocket(`ws://${url.host}/teleop/${encodeURIComponent(runId)}/ws?token=${url.searchParams.get('token')}`);
  const rtts: number[] = [];
  let sent = 0;
  page.on('message', (m) => {
    const t = Number((JSON.parse(m.toString()) as { t?: unknown }).t);
    if (Number.isFinite(t)) rtts.push(performance.now() - t);
  });
  try {
    await new Promise((r, j) => page.once('open', r).once('error', j));
    // The relay connects upstream after the page's socket opens: wait for the first echo.
    page.send(JSON.stringify({ op: 'command', t: performance.now() }));
    const first = performance.now();
    while (rtts.length === 0 && performance.now() - first < 30_000) await new Promise((r) => setTimeout(r, 10));
    rtts.length = 0;
    const timer = setInterval(() => {
      sent++;
      page.send(JSON.stringify({ op: 'command', action: [0.1, 0, 0, 0, 0, 0, 0], t: performance.now() }));
    }, o.everyMs ?? 20);
    const load = o.load?.();
    await new Promise((r) => setTimeout(r, o.durationMs));
    clearInterval(timer);
    await load;
    await new Promise((r) => setTimeout(r, 200)); // the last echoes
  } finally {
    page.close();
    upstream.close();
  }
  const sorted = [...rtts].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { sent, received: rtts.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? NaN };
}

/** A metrics.jsonl of about `bytes` bytes of train records. */
export function bigMetrics(path: string, bytes: number): number {
  const lines: string[] = [];
  let n = 0;
  for (let k = 0; n < bytes - 200; k++) {
    const l = JSON.stringify({ type: 'train', step: k, updates: k, updatesPerSec: 512.5, envStepsPerSec: 480.25, criticLoss: 0.0123, actorLoss: -3.21, alpha: 0.05, entropy: -6.5 });
    lines.push(l);
    n += l.length + 1;
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return lines.length;
}
