import { parentPort, workerData } from 'node:worker_threads';
import { runActor } from '../policies/distributed/actor-loop.js';
import { ThreadsActorTransport, type ThreadMessage } from '../policies/distributed/threads.js';
import type { ExperimentConfig } from './config.js';
import { makeLearnerEnv, resolvedAlgo } from './setup.js';

/** What the learner thread hands an actor thread. */
export interface ActorThreadData {
  readonly config: ExperimentConfig;
  readonly actorId: string;
  readonly seed: number;
  readonly shared: SharedArrayBuffer;
  readonly firstSeq: number;
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
  await runActor({ env, transport: new ThreadsActorTransport(port, data.shared), learning: resolvedAlgo(data.config), actorId: data.actorId, seed: data.seed, sendEvery: data.config.distributed?.sendEvery, firstSeq: data.firstSeq, signal: abort.signal });
} catch (err) {
  if (!abort.signal.aborted) port.postMessage({ op: 'error', message: `${data.actorId}: ${(err as Error).message}` } satisfies ThreadMessage);
} finally {
  await env.close();
  port.close();
}
