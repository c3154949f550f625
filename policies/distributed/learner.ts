import { yielder } from '../../control/clock.js';
import type { EvalResult } from '../evaluate.js';
import { OffPolicyTrainer, type TrainerOptions } from '../sac/trainer.js';
import type { TransitionBatch } from './packing.js';
import { RateLimiter } from './rate-limiter.js';
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
  /** Publish parameters at most this often (ms), on `publishEvery` boundaries. Default 20. */
  readonly publishMs?: number;
}

/** What the learner reports about the actor link (metrics `train` records and the progress line). */
export interface LinkStats {
  batches: number;
  duplicates: number;
  stale: number;
  dropped: number;
  samplesPerInsert: number;
  insertStalls: number;
  sampleStalls: number;
  /** The newest policy version seen acting in a transition. */
  newestActing: number;
}

/**
 * The learner of an actor/learner split: transitions come from actors through a transport
 * instead of its own env; updates run as the rate limiter allows (the samples-per-insert ratio
 * holds however many actors there are and however fast); parameters are published every
 * `publishEvery` updates. Exactly-once: every (actor, seq) is applied once — the checkpoint
 * records each actor's last sequence number — and deliveries are acknowledged only once a
 * checkpoint holds them, so a learner killed between checkpoints gets them again.
 */
export class DistributedLearner extends OffPolicyTrainer {
  readonly limiter: RateLimiter;
  readonly link: LinkStats = { batches: 0, duplicates: 0, stale: 0, dropped: 0, samplesPerInsert: 0, insertStalls: 0, sampleStalls: 0, newestActing: 0 };
  private readonly lastSeq = new Map<string, number>();
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

  protected override checkpointExtras(): Record<string, unknown> {
    return { distributed: { lastSeq: Object.fromEntries(this.lastSeq), limiter: this.limiter.state() } };
  }

  protected override restoreExtras(h: Record<string, unknown>): void {
    const saved = h['distributed'] as { lastSeq: Record<string, number>; limiter: { inserts: number; samples: number } } | undefined;
    if (!saved) return;
    for (const [actor, seq] of Object.entries(saved.lastSeq)) this.lastSeq.set(actor, seq);
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
    await this.transport.begin(this.limiter.state().inserts, this.envSteps === 0);
    await publish(true);
    await this.transport.allowInserts(this.allowance());
    let timeAtLog = performance.now();
    let [stepsAtLog, updatesAtLog] = [this.envSteps, this.learner.updates];
    let [updatesPerSec, envStepsPerSec] = [0, 0];
    while (this.running()) {
      const canLearn = this.envSteps >= this.o.config.learningStarts && this.limiter.canSample(this.rowsPerLearn);
      for (const d of await this.transport.receive(canLearn ? 0 : 20)) {
        // What arrives after the last step stays unacknowledged (a resumed, longer run gets it).
        if (!this.running()) break;
        await this.ingest(d);
      }
      // Learn as the limiter allows, a bounded number of updates at a time so batches keep flowing in.
      for (let k = 0; k < 16 && this.envSteps >= this.o.config.learningStarts && this.limiter.canSample(this.rowsPerLearn); k++) {
        this.learnCounted();
        if (this.learner.updates % schedule.publishEvery === 0) await publish();
      }
      await this.transport.allowInserts(this.allowance());
      if (this.envSteps - stepsAtLog >= schedule.logEvery) {
        const now = performance.now();
        const seconds = (now - timeAtLog) / 1000;
        Object.assign(this.link, { samplesPerInsert: this.limiter.ratio(), insertStalls: this.limiter.stalls.insert, sampleStalls: this.limiter.stalls.sample });
        [updatesPerSec, envStepsPerSec] = [(this.learner.updates - updatesAtLog) / seconds, (this.envSteps - stepsAtLog) / seconds];
        this.o.metrics.write({ type: 'train', step: this.envSteps, updates: this.learner.updates, updatesPerSec, envStepsPerSec, ...(this.lastMetrics ?? {}), link: { ...this.link } });
        [timeAtLog, stepsAtLog, updatesAtLog] = [now, this.envSteps, this.learner.updates];
      }
      this.o.onStep?.({ step: this.envSteps, episodes: this.episodes, updates: this.learner.updates, lastReturn: this.lastReturn, updatesPerSec, envStepsPerSec, lastCosts: this.lastCosts, humanRate: this.lastHumanRate, link: { samplesPerInsert: this.limiter.ratio() / this.limiter.options.samplesPerInsert, stale: this.link.stale } });
      await pause();
    }
    // Catch up to the ratio on what arrived, so a run ends with the updates a single process makes at its step count.
    const { samplesPerInsert: spi, minSize } = this.limiter.options;
    while (!this.stopping && this.limiter.state().samples + this.rowsPerLearn <= (this.limiter.state().inserts - minSize) * spi) {
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

  /** The most inserts the limiter lets actors have made in total. */
  private allowance(): number {
    const { inserts, samples } = this.limiter.state();
    const { samplesPerInsert: spi, minSize, errorBuffer } = this.limiter.options;
    const byRatio = Math.floor((samples + minSize * spi + errorBuffer) / spi);
    return Math.max(minSize, byRatio, inserts);
  }

  /** Applies one delivered batch (once), then runs the schedule's evaluations and checkpoints it crossed. */
  private async ingest(d: Delivery): Promise<void> {
    const b: TransitionBatch = d.batch;
    this.link.batches++;
    if (b.seq <= (this.lastSeq.get(b.actorId) ?? -1)) {
      this.link.duplicates++;
      await d.ack();
      return;
    }
    const before = this.envSteps;
    const maxStale = this.d.maxStaleness ?? 1000;
    for (const t of b.transitions) {
      this.envSteps++;
      this.link.newestActing = Math.max(this.link.newestActing, t.policyVersion ?? 0);
      if (this.learner.updates - (t.policyVersion ?? 0) > maxStale) {
        this.link.stale++;
        if (this.d.dropStale) {
          this.link.dropped++;
          continue;
        }
      }
      this.store(t, t.human === true);
      this.limiter.inserted(1);
    }
    for (const ep of b.episodes) this.endEpisode(ep);
    this.lastSeq.set(b.actorId, b.seq);
    this.unacked.push(d);
    const { evalEvery, checkpointEvery, steps } = this.schedule;
    const crossed = (every: number): boolean => every > 0 && Math.floor(this.envSteps / every) > Math.floor(before / every);
    if (crossed(evalEvery) && this.envSteps < steps) await this.evaluateAndLog();
    if (crossed(checkpointEvery)) this.checkpoint();
  }
}
