import { hostname } from 'node:os';
import type { Env } from '../../control/env.js';
import { loadConfig, type ExperimentConfig } from '../../experiment/config.js';
import { redisPrefix } from '../../experiment/distributed.js';
import { makeRobotLearnerEnv } from '../../experiment/robot-learner-env.js';
import { absolutizePaths, makeLearnerEnv, resolvedAlgo } from '../../experiment/setup.js';
import { runActor } from '../../policies/distributed/actor-loop.js';
import { RedisActorTransport } from '../../policies/distributed/redis.js';
import { allowFlags, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { stopSignals } from '../stop-signals.js';
import { USAGE } from '../usage.js';
import { learnerConfig } from './train.js';

/** `roborl actor <config> [--redis URL] [--robot ROBOT.yaml] [--actor-id ID] [--seed S]` */
export async function actorCommand(args: Args): Promise<void> {
  allowFlags(args, 'actor', ['redis', 'robot', 'actor-id', 'seed']);
  const path = args.positionals[0];
  if (!path) throw new UsageError(USAGE.actor);
  const config = learnerConfig(absolutizePaths(loadConfig(path), path), stringFlag(args, 'redis'));
  const actorId = stringFlag(args, 'actor-id') ?? `${hostname()}-${process.pid}`;
  if (Buffer.byteLength(actorId) > 64) throw new UsageError(`--actor-id must be at most 64 bytes, got ${Buffer.byteLength(actorId)}`);
  const baseSeed = seedFlag(args, hash(actorId));
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const robotPath = stringFlag(args, 'robot');
  const env = robotPath ? await robotActorEnv(config, robotPath, log) : await makeLearnerEnv(config, log, { human: true });
  const redis = (config.distributed as NonNullable<typeof config.distributed>).redis;
  const prefix = redisPrefix(config);
  const stop = stopSignals();
  let transport: RedisActorTransport;
  try {
    transport = await RedisActorTransport.open({ ...redis, prefix, actorId, log, signal: stop.signal });
  } catch (err) {
    stop.dispose();
    await env.close();
    if (!stop.signal.aborted) throw err;
    process.exitCode = stop.exitCode();
    log(`actor ${actorId}: stopped (${String(stop.signal.reason)}) while waiting for a learner`);
    return;
  }
  // A new seed per incarnation: a restarted actor explores afresh instead of replaying its episodes (--seed is the first incarnation's).
  const seed = (baseSeed + 7919 * (transport.epoch - 1)) >>> 0;
  log(`actor ${actorId} (incarnation ${transport.epoch}, seed ${seed}): ${robotPath ? `robot ${robotPath}` : `simulator ${config.env.id}`} → ${redis.url} (run ${transport.run} under roborl:${prefix}:); Ctrl-C stops`);
  let episodes = 0;
  try {
    const r = await runActor({ env, transport, learning: resolvedAlgo(config), actorId, epoch: transport.epoch, seed, sendEvery: config.distributed?.sendEvery, signal: stop.signal, onEpisode: (ep) => (++episodes % 10 === 0 ? log(`actor ${actorId}: ${episodes} episodes, last return ${ep.return.toFixed(1)}, policy v${transport.params()?.version ?? 0}`) : undefined) });
    log(`actor ${actorId}: ${r.steps} steps, ${r.episodes} episodes`);
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    stop.dispose();
    if (stop.signal.aborted) {
      process.exitCode = stop.exitCode();
      log(`actor ${actorId}: stopped (${String(stop.signal.reason)})${robotPath ? '; the robot was sent its hold command' : ''}`);
    }
    await env.close();
    await transport.close();
  }
}

/**
 * The robot as the learner sees it — the stack a run on the robot trains with
 * (`makeRobotLearnerEnv`): the task with the config's env options, the robot's link, time limit
 * and Tier 0 limits, the config's cost expressions, the task's shield when `safety.shield` asks
 * for it, actions in [−1, 1], sizes checked against the learner's.
 */
async function robotActorEnv(config: ExperimentConfig, robotPath: string, log: (s: string) => void): Promise<Env> {
  return (await makeRobotLearnerEnv(config, robotPath, log)).env;
}

/** A 32-bit seed from a string (FNV-1a). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
