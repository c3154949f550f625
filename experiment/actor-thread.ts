import { parentPort, workerData } from 'node:worker_threads';
import type { Env } from '../control/env.js';
import { runActor } from '../policies/distributed/actor-loop.js';
import { ThreadsActorTransport, type ThreadMessage } from '../policies/distributed/threads.js';
import type { ExperimentConfig } from './config.js';
import { makeRobotLearnerEnv } from './robot-learner-env.js';
import { RobotPacing } from './robot-pacing.js';
import { makeLearnerEnv, resolvedAlgo } from './setup.js';
import { announceTeleop } from './teleop.js';

/** What the learner thread hands an actor thread. */
export interface ActorThreadData {
  readonly config: ExperimentConfig;
  readonly actorId: string;
  /** This thread's incarnation of `actorId`. */
  readonly epoch: number;
  /** Its slot in the flow-control buffer. */
  readonly slot: number;
  readonly seed: number;
  readonly shared: SharedArrayBuffer;
  /**
   * The actor steps a robot (`roborl train --robot`, issue 22): its robot config, the run folder
   * (the teleop page's `teleop.json` goes there) and the env steps the run still wants.
   */
  readonly robot?: { readonly path: string; readonly runDir: string; readonly maxSteps: number };
}

const data = workerData as ActorThreadData;
if (!parentPort) throw new Error('actor-thread.ts runs as a worker thread');
const port = parentPort;
const abort = new AbortController();
let go: (start: boolean) => void = () => {};
const started = new Promise<boolean>((resolve) => (go = resolve));
port.on('message', (m: { op: string }) => {
  if (m.op === 'stop') {
    abort.abort();
    go(false);
  }
  if (m.op === 'start') go(true);
});
const post = (m: ThreadMessage): void => port.postMessage(m);
const transport = new ThreadsActorTransport(port, data.shared, data.slot);
const options = { transport, learning: resolvedAlgo(data.config), actorId: data.actorId, epoch: data.epoch, seed: data.seed, sendEvery: data.config.distributed?.sendEvery, signal: abort.signal };
if (data.robot) await robotActor(data.robot);
else {
  const env = await makeLearnerEnv(data.config, undefined, { human: true });
  try {
    await runActor({ env, ...options });
  } catch (err) {
    if (!abort.signal.aborted) post({ op: 'error', message: `${data.actorId}: ${(err as Error).message}` });
  } finally {
    await env.close();
    port.close();
  }
}

/**
 * The robot's actor: connects (and says it is ready, or why not), waits for the learner to start,
 * then steps the arm at its control rate until the run's steps are done, a stop, the person's
 * e-stop or a failure (a link that does not come back, a robot that does not move). Every step it
 * made is sent; closing the env sends the arm its hold command.
 */
async function robotActor(robot: NonNullable<ActorThreadData['robot']>): Promise<void> {
  let env: Env | null = null;
  let estop = false;
  try {
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const made = await makeRobotLearnerEnv(data.config, robot.path, log, { human: data.config.hil !== undefined });
    const pacing = new RobotPacing(made.env, () => {
      estop = true;
      abort.abort();
    });
    env = pacing;
    post({ op: 'ready' });
    if (!(await started)) return;
    const unannounce = announceTeleop(made.env, robot.runDir);
    const counters = (): Record<string, number> => Object.fromEntries(Object.entries(made.robot.stats).filter((e): e is [string, number] => typeof e[1] === 'number'));
    const report = (): void => post({ op: 'robot', periodsMs: pacing.take(), link: counters(), estop });
    try {
      await runActor({ env: pacing, ...options, maxSteps: robot.maxSteps, realTime: true, onEpisode: report });
    } finally {
      unannounce?.();
      report();
    }
  } catch (err) {
    post({ op: 'error', message: `${data.actorId}: ${(err as Error).message}` });
  } finally {
    await env?.close();
    port.close();
  }
}
