import { Worker } from 'node:worker_threads';
import type { Env } from '../control/env.js';
import { DistributedLearner } from '../policies/distributed/learner.js';
import { flowControlBuffer, ThreadsLearnerTransport } from '../policies/distributed/threads.js';
import type { LearnerTransport } from '../policies/distributed/transport.js';
import type { MetricsLog } from '../policies/metrics-log.js';
import type { ReplayBuffer } from '../policies/replay.js';
import type { TrainerProgress } from '../policies/run-loop.js';
import type { ActorThreadData } from './actor-thread.js';
import type { ExperimentConfig } from './config.js';
import { resolvedAlgo } from './setup.js';

export interface LearnerParts {
  readonly config: ExperimentConfig;
  /** The learner's env (its spec only: actors step their own) and the evaluation env. */
  readonly env: Env;
  readonly evalEnv: Env;
  readonly checkpointDir: string;
  readonly metrics: MetricsLog;
  readonly demos?: ReplayBuffer;
  readonly log?: (line: string) => void;
  readonly onStep?: (p: TrainerProgress) => void;
}

/** The distributed learner for a config, over `transport`. */
export function makeDistributedLearner(parts: LearnerParts, transport: LearnerTransport): DistributedLearner {
  const { config } = parts;
  const d = config.distributed;
  if (!d) throw new Error('makeDistributedLearner: the config has no distributed: section');
  const interventions = config.hil ? { toDemos: config.hil.buffers === 'both', upsample: config.hil.upsample } : undefined;
  return new DistributedLearner({ ...parts, config: resolvedAlgo(config), schedule: config.train, seed: config.seed, transport, samplesPerInsert: d.samplesPerInsert, errorBufferInserts: d.errorBuffer, maxStaleness: d.maxStaleness, dropStale: d.dropStale, interventions });
}

/**
 * One machine, actors on worker threads: the learner runs here; `distributed.actors` threads
 * each step their own env. An actor thread that dies is reported and restarted (as a new
 * incarnation with its own id); the learner goes on. Resolves when the learner is done (or
 * stopped) and every actor thread has exited.
 */
export class ThreadedRun {
  readonly learner: DistributedLearner;
  private readonly transport: ThreadsLearnerTransport;
  private readonly shared = flowControlBuffer();
  private readonly workers = new Map<number, Worker>();
  private readonly incarnations: number[] = [];
  private stopping = false;
  /** Actor threads that died and were restarted. */
  restarts = 0;

  constructor(private readonly parts: LearnerParts) {
    this.transport = new ThreadsLearnerTransport([], this.shared);
    this.learner = makeDistributedLearner(parts, this.transport);
  }

  private spawn(index: number): void {
    const { config } = this.parts;
    const incarnation = (this.incarnations[index] = (this.incarnations[index] ?? 0) + 1);
    const data: ActorThreadData = { config, actorId: `actor${index}.${incarnation}`, seed: (config.seed + 1000 * (index + 1) + 7919 * incarnation) >>> 0, shared: this.shared, firstSeq: 0 };
    const worker = new Worker(new URL('./actor-thread.mjs', import.meta.url), { workerData: data });
    this.workers.set(index, worker);
    this.transport.attach(worker);
    worker.on('error', (err) => this.parts.log?.(`actor ${index} failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.workers.get(index) === worker) this.workers.delete(index);
      if (this.stopping) return;
      this.restarts++;
      this.parts.log?.(`actor ${index} exited (${code}); restarting it`);
      this.spawn(index);
    });
  }

  /** Stops one actor thread abruptly (tests: an actor that dies mid-run). */
  async killActor(index: number): Promise<void> {
    await this.workers.get(index)?.terminate();
  }

  async run(): Promise<Awaited<ReturnType<DistributedLearner['run']>>> {
    const actors = this.parts.config.distributed?.actors ?? 1;
    for (let i = 0; i < actors; i++) this.spawn(i);
    try {
      return await this.learner.run();
    } finally {
      this.stopping = true;
      await Promise.all([...this.workers.values()].map((w) => this.stopWorker(w)));
      for (const e of this.transport.errors) this.parts.log?.(`actor error: ${e}`);
    }
  }

  private async stopWorker(w: Worker): Promise<void> {
    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.postMessage({ op: 'stop' });
    // An actor blocked in an env step gets a moment, then is terminated.
    const timer = setTimeout(() => void w.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
