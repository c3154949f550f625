import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readBinaryFile } from '../policies/binary-file.js';
import { createClient, RESP_TYPES } from 'redis';
import { listCheckpoints, loadLatestCheckpoint } from '../policies/checkpoint.js';
import { redisRunId } from '../experiment/distributed.js';
import { unpackTransitions } from '../policies/distributed/packing.js';
import { redisKeys } from '../policies/distributed/redis.js';
import { haveRedis, RedisServer } from '../test/redis-fixture.js';
import { servedRos } from '../test/robot-fixtures.js';
import { waitFor } from '../test/wait-for.js';

const BIN = fileURLToPath(new URL('./bin.mjs', import.meta.url));
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});
let redis: RedisServer;
beforeAll(async () => {
  if (!haveRedis()) throw new Error('these tests need redis-server (apt-get install redis-server); .ci/run installs it');
  redis = await RedisServer.start({ aof: true });
});
afterAll(async () => {
  await redis.down();
});

function start(args: string[]): { proc: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out, exit: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

/** The newest step in a run's metrics (0 before any). */
function metricsStep(runDir: string): number {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines.at(-1) as string) as { step: number }).step : 0;
}

const until = (what: string, check: () => boolean, ms = 90_000): Promise<void> => waitFor(what, check, ms, 50);

describe('roborl learner / roborl actor over a real Redis', () => {
  it('an actor killed mid-run and restarted with the same --actor-id goes on (a new incarnation, not a duplicate); a learner killed between checkpoints resumes, gets its unacknowledged batches again and applies each transition once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-dist-cli-'));
    const cfg = join(dir, 'p.yaml');
    writeFileSync(cfg, `name: faults\nenv: { id: Pendulum-v1 }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 200 }\ntrain: { steps: 2500, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 1000, logEvery: 100 }\ndistributed: { sendEvery: 25, redis: { url: "${redis.url}" } }\n`);
    const run = join(dir, 'run');
    let learner = start(['learner', cfg, '--run-dir', run, '--quiet']);
    const a = start(['actor', cfg, '--actor-id', 'a']);
    await until('learner past 400 steps', () => metricsStep(run) >= 400);
    a.proc.kill('SIGKILL');
    const b = start(['actor', cfg, '--actor-id', 'a']);
    // Killed between checkpoints (1,000 and 2,000: a window of 900 steps, so an idle machine's fast
    // learner cannot pass the next checkpoint before the kill lands — at 500 apart it once did).
    await until('checkpoint at 1000 and the learner past 1100', () => metricsStep(run) >= 1100);
    learner.proc.kill('SIGKILL'); // the batches since 1000 are unacknowledged
    expect(loadLatestCheckpoint(join(run, 'checkpoints'))?.step).toBe(1000);
    learner = start(['learner', '--resume', run, '--quiet']);
    expect(await learner.exit).toBe(0);
    expect(learner.out()).toMatch(/resumed from .* at step 1000/);
    expect(learner.out()).toMatch(/claimed \d+ batch\(es\) an earlier learner received but never acknowledged/);
    // The actor waited through the learner's absence and finished with the run.
    expect(await b.exit).toBe(0);
    const final = loadLatestCheckpoint(join(run, 'checkpoints'));
    expect(final?.step).toBeGreaterThanOrEqual(2500);
    // A checkpoint after the restart (2,000, before the 2,500-row table is full): every step the
    // learner counted is in the table once — nothing lost, nothing applied twice.
    const kept = listCheckpoints(join(run, 'checkpoints')).map((f) => readBinaryFile(join(run, 'checkpoints', f), 'RRLCKPT1'));
    const after = kept.find((c) => (c.header['step'] as number) < 2500);
    if (!after) throw new Error(`no checkpoint below 2500 kept: ${kept.map((c) => c.header['step']).join(', ')}`);
    expect(after.header['step']).toBeGreaterThanOrEqual(2000);
    expect((after.header['replay'] as { count: number }).count).toBe(after.header['step']);
    const links = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; link?: { duplicates: number } }).filter((r) => r.link);
    expect(links.every((r) => r.link?.duplicates === 0)).toBe(true);
    expect(b.out()).toMatch(/actor a \(incarnation 2, seed \d+\)/);
    // Whatever is still unacknowledged arrived after the last step and was never applied (a longer,
    // resumed run would get it): no such batch is among those the final checkpoint records as applied.
    const streams = (final?.header['distributed'] as { streams: [string, number, number, number[]][] }).streams;
    expect(streams.map(([actor, epoch]) => `${actor}#${epoch}`).sort()).toEqual(['a#1', 'a#2']);
    const applied = new Map(streams.map(([actor, epoch, through, above]) => [`${actor}#${epoch}`, (seq: number) => seq <= through || above.includes(seq)]));
    const key = redisKeys('faults-seed0', redisRunId(run)).stream;
    const client = createClient({ url: redis.url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    await client.connect();
    const pending = (await client.sendCommand(['XPENDING', key, 'learner', '-', '+', '1000'])) as [Buffer, Buffer, number, number][];
    for (const [id] of pending) {
      const entry = ((await client.sendCommand(['XRANGE', key, id, id])) as [Buffer, Buffer[]][])[0];
      const fields = entry?.[1] ?? [];
      const batch = unpackTransitions(new Uint8Array(fields[fields.findIndex((f) => f.toString() === 'data') + 1] as Buffer));
      expect(applied.get(`${batch.actorId}#${batch.epoch}`)?.(batch.seq) ?? false).toBe(false);
    }
    await client.quit();
  }, 240_000);
});

