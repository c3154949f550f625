import { hostname } from 'node:os';
import type { Env } from '../../control/env.js';
import { RescaleAction } from '../../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { loadConfig } from '../../experiment/config.js';
import { absolutizePaths, makeLearnerEnv, resolvedAlgo } from '../../experiment/setup.js';
import { runActor } from '../../policies/distributed/actor-loop.js';
import { RedisActorTransport } from '../../policies/distributed/redis.js';
import { connectRobot, loadRobotConfig } from '../../robots/config.js';
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
  const seed = seedFlag(args, hash(actorId));
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const robotPath = stringFlag(args, 'robot');
  let env: Env;
  if (robotPath) {
    const robotConfig = loadRobotConfig(robotPath);
    if (robotConfig.task !== config.env.id) throw new UsageError(`${robotPath} runs task ${robotConfig.task}; the config trains ${config.env.id}`);
    const { env: robot } = await connectRobot(robotConfig, log);
    env = new EpisodeStatistics(robot.spec.actionSpace.kind === 'box' ? new RescaleAction(robot) : robot);
  } else env = await makeLearnerEnv(config, log, { human: true });
  const redis = (config.distributed as NonNullable<typeof config.distributed>).redis;
  const transport = await RedisActorTransport.open({ ...redis, prefix: redis.prefix ?? config.name, actorId, log });
  const stop = stopSignals();
  log(`actor ${actorId}: ${robotPath ? `robot ${robotPath}` : `simulator ${config.env.id}`} → ${redis.url} (keys roborl:${redis.prefix ?? config.name}:*); Ctrl-C stops`);
  let episodes = 0;
  try {
    const r = await runActor({ env, transport, learning: resolvedAlgo(config), actorId, seed, sendEvery: config.distributed?.sendEvery, signal: stop.signal, onEpisode: (ep) => (++episodes % 10 === 0 ? log(`actor ${actorId}: ${episodes} episodes, last return ${ep.return.toFixed(1)}, policy v${transport.params()?.version ?? 0}`) : undefined) });
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

/** A 32-bit seed from a string (FNV-1a). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
