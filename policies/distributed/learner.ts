import { yielder } from '../../control/clock.js';
import { CorruptFileError } from '../binary-file.js';
import { AppliedBatches } from './applied.js';
import type { EvalResult } from '../evaluate.js';
import { OffPolicyTrainer, type TrainerOptions } from '../sac/trainer.js';
import type { TransitionBatch } from './packing.js';
import { RateLimiter } from './rate-limiter.js';
import { Throughput } from '../run-loop.js';
import { encodeSnapshot } from './snapshot-codec.js';
import type { Delivery, LearnerTransport } from './transport.js';

export interface DistributedLearnerOptions extends TrainerOptions {
  readonly transport: LearnerTransport;
  /** Sampled transitions per inserted one (default: what the single-process trainer does, utd × criticActorRatio × batchSize). */
  readonly samplesPerInsert?: number;
  /** Slack of the rate limiter, in inserted transitions (default 256). */
  readonly errorBufferInserts?: number;
  /** Transitions from a policy more than this many versions old are stale: counted, and dropped with `dropStale`. Default 1,000. */
  readonly maxStaleness?: number;
  readonly dropStale?: boolean;
  /** Transitions per actor message (the insert-side check asks for room for one). Default 32. */
  readonly sendEvery?: number;
  /** Publish parameters at most this often (ms), on `publishEvery` boundaries. Default 20. */
  readonly publishMs?: number;
  /**
   * This learner continues a run (`--resume`), even one with no checkpoint yet: the transport
   * keeps what the run's actors already sent. Default: a run is fresh when it starts at step 0.
   */
  readonly resuming?: boolean;
  /**
   * The actors step a real robot, which cannot wait (issue 22): the insert side never holds
   * them back — the learner updates as fast as it can and falls behind the ratio rather than
   * delaying a step — and a run does not catch up on the ratio after its last step.
   */
  readonly realTime?: boolean;
}

/** What the learner reports about the actor link (metrics `train` records and the progress line). */
export interface LinkStats {
  batches: number;
  /** Batches applied before (redelivered after a restart, or sent twice): acknowledged, not applied. */
  duplicates: number;
  /** Transitions from a policy older than `maxStaleness` updates. */
  stale: number;
  /** Stale transitions dropped (`dropStale`). */
  dropped: number;
  /** Batches whose sizes (obs, action, cost count) do not match the learner's: refused and acknowledged. */
  refused: number;
  /** Entries the transport could not decode: dropped and acknowledged. */
  corrupt: number;
  samplesPerInsert: number;
  /** Learner iterations (receive, learn, publish the window). */
  loops: number;
  /** Learner iterations in which the rate limiter's insert-side check had no room for an actor's batch. */
  insertStalls: number;
  /** Learner iterations (past the warm-up) in which the rate limiter held sampling back. */
  sampleStalls: number;
  /** The newest policy version seen acting in a transition. */
  newestActing: number;
}

/** One actor incarnation's stream: n-step continuity keys on it. */
const streamKey = (actorId: string, epoch: number): string => `${epoch}:${actorId}`;

/**
 * The learner of an actor/learner split: transitions come from actors through a transport
 * instead of its own env; updates run as the rate limiter allows (the samples-per-insert ratio
 * holds however many actors there are and however fast); parameters are published every
 * `publishEvery` updates.
 *
 * Exactly once: every (actor, epoch, seq) is applied once. An actor's epoch is new every time it
 * (re)starts and its sequence numbers restart at 0, so a restarted actor, or the actors of a
 * resumed run, are never taken for duplicates; the checkpoint records each stream's last
 * sequence number, and deliveries are acknowledged only once a checkpoint holds them, so a
 * learner killed between checkpoints gets them again. Whatever arrives and is not inserted
 * (duplicates, stale drops, refused or corrupt batches) goes back to the actors' window.
 */
export class DistributedLearner extends OffPolicyTrainer {
  readonly limiter: RateLimiter;
  readonly link: LinkStats = { batches: 0, duplicates: 0, stale: 0, dropped: 0, refused: 0, corrupt: 0, samplesPerInsert: 0, loops: 0, insertStalls: 0, sampleStalls: 0, newestActing: 0 };
  /** What has been applied, per actor incarnation (the checkpoint holds it). */
  private applied = new AppliedBatches();
  /** Transitions received in this learner's life and not inserted: returned to the actors' window. */
  private returned = 0;
  /** The stream and sequence number the newest replay row continues into, if its batch was stored whole. */
  private tail: { key: string; seq: number } | null = null;
  private readonly refusedSizes = new Set<string>();
  private unacked: Delivery[] = [];
  /** Acknowledgements in flight (a checkpoint starts them; the run waits for them before it ends). */
  private acking: Promise<void> = Promise.resolve();
  private readonly transport: LearnerTransport;

  constructor(private readonly d: DistributedLearnerOptions) {
    super(d);
    this.transport = d.transport;
    const spi = d.samplesPerInsert ?? this.rowsPerLearn;
    this.limiter = new RateLimiter({ samplesPerInsert: spi, minSize: Math.max(1, d.config.learningStarts), errorBuffer: spi * (d.errorBufferInserts ?? 256) });
  }

