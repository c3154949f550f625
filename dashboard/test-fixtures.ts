import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { writeRunStatus } from '../experiment/run-status.js';
import { Dashboard, type DashboardOptions } from './server.js';

/** What a test closes when it ends (newest first). */
export type Closers = (() => Promise<unknown> | void)[];

/** A run folder as train writes it: config.yaml, metrics.jsonl, status.json. */
export function makeRun(root: string, name: string, seed: number, evals: number[], state: 'finished' | 'running' = 'finished', pid = process.pid): string {
  const dir = join(root, `${name}-${seed}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.yaml'), `name: ${name}\nenv: { id: PandaReach-v0 }\nseed: ${seed}\nalgo: { kind: sac }\ntrain: { steps: ${evals.length * 100} }\n`);
  writeFileSync(join(dir, 'metrics.jsonl'), evals.map((r, i) => `${JSON.stringify({ type: 'eval', step: (i + 1) * 100, returnMean: r, successRate: 0.5 })}\n`).join(''));
  writeRunStatus(dir, { state, pid, step: evals.length * 100, steps: evals.length * 100 });
  return dir;
}

/** A dashboard over `runsDir` polling every 50 ms, closed when the test ends. */
export async function openDashboard(closers: Closers, runsDir: string, extra: Partial<DashboardOptions> = {}): Promise<Dashboard> {
  const d = await Dashboard.open({ runsDir, pollMs: 50, ...extra });
  closers.push(() => d.close());
  return d;
}

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's headless Chromium, WebGL through SwiftShader (software), as on a machine without a GPU. */
export async function launchChromium(closers: Closers): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const b = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  closers.push(() => b.close());
  return b;
}