describe('roborl actor --robot', () => {
  it('builds the robot env as the learner sees it: sizes that match start, and cost expressions the robot cannot compute are refused at start, naming them', async () => {
    const { server } = await servedRos('realtime');
    const dir = mkdtempSync(join(tmpdir(), 'roborl-dist-robot-'));
    const robotYaml = join(dir, 'ros.yaml');
    writeFileSync(robotYaml, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\n`);
    const config = (extra: string): string => {
      const path = join(dir, `reach${extra ? '-costs' : ''}.yaml`);
      writeFileSync(path, `name: robot-actor\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [8], batchSize: 8, learningStarts: 100 }\ntrain: { steps: 1000 }\n${extra}distributed: { redis: { url: "${redis.url}" } }\n`);
      return path;
    };
    const refused = start(['actor', config("safety: { constraints: [{ name: low_tcp, cost: 'tcp[3] < 0.15' }] }\n"), '--robot', robotYaml, '--actor-id', 'r']);
    expect(await refused.exit).not.toBe(0);
    expect(refused.out()).toMatch(/safety\.constraints: the ros robot .* exposes no state variables for cost expressions \(low_tcp\)/);
    const ok = start(['actor', config(''), '--robot', robotYaml, '--actor-id', 'r']);
    await until('the robot actor waiting for a learner', () => /waiting for a learner/.test(ok.out()), 60_000);
    ok.proc.kill('SIGINT');
    expect(await ok.exit).toBe(130);
  }, 120_000);

  it("runs the task with the config's env options (a TCP-delta config starts on the arm) — the stack a run on the robot trains with", async () => {
    const { server } = await servedRos('realtime');
    const dir = mkdtempSync(join(tmpdir(), 'roborl-dist-robot-'));
    const robotYaml = join(dir, 'ros.yaml');
    writeFileSync(robotYaml, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\n`);
    const config = join(dir, 'reach-tcp.yaml');
    writeFileSync(config, `name: robot-actor-tcp\nenv: { id: PandaReach-v0, options: { action: { frame: tcp } } }\nalgo: { kind: sac, hidden: [8], batchSize: 8, learningStarts: 100 }\ntrain: { steps: 1000 }\ndistributed: { redis: { url: "${redis.url}" } }\n`);
    // Before: the arm ran the task's default joint deltas (7) and the actor was refused for sizes.
    const ok = start(['actor', config, '--robot', robotYaml, '--actor-id', 'tcp']);
    await until('the robot actor waiting for a learner', () => /waiting for a learner|the learner of this config takes/.test(ok.out()), 60_000);
    expect(ok.out()).toMatch(/waiting for a learner/);
    ok.proc.kill('SIGINT');
    expect(await ok.exit).toBe(130);
  }, 120_000);
});