  /** The newest epoch applied from each actor id (a restarted actor thread takes a larger one). */
  knownEpochs(): Map<string, number> {
    return this.applied.epochs();
  }

  protected override checkpointExtras(): Record<string, unknown> {
    return { distributed: { streams: this.applied.toJSON(), limiter: this.limiter.state() } };
  }

  protected override restoreExtras(h: Record<string, unknown>): void {
    const saved = parseExtras(h['distributed']);
    if (!saved) return;
    this.applied = saved.applied;
    this.limiter.restore(saved.limiter);
  }

  /** A checkpoint also acknowledges every delivery it now holds. */
  override checkpoint(): string {
    const path = super.checkpoint();
    const acks = this.unacked.splice(0);
    this.acking = Promise.all([this.acking, ...acks.map((a) => a.ack())]).then(
      () => undefined,
      (err: Error) => this.log?.(`acknowledging ${acks.length} batches failed (they will be re-delivered and skipped): ${err.message}`),
    );
    return path;
  }

  /** Runs until `schedule.steps` transitions have arrived. */
  override async run(): Promise<EvalResult> {
    const pause = yielder(20);
    const { schedule } = this;
    let published = -1;
    let publishedAt = -Infinity;
    // Actors keep only the newest parameters, so publishing more often than they can use them
    // (every update, a few hundred a second) only costs the learner: at most every `publishMs`.
    const publishMs = this.d.publishMs ?? 20;
    const publish = async (force = false): Promise<void> => {
      if (this.learner.updates === published || (!force && performance.now() - publishedAt < publishMs)) return;
      published = this.learner.updates;
      publishedAt = performance.now();
      await this.transport.publish({ version: published, bytes: encodeSnapshot(this.learner.snapshot()) });
    };
    await this.transport.begin({ inserted: this.limiter.state().inserts, fresh: !(this.d.resuming ?? this.envSteps > 0), epochs: this.knownEpochs() });
    await publish(true);
    await this.transport.allowInserts(this.allowance());
    const throughput = new Throughput(this.learner.updates, this.envSteps);
    let stepsAtLog = this.envSteps;
    while (this.running()) {
      // Each side's check once per iteration, so the stall counts are iterations held back.
      const warm = this.envSteps >= this.o.config.learningStarts;
      const canLearn = warm && this.limiter.canSample(this.rowsPerLearn);
      this.limiter.canInsert(this.d.sendEvery ?? 32);
      this.link.loops++;
      [this.link.insertStalls, this.link.sampleStalls] = [this.limiter.stalls.insert, this.limiter.stalls.sample];
      for (const d of await this.transport.receive(canLearn ? 0 : 20)) {
        // What arrives after the last step stays unacknowledged (a resumed, longer run gets it).
        if (!this.running()) break;
        await this.ingest(d);
      }
      // Learn as the limiter allows, a bounded number of updates at a time so batches keep flowing in
      // (with a robot's actor, at most ~50 ms of them: its steps and a stop are taken in promptly).
      const learnStart = performance.now();
      for (let k = 0; k < 16 && (k === 0 || !this.d.realTime || performance.now() - learnStart < 50) && this.envSteps >= this.o.config.learningStarts && this.limiter.wouldSample(this.rowsPerLearn); k++) {
        this.learnCounted();
        if (this.learner.updates % schedule.publishEvery === 0) await publish();
      }
      await this.transport.allowInserts(this.allowance());
      if (this.envSteps - stepsAtLog >= schedule.logEvery) {
        this.link.samplesPerInsert = this.limiter.ratio();
        const { updatesPerSec, envStepsPerSec } = throughput.sample(this.learner.updates, this.envSteps);
        this.o.metrics.write({ type: 'train', step: this.envSteps, updates: this.learner.updates, updatesPerSec, envStepsPerSec, ...(this.lastMetrics ?? {}), link: { ...this.link }, linkLostSteps: this.linkLostSteps });
        stepsAtLog = this.envSteps;
      }
      this.o.onStep?.({ step: this.envSteps, episodes: this.episodes, updates: this.learner.updates, lastReturn: this.lastReturn, updatesPerSec: throughput.updatesPerSec, envStepsPerSec: throughput.envStepsPerSec, lastCosts: this.lastCosts, humanRate: this.lastHumanRate, link: { samplesPerInsert: this.limiter.ratio() / this.limiter.options.samplesPerInsert, stale: this.link.stale } });
      await pause();
    }
    // Catch up to the ratio on what arrived, so a run ends with the updates a single process makes at its step count.
    const { samplesPerInsert: spi, minSize } = this.limiter.options;
    while (!this.stopping && !this.d.realTime && this.limiter.state().samples + this.rowsPerLearn <= (this.limiter.state().inserts - minSize) * spi) {
      this.learnCounted();
      await pause();
    }
    const result = await this.finish();
    await this.acking;
    if (!this.stopping) await this.transport.finish();
    return result;
  }

