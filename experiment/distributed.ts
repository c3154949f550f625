import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
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
  /** The run continues (`--resume`), even from step 0: the transport keeps what its actors sent. */
  readonly resuming?: boolean;
}

/**
 * The Redis namespace of a config's runs: `distributed.redis.prefix`, else the config's name and
 * seed — so two seeds of one config run side by side without sharing keys.
 */
export function redisPrefix(config: ExperimentConfig): string {
  return config.distributed?.redis.prefix ?? `${config.name}-seed${config.seed}`;
}

/**
 * A run's id in Redis: the run folder's name and a hash of its absolute path (two folders of the
 * same name elsewhere are different runs); the same folder, resumed, is the same run.
 */
export function redisRunId(runDir: string): string {
  const path = resolve(runDir);
  const name = basename(path).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || 'run';
  return `${name}-${createHash('sha256').update(path).digest('hex').slice(0, 10)}`;
}

/** The distributed learner for a config, over `transport`. */
export function makeDistributedLearner(parts: LearnerParts, transport: LearnerTransport): DistributedLearner {
  const { config } = parts;
  const d = config.distributed;
  if (!d) throw new Error('makeDistributedLearner: the config has no distributed: section');
  const interventions = config.hil ? { toDemos: config.hil.buffers === 'both', upsample: config.hil.upsample } : undefined;
  return new DistributedLearner({ ...parts, config: resolvedAlgo(config), schedule: config.train, seed: config.seed, transport, samplesPerInsert: d.samplesPerInsert, errorBufferInserts: d.errorBuffer, maxStaleness: d.maxStaleness, dropStale: d.dropStale, sendEvery: d.sendEvery, interventions, resuming: parts.resuming });
}

/**
 * One machine, actors on worker threads: the learner runs here; `distributed.actors` threads
 * each step their own env. Actor i is `actor<i>`; every thread started for it is a new
 * incarnation (epoch) — past the newest the learner's checkpoint knows of, so a resumed run's
 * actors are not taken for their predecessors — with a seed of its own. An actor thread that
 * dies is reported and restarted, and what it had reserved of the window and never sent is given
 * back; the learner goes on. Resolves when the learner is done (or stopped) and every actor
 * thread has exited.
 */
export class ThreadedRun {
  readonly learner: DistributedLearner;
  private readonly transport: ThreadsLearnerTransport;
  private readonly shared = flowControlBuffer();
  private readonly workers = new Map<number, Worker>();
  /** The epoch each actor slot's thread runs now. */
  private readonly epochs: number[] = [];
  private stopping = false;
  /** Actor threads that died and were restarted. */
  restarts = 0;

  constructor(private readonly parts: LearnerParts) {
    this.transport = new ThreadsLearnerTransport([], this.shared);
    this.learner = makeDistributedLearner(parts, this.transport);
  }

  private spawn(index: number): void {
    const { config } = this.parts;
    const actorId = `actor${index}`;
    const epoch = (this.epochs[index] = Math.max(this.epochs[index] ?? 0, this.learner.knownEpochs().get(actorId) ?? 0) + 1);
    const data: ActorThreadData = { config, actorId, epoch, slot: index, seed: (config.seed + 1000 * (index + 1) + 7919 * epoch) >>> 0, shared: this.shared };
    const worker = new Worker(new URL('./actor-thread.mjs', import.meta.url), { workerData: data });
    this.workers.set(index, worker);
    this.transport.attach(worker, index);
    worker.on('error', (err) => this.parts.log?.(`actor ${index} failed: ${err.message}`));
    worker.on('exit', (code) => {
      // Every message the thread posted has been delivered before 'exit': what it reserved beyond that is given back.
      this.transport.detach(worker, index);
      if (this.workers.get(index) === worker) this.workers.delete(index);
      if (this.stopping) return;
      this.restarts++;
      this.parts.log?.(`actor ${index} exited (${code}); restarting it`);
      this.spawn(index);
    });
  }

  /** The incarnation (epoch) actor `index`'s thread runs now (0 before its first start). */
  epoch(index: number): number {
    return this.epochs[index] ?? 0;
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
