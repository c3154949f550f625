import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Env } from '../control/env.js';
import { DistributedLearner } from '../policies/distributed/learner.js';
import { flowControlBuffer, ThreadsLearnerTransport, type ThreadMessage } from '../policies/distributed/threads.js';
import type { LearnerTransport } from '../policies/distributed/transport.js';
import type { MetricsLog } from '../policies/metrics-log.js';
import type { ReplayBuffer } from '../policies/replay.js';
import type { TrainerProgress } from '../policies/run-loop.js';
import type { ActorThreadData } from './actor-thread.js';
import type { ExperimentConfig } from './config.js';
import { PacingLog } from './robot-pacing.js';
import { resolvedAlgo } from './setup.js';

export interface LearnerParts {
  readonly config: ExperimentConfig;
  /** The learner's env (its spec only: actors step their own) and the evaluation env. */
  readonly env: Env;
  readonly evalEnv: Env;
  readonly checkpointDir: string;
  /** Where the best evaluation's policy is kept (`<run>/best`). */
  readonly bestDir?: string;
  readonly metrics: MetricsLog;
  readonly demos?: ReplayBuffer;
  readonly log?: (line: string) => void;
  readonly onStep?: (p: TrainerProgress) => void;
  /** The run continues (`--resume`), even from step 0: the transport keeps what its actors sent. */
  readonly resuming?: boolean;
  /**
   * One actor steps a robot (`roborl train --robot`, issue 22): its robot config and the run
   * folder. The learner never holds it back (`realTime` of the distributed learner).
   */
  readonly robot?: { readonly path: string; readonly runDir: string };
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
  return new DistributedLearner({ ...parts, config: resolvedAlgo(config), schedule: config.train, seed: config.seed, transport, samplesPerInsert: d.samplesPerInsert, errorBufferInserts: d.errorBuffer, maxStaleness: d.maxStaleness, dropStale: d.dropStale, sendEvery: d.sendEvery, interventions, resuming: parts.resuming, realTime: parts.robot !== undefined });
}