  /** One learner step, its samples counted by the limiter. */
  private learnCounted(): void {
    this.learn();
    this.limiter.sampled(this.rowsPerLearn);
  }

  /**
   * The total the actors may have sent: the rate limiter's insert limit, plus everything that
   * arrived and was not inserted (it took window the limiter never saw).
   */
  private allowance(): number {
    const undeliverable = this.transport.takeUndeliverable();
    this.returned += undeliverable.transitions;
    this.link.corrupt += undeliverable.batches;
    if (this.d.realTime) return Number.MAX_SAFE_INTEGER;
    return this.limiter.insertLimit() + this.returned;
  }

  /** Applies one delivered batch (once), then runs the schedule's evaluations and checkpoints it crossed. */
  private async ingest(d: Delivery): Promise<void> {
    const b: TransitionBatch = d.batch;
    const n = b.transitions.length;
    this.link.batches++;
    if (!this.fits(b)) {
      this.link.refused++;
      this.returned += n;
      await d.ack();
      return;
    }
    const key = streamKey(b.actorId, b.epoch);
    if (this.applied.has(b.actorId, b.epoch, b.seq)) {
      this.link.duplicates++;
      // The same entry handed over again (a transport re-reading its pending list) is acknowledged with its checkpoint; a second copy now.
      if (!this.unacked.some((u) => u.id === d.id)) {
        this.returned += n;
        await d.ack();
      }
      return;
    }
    const before = this.envSteps;
    const maxStale = this.d.maxStaleness ?? 1000;
    // n-step sums run over consecutive rows: they must not run from one actor's stream into
    // another's, nor across a gap (a batch never received, a stale drop). The row before a
    // break ends its run (it still bootstraps from its own next observation).
    let continues = this.tail !== null && this.tail.key === key && this.tail.seq === b.seq - 1;
    for (const t of b.transitions) {
      this.envSteps++;
      this.link.newestActing = Math.max(this.link.newestActing, t.policyVersion ?? 0);
      if (this.learner.updates - (t.policyVersion ?? 0) > maxStale) {
        this.link.stale++;
        if (this.d.dropStale) {
          this.link.dropped++;
          this.returned++;
          continues = false;
          continue;
        }
      }
      if (!continues) this.replay.markEpisodeEnd();
      continues = true;
      this.store(t, t.human === true);
      this.limiter.inserted(1);
    }
    this.tail = continues ? { key, seq: b.seq } : null;
    for (const ep of b.episodes) {
      this.endEpisode(ep);
      // The actors count their robots' safe stops (not sent as transitions) in their episodes' summaries.
      this.linkLostSteps = Math.min(Number.MAX_SAFE_INTEGER, this.linkLostSteps + (ep.linkLostSteps ?? 0));
    }
    this.applied.add(b.actorId, b.epoch, b.seq);
    this.unacked.push(d);
    const { evalEvery, checkpointEvery, steps } = this.schedule;
    const crossed = (every: number): boolean => every > 0 && Math.floor(this.envSteps / every) > Math.floor(before / every);
    if (crossed(evalEvery) && this.envSteps < steps) await this.evaluateAndLog();
    if (crossed(checkpointEvery)) this.checkpoint();
  }

  /** Whether a batch's sizes are the learner's; says so once per actor and sizes when not. */
  private fits(b: TransitionBatch): boolean {
    const { obsDim, actDim, costDim } = this.replay.spec;
    if (b.obsDim === obsDim && b.actDim === actDim && b.costDim === costDim) return true;
    const what = `${b.actorId}: obs ${b.obsDim}, action ${b.actDim}, costs ${b.costDim}`;
    if (!this.refusedSizes.has(what)) {
      this.refusedSizes.add(what);
      this.log?.(`refusing batches from actor ${what} — this learner takes obs ${obsDim}, action ${actDim}, costs ${costDim} (${this.o.env.spec.constraints.join(', ') || 'no constraints'}); is the actor running the same config and constraints?`);
    }
    return false;
  }
}

/** The learner's part of a checkpoint, checked field by field. */
function parseExtras(v: unknown): { applied: AppliedBatches; limiter: { inserts: number; samples: number } } | null {
  if (v === undefined) return null;
  const bad = (what: string): never => {
    throw new CorruptFileError(`checkpoint: distributed.${what} is malformed`);
  };
  if (typeof v !== 'object' || v === null) return bad('(section)');
  const rec = v as Record<string, unknown>;
  const lim = rec['limiter'];
  if (typeof lim !== 'object' || lim === null) return bad('limiter');
  const { inserts, samples } = lim as Record<string, unknown>;
  if (!(typeof inserts === 'number' && Number.isInteger(inserts) && inserts >= 0) || !(typeof samples === 'number' && Number.isFinite(samples) && samples >= 0)) return bad('limiter');
  return { applied: AppliedBatches.parse(rec['streams'], rec['lastSeq']), limiter: { inserts, samples } };
}
