import { appendFileSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../experiment/config.js';
import { redisPrefix } from '../experiment/distributed.js';
import { makeLearnerEnv, resolvedAlgo } from '../experiment/setup.js';
import { runActor } from '../policies/distributed/actor-loop.js';
import { unpackTransitions } from '../policies/distributed/packing.js';
import { RedisActorTransport } from '../policies/distributed/redis.js';
import type { ActorTransport } from '../policies/distributed/transport.js';

/** One soak actor: the config's env, the real Redis transport and actor loop — and a log of every batch once the transport holds it. */
export interface SoakActorOptions {
  readonly configPath: string;
  readonly actorId: string;
  /** Appended after each send that returned with the batch in Redis: one line per transition. */
  readonly logPath: string;
}

/** A transition's identity by content: its observation and next observation, as float32 bits. */
export function contentKey(obs: Float32Array, nextObs: Float32Array): string {
  return Buffer.from(Float32Array.from([...obs, ...nextObs]).buffer).toString('hex');
}

async function soakActor(o: SoakActorOptions): Promise<void> {
  const config = loadConfig(o.configPath);
  const redis = config.distributed?.redis;
  if (!redis) throw new Error(`${o.configPath} has no distributed.redis section`);
  const env = await makeLearnerEnv(config);
  const transport = await RedisActorTransport.open({ ...redis, prefix: redisPrefix(config), actorId: o.actorId });
  const logged: ActorTransport = {
    send: async (bytes, count, signal) => {
      await transport.send(bytes, count, signal);
      if (transport.finished()) return;
      const b = unpackTransitions(bytes);
      appendFileSync(o.logPath, b.transitions.map((t, i) => `${b.actorId} ${b.epoch} ${b.seq} ${i} ${contentKey(t.obs, t.nextObs)}\n`).join(''));
    },
    params: () => transport.params(),
    finished: () => transport.finished(),
    close: () => transport.close(),
  };
  const seed = (o.actorId.length * 7919 + transport.epoch * 104729) >>> 0;
  await runActor({ env, transport: logged, learning: resolvedAlgo(config), actorId: o.actorId, epoch: transport.epoch, seed, sendEvery: config.distributed?.sendEvery });
}

function parseOptions(v: unknown): SoakActorOptions {
  const o = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  const { configPath, actorId, logPath } = o;
  if (typeof configPath !== 'string' || typeof actorId !== 'string' || typeof logPath !== 'string') throw new TypeError(`soak actor: expected { configPath, actorId, logPath } strings, got ${JSON.stringify(v)}`);
  return { configPath, actorId, logPath };
}

// Run as a worker thread (workerData) or a process (argv[2] as JSON) by test/soak-actor.mjs.
if (!isMainThread || process.argv[2]?.startsWith('{')) {
  const options = parseOptions(isMainThread ? JSON.parse(process.argv[2] as string) : workerData);
  await soakActor(options).catch((err: Error) => {
    if (parentPort) parentPort.postMessage(err.message);
    else process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  });
}
