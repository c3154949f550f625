import { hostname } from 'node:os';
import type { Env } from '../../control/env.js';
import { RescaleAction } from '../../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { ExpressionConstraints, type HasStateVariables } from '../../control/safety/expressions.js';
import { unwrap } from '../../control/wrappers/wrapper.js';
import { loadConfig, type ExperimentConfig } from '../../experiment/config.js';
import { redisPrefix } from '../../experiment/distributed.js';
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
 * The robot as the learner sees it: its link, time limit and Tier 0 limits, the config's cost
 * expressions, actions in [−1, 1] — and the same sizes (observation, action, constraints) as
 * the learner's env, checked here so a mismatch is said at once rather than in every batch.
 */
async function robotActorEnv(config: ExperimentConfig, robotPath: string, log: (s: string) => void): Promise<Env> {
  const robotConfig = loadRobotConfig(robotPath);
  if (robotConfig.task !== config.env.id) throw new UsageError(`${robotPath} runs task ${robotConfig.task}; the config trains ${config.env.id}`);
  const learnerSpec = await (async () => {
    const sim = await makeLearnerEnv(config);
    const spec = sim.spec;
    await sim.close();
    return spec;
  })();
  const { env: robot } = await connectRobot(robotConfig, log);
  let env: Env = robot;
  try {
    const constraints = config.safety.constraints;
    if (constraints.length) {
      const raw = unwrap(robot);
      if (!hasStateVariables(raw)) throw new UsageError(`safety.constraints: the ${robotConfig.kind} robot (${robotPath}) exposes no state variables for cost expressions (${constraints.map((c) => c.name).join(', ')}); the learner's batches would have ${learnerSpec.constraints.length} costs and the robot's ${robot.spec.constraints.length}`);
      env = new ExpressionConstraints(env, raw, constraints).check();
    }
    env = new EpisodeStatistics(env.spec.actionSpace.kind === 'box' ? new RescaleAction(env) : env);
    const sizes = (spec: Env['spec']): string => `obs ${spec.observationSpace.kind === 'box' ? spec.observationSpace.low.length : 1}, action ${spec.actionSpace.kind === 'box' ? spec.actionSpace.low.length : 1}, costs [${spec.constraints.join(', ')}]`;
    if (sizes(env.spec) !== sizes(learnerSpec)) throw new UsageError(`the robot (${robotPath}) gives ${sizes(env.spec)}; the learner of this config takes ${sizes(learnerSpec)}`);
    return env;
  } catch (err) {
    await env.close();
    throw err;
  }
}

function hasStateVariables(env: Env): env is Env & HasStateVariables {
  return typeof (env as Partial<HasStateVariables>).stateVariables === 'function';
}

/** A 32-bit seed from a string (FNV-1a). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
