import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createClient, RESP_TYPES } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { redisRunId } from '../experiment/distributed.js';
import { loadLatestCheckpoint } from '../policies/checkpoint.js';
import { unpackTransitions } from '../policies/distributed/packing.js';
import { redisKeys } from '../policies/distributed/redis.js';
import { ReplayBuffer } from '../policies/replay.js';
import { haveRedis, RedisServer } from './redis-fixture.js';

const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
const ACTOR = fileURLToPath(new URL('./soak-actor.mjs', import.meta.url));
/** SOAK_SEED=<n> replays a schedule of faults (printed at the start). */
const SEED = Number(process.env['SOAK_SEED'] ?? 19);
const CYCLES = 20;
/** Longest the learner may go without progress once every part is back. */
const STALL_MS = 30_000;

const children = new Set<ChildProcess>();
const workers = new Set<Worker>();
let server: RedisServer | null = null;
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([...workers].map((w) => w.terminate()));
  await server?.down();
});

/** A transition's identity by content (observation and next observation as float32 bits), as test/soak-actor.ts logs it. */
const contentKey = (obs: Float32Array, nextObs: Float32Array): string => Buffer.from(Float32Array.from([...obs, ...nextObs]).buffer).toString('hex');

function metricsStep(runDir: string): number {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return 0;
  let step = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /"step":(\d+)/.exec(line);
    if (m) step = Math.max(step, Number(m[1]));
  }
  return step;
}

