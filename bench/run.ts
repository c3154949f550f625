/**
 * Benchmark runner: `npm run bench -- <name> [--json]`. Each benchmark prints a human-readable
 * table, or with --json one JSON object on stdout (progress goes to stderr).
 */
import os from 'node:os';
import { bridgesBenchmark } from './bridges.js';
import { cameraBenchmark } from './camera.js';
import { cliBenchmark } from './cli.js';
import { quickstartBenchmark } from './quickstart.js';
import { dashboardBenchmark } from './dashboard.js';
import { distributedBenchmark } from './distributed.js';
import { hilBenchmark } from './hil.js';
import { learnBenchmark } from './learn.js';
import { learnerBenchmark } from './learner.js';
import { safetyBenchmark } from './safety.js';
import { simBenchmark } from './sim.js';
import { streamBenchmark } from './stream.js';

const BENCHMARKS: Record<string, (json: boolean) => Promise<unknown>> = {
  sim: simBenchmark,
  learner: learnerBenchmark,
  learn: learnBenchmark,
  stream: streamBenchmark,
  safety: safetyBenchmark,
  bridges: bridgesBenchmark,
  camera: cameraBenchmark,
  cli: cliBenchmark,
  quickstart: quickstartBenchmark,
  hil: hilBenchmark,
  distributed: distributedBenchmark,
  dashboard: dashboardBenchmark,
};

const [name, ...rest] = process.argv.slice(2);
const json = rest.includes('--json');
const unknown = rest.filter((a) => a !== '--json');
if (!name || !(name in BENCHMARKS) || unknown.length) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}> [--json]${unknown.length ? `\nunknown arguments: ${unknown.join(' ')}` : ''}\n`);
  process.exit(2);
}
let result: unknown;
try {
  result = await (BENCHMARKS[name] as (json: boolean) => Promise<unknown>)(json);
} catch (err) {
  // Said here, not left to an unhandled rejection: tfjs's wasm backend, once loaded, rethrows
  // those from inside its own (minified, ~40 KB a line) source, burying the message.
  process.stderr.write(`bench ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, date: new Date().toISOString() };
if (json) process.stdout.write(`${JSON.stringify({ benchmark: name, machine, ...(result as object) })}\n`);
