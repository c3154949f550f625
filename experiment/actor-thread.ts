import { parentPort, workerData } from 'node:worker_threads';
import { runActor } from '../policies/distributed/actor-loop.js';
import { ThreadsActorTransport, type ThreadMessage } from '../policies/distributed/threads.js';
import type { ExperimentConfig } from './config.js';
import { makeLearnerEnv, resolvedAlgo } from './setup.js';

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
}

const data = workerData as ActorThreadData;
const port = parentPort;
if (!port) throw new Error('actor-thread.ts runs as a worker thread');
const abort = new AbortController();
port.on('message', (m: { op: string }) => {
  if (m.op === 'stop') abort.abort();
});
const env = await makeLearnerEnv(data.config, undefined, { human: true });
try {
  await runActor({ env, transport: new ThreadsActorTransport(port, data.shared, data.slot), learning: resolvedAlgo(data.config), actorId: data.actorId, epoch: data.epoch, seed: data.seed, sendEvery: data.config.distributed?.sendEvery, signal: abort.signal });
} catch (err) {
  if (!abort.signal.aborted) port.postMessage({ op: 'error', message: `${data.actorId}: ${(err as Error).message}` } satisfies ThreadMessage);
} finally {
  await env.close();
  port.close();
}