/**
 * One machine, actors on worker threads: the learner runs here; `distributed.actors` threads
 * each step their own env. Actor i is `actor<i>`; every thread started for it is a new
 * incarnation (epoch) — past the newest the learner's checkpoint knows of, so a resumed run's
 * actors are not taken for their predecessors — with a seed of its own. An actor thread that
 * dies is reported and restarted, and what it had reserved of the window and never sent is given
 * back; the learner goes on. Resolves when the learner is done (or stopped) and every actor
 * thread has exited.
 *
 * With `parts.robot` (issue 22) one actor thread steps the robot at its control rate while the
 * learner updates here, so an update never delays a robot step. {@link connect} first (the robot
 * is connected and checked before the run folder is written). The robot's actor is not
 * restarted: when it ends — the run's steps done, {@link requestStop}, the person's e-stop, a
 * failure (a link that does not come back) — the learner takes in every step it sent, then
 * stops with a checkpoint; a failure is thrown by {@link run} after that checkpoint.
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
  /** The robot's step periods over the run (robot runs). */
  readonly pacing: PacingLog | null;
  /** The robot link's counters, as the actor last reported them (robot runs). */
  robotLink: Readonly<Record<string, number>> | null = null;
  /** Why the robot's actor ended early: the person's e-stop, or its error (robot runs). */
  robotEnded: { readonly by: 'e-stop' } | { readonly by: 'failure'; readonly error: string } | null = null;
  private learnerDone = false;
  private actorGone: Promise<void> | null = null;
  private ready: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(private readonly parts: LearnerParts) {
    this.transport = new ThreadsLearnerTransport([], this.shared);
    this.learner = makeDistributedLearner(parts, this.transport);
    this.pacing = parts.robot ? new PacingLog(1000 / parts.env.spec.controlHz) : null;
  }

  private spawn(index: number): void {
    const { config, robot } = this.parts;
    const actorId = `actor${index}`;
    const epoch = (this.epochs[index] = Math.max(this.epochs[index] ?? 0, this.learner.knownEpochs().get(actorId) ?? 0) + 1);
    const data: ActorThreadData = {
      config,
      actorId,
      epoch,
      slot: index,
      seed: (config.seed + 1000 * (index + 1) + 7919 * epoch) >>> 0,
      shared: this.shared,
      ...(robot ? { robot: { ...robot, maxSteps: Math.max(0, config.train.steps - this.learner.step) } } : {}),
    };
    const worker = new Worker(new URL('./actor-thread.mjs', import.meta.url), { workerData: data });
    this.workers.set(index, worker);
    this.transport.attach(worker, index);
    worker.on('error', (err) => this.parts.log?.(`actor ${index} failed: ${err.message}`));
    if (robot) worker.on('message', (m: ThreadMessage) => this.onRobotMessage(m));
    worker.on('exit', (code) => {
      // Every message the thread posted has been delivered before 'exit': what it reserved beyond that is given back.
      this.transport.detach(worker, index);
      if (this.workers.get(index) === worker) this.workers.delete(index);
      if (robot) {
        this.actorGone = this.robotActorEnded(code);
        return;
      }
      if (this.stopping) return;
      this.restarts++;
      this.parts.log?.(`actor ${index} exited (${code}); restarting it`);
      this.spawn(index);
    });
  }

  private onRobotMessage(m: ThreadMessage): void {
    if (m.op === 'ready') this.ready?.resolve();
    if (m.op !== 'robot') return;
    this.pacing?.add(m.periodsMs);
    this.robotLink = m.link;
    if (m.estop && !this.robotEnded) this.robotEnded = { by: 'e-stop' };
    const summary = this.pacing?.summary();
    if (summary) this.parts.metrics.write({ type: 'info', step: this.learner.step, robot: { ...summary, windowSteps: m.periodsMs.length, link: m.link } });
  }

  /**
   * The robot's actor thread ended: the learner takes in every batch it delivered (all are, by
   * 'exit'), then stops unless the run's steps are done (then it finishes on its own).
   */
  private async robotActorEnded(code: number): Promise<void> {
    const error = this.transport.errors.at(-1);
    if (error !== undefined && !(this.robotEnded?.by === 'e-stop')) this.robotEnded = { by: 'failure', error };
    this.ready?.reject(new Error(error ?? `the robot's actor thread exited (${code}) before it connected`));
    const end = performance.now() + 60_000;
    while (!this.learnerDone && this.learner.link.batches < this.transport.batchesDelivered && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
    if (!this.learnerDone && this.learner.step < this.parts.config.train.steps) this.learner.requestStop();
  }

  /**
   * Robot runs: starts the robot's actor thread and waits until its robot is connected and its
   * env checked (sizes, constraints); rejects with why not. Nothing moves before {@link run}.
   */
  async connect(): Promise<void> {
    if (!this.parts.robot) throw new Error('ThreadedRun.connect is for robot runs');
    await new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
      this.spawn(0);
    }).finally(() => (this.ready = null));
  }

  /** The incarnation (epoch) actor `index`'s thread runs now (0 before its first start). */
  epoch(index: number): number {
    return this.epochs[index] ?? 0;
  }

  /** Stops one actor thread abruptly (tests: an actor that dies mid-run). */
  async killActor(index: number): Promise<void> {
    await this.workers.get(index)?.terminate();
  }

  /**
   * Stops the run with a checkpoint. A robot's actor stops first (after the step under way; the
   * arm gets its hold command) and the learner keeps every step it sent; otherwise the learner
   * stops at once.
   */
  requestStop(): void {
    const robot = this.parts.robot ? this.workers.get(0) : undefined;
    if (robot) robot.postMessage({ op: 'stop' });
    else this.learner.requestStop();
  }

  async run(): Promise<Awaited<ReturnType<DistributedLearner['run']>>> {
    const robot = this.parts.robot;
    if (robot) {
      const worker = this.workers.get(0);
      if (!worker) throw new Error('ThreadedRun.run: connect() the robot first');
      worker.postMessage({ op: 'start' } satisfies ThreadMessage);
    } else {
      const actors = this.parts.config.distributed?.actors ?? 1;
      for (let i = 0; i < actors; i++) this.spawn(i);
    }
    let result: Awaited<ReturnType<DistributedLearner['run']>>;
    try {
      result = await this.learner.run();
    } finally {
      this.learnerDone = true;
      this.stopping = true;
      await Promise.all([...this.workers.values()].map((w) => this.stopWorker(w)));
      await this.actorGone;
      if (!robot) for (const e of this.transport.errors) this.parts.log?.(`actor error: ${e}`);
    }
    if (this.robotEnded?.by === 'failure') throw new Error(`the robot's actor stopped: ${this.robotEnded.error}`);
    return result;
  }

  private async stopWorker(w: Worker): Promise<void> {
    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.postMessage({ op: 'stop' });
    // An actor blocked in an env step gets a moment, then is terminated. A robot's actor may be
    // driving the arm to its start pose (a reset is not cut short): it gets longer.
    const timer = setTimeout(() => {
      if (this.parts.robot) this.parts.log?.('the robot\'s actor did not stop within 30 s; its thread is terminated (the robot\'s own watchdog must hold it)');
      void w.terminate();
    }, this.parts.robot ? 30_000 : 5000);
    await exited;
    clearTimeout(timer);
  }
}