describe('fault soak: actor threads, actor processes, the learner and Redis killed at random moments', () => {
  it(`every transition an actor sent lands in the replay table exactly once or is still in the stream unconsumed; nothing stalls over ${STALL_MS / 1000} s (seed ${SEED})`, async () => {
    if (!haveRedis()) throw new Error('this test needs redis-server (apt-get install redis-server); .ci/run installs it');
    server = await RedisServer.start({ aof: true });
    const redis = server;
    const dir = mkdtempSync(join(tmpdir(), 'roborl-soak-'));
    const cfg = join(dir, 'soak.yaml');
    writeFileSync(
      cfg,
      `name: soak\nenv: { id: Pendulum-v1 }\nalgo: { kind: sac, hidden: [8], batchSize: 8, learningStarts: 100, bufferSize: 60000 }\n` +
        `train: { steps: 100000, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 100, logEvery: 10 }\n` +
        `distributed: { sendEvery: 10, errorBuffer: 50, samplesPerInsert: 8, redis: { url: "${redis.url}" } }\n`,
    );
    const run = join(dir, 'run');
    const logPath = join(dir, 'sent.log');
    const output: string[] = [];
    const say = (line: string): void => {
      output.push(line);
      process.stderr.write(`soak: ${line}\n`);
    };

    let learnerOut = '';
    const startLearner = (resume: boolean): ChildProcess => {
      learnerOut = '';
      const p = spawn(process.execPath, [BIN, 'learner', ...(resume ? ['--resume', run] : [cfg, '--run-dir', run]), '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
      p.stderr?.on('data', (d: Buffer) => (learnerOut += d.toString()));
      children.add(p);
      p.on('exit', () => children.delete(p));
      return p;
    };
    const startProcess = (): ChildProcess => {
      const p = spawn(process.execPath, [ACTOR, JSON.stringify({ configPath: cfg, actorId: 'proc', logPath })], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.add(p);
      p.on('exit', () => children.delete(p));
      return p;
    };
    const startThread = (): Worker => {
      const w = new Worker(ACTOR, { workerData: { configPath: cfg, actorId: 'thread', logPath } });
      workers.add(w);
      w.on('message', (m) => say(`thread actor error: ${String(m)}`));
      w.on('exit', () => workers.delete(w));
      return w;
    };
    const kill = async (p: ChildProcess): Promise<void> => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    };
    /** Waits until the learner has gone past `step` (or fails, saying where it sat). */
    const progress = async (step: number, what: string): Promise<void> => {
      const deadline = performance.now() + STALL_MS;
      while (metricsStep(run) <= step) {
        if (performance.now() > deadline) throw new Error(`stalled after ${what}: the learner stayed at step ${metricsStep(run)} for ${STALL_MS / 1000} s (seed ${SEED}; ${output.join('; ')})\nlearner: ${learnerOut.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const learnerUp = async (): Promise<void> => {
      const deadline = performance.now() + 60_000; // a cold start of node + tsx on a loaded machine
      while (!/run folder:/.test(learnerOut)) {
        if (performance.now() > deadline) throw new Error(`the learner did not start: ${learnerOut.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    let learner = startLearner(false);
    await learnerUp();
    let proc = startProcess();
    let thread = startThread();
    await progress(100, 'the start');

    const rng = new Rng(SEED);
    const faults = ['thread', 'process', 'learner', 'redis'] as const;
    const counts: Record<(typeof faults)[number], number> = { thread: 0, process: 0, learner: 0, redis: 0 };
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const at = Math.round(rng.uniform(100, 800));
      // Every kind at least once in the first four cycles, then at random (a learner restart, the slowest, one time in six).
      const later = ['thread', 'process', 'redis', 'thread', 'process', 'learner'] as const;
      const fault = cycle < faults.length ? (faults[cycle] as (typeof faults)[number]) : (later[rng.int(later.length)] as (typeof faults)[number]);
      counts[fault]++;
      await new Promise((r) => setTimeout(r, at));
      const before = metricsStep(run);
      say(`cycle ${cycle}: ${fault} killed ${at} ms in, learner at step ${before}`);
      switch (fault) {
        case 'thread':
          await thread.terminate();
          thread = startThread();
          break;
        case 'process':
          await kill(proc);
          proc = startProcess();
          break;
        case 'learner':
          await kill(learner);
          learner = startLearner(true);
          await learnerUp();
          break;
        case 'redis': {
          await redis.down();
          const away = Math.round(rng.uniform(100, 1000));
          await new Promise((r) => setTimeout(r, away));
          await redis.up();
          break;
        }
      }
      await progress(before, `cycle ${cycle} (${fault})`);
    }
    say(`faults: ${JSON.stringify(counts)}`);

    // Stop: the learner checkpoints on SIGINT and acknowledges what it holds; then the actors go.
    const stopped = new Promise<number | null>((r) => learner.once('exit', (code) => r(code)));
    learner.kill('SIGINT');
    expect(await stopped).toBe(130);
    await kill(proc);
    await thread.terminate();

    // What the actors sent (logged once Redis held each batch).
    const sent = new Map<string, string>();
    for (const line of readFileSync(logPath, 'utf8').split('\n')) {
      const m = /^(\S+) (\d+) (\d+) (\d+) ([0-9a-f]{48})$/.exec(line);
      if (m) sent.set(m[5] as string, `${m[1]} epoch ${m[2]} seq ${m[3]} #${m[4]}`);
    }
    // What the learner holds: its final checkpoint's replay table.
    const ckpt = loadLatestCheckpoint(join(run, 'checkpoints'));
    if (!ckpt) throw new Error('no checkpoint');
    const nLearner = ckpt.header['learnerSections'] as number;
    const nReplay = ckpt.header['replaySections'] as number;
    const replay = ReplayBuffer.decode(ckpt.header['replay'] as Record<string, unknown>, ckpt.sections.slice(nLearner, nLearner + nReplay), ckpt.path);
    const stored = new Map<string, number>();
    for (const episode of replay.episodes()) for (const t of episode) stored.set(contentKey(t.obs, t.nextObs), (stored.get(contentKey(t.obs, t.nextObs)) ?? 0) + 1);
    // What is still in the run's stream: sent, never applied (arrived after the stop, or a second copy of a batch whose reply was lost).
    const client = createClient({ url: redis.url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    await client.connect();
    const entries = (await client.sendCommand(['XRANGE', redisKeys('soak-seed0', redisRunId(run)).stream, '-', '+'])) as [Buffer, Buffer[]][];
    await client.quit();
    const unconsumed = new Set<string>();
    for (const [, fields] of entries) {
      const data = fields[fields.findIndex((f) => f.toString() === 'data') + 1] as Buffer;
      for (const t of unpackTransitions(new Uint8Array(data)).transitions) unconsumed.add(contentKey(t.obs, t.nextObs));
    }
    const twice = [...stored].filter(([, n]) => n > 1);
    const lost = [...sent].filter(([k]) => !stored.has(k) && !unconsumed.has(k));
    say(`${sent.size} transitions logged sent; ${replay.size} in the replay table at step ${ckpt.step}; ${unconsumed.size} unconsumed in the stream`);
    expect(ckpt.step, 'the run outgrew its replay table (the oldest rows were overwritten): raise bufferSize').toBeLessThan(replay.spec.capacity);
    expect(twice.length, `transitions stored more than once (seed ${SEED})`).toBe(0);
    expect(lost.map(([, who]) => who).slice(0, 10), `sent, neither stored nor in the stream (seed ${SEED})`).toEqual([]);
    expect(replay.size).toBe(ckpt.step); // the learner counted every step it stored, once (nothing dropped as stale: dropStale is off)
    expect(sent.size).toBeGreaterThan(500);
    expect(Object.values(counts).every((n) => n > 0)).toBe(true);
  }, 400_000);
});
