import type { TransitionBatch } from './packing.js';

/** The newest parameters: a policy snapshot blob and its version (actors keep only the newest). */
export interface ParamsMessage {
  readonly version: number;
  /** The learner incarnation that published it (a restarted learner's parameters supersede older ones whatever their version). */
  readonly generation?: number;
  readonly bytes: Uint8Array;
}

/** One batch the learner received; `ack` once it is in the replay table (at-least-once delivery). */
export interface Delivery {
  readonly batch: TransitionBatch;
  /** The transport's id of the entry (Redis stream id, or a counter). */
  readonly id: string;
  ack(): Promise<void>;
}

/**
 * The learner's end of the actor ↔ learner link. Implemented over worker threads (one machine)
 * and Redis Streams (across machines); both pass the same behaviour tests.
 */
export interface LearnerTransport {
  /** Batches that arrived (and, after a learner restart, ones delivered but never acknowledged), waiting up to `waitMs` for the first. */
  receive(waitMs: number): Promise<Delivery[]>;
  /** Announces new parameters; actors adopt the newest and drop older ones (conflation). */
  publish(params: ParamsMessage): Promise<void>;
  /** A learner starts (see {@link LearnerStart}). */
  begin(start: LearnerStart): Promise<void>;
  /**
   * Flow control: the total number of transitions all actors together may have sent since
   * {@link begin} re-based the count — the rate limiter's insert limit plus everything the
   * learner received and did not insert (duplicates, stale drops, refused and corrupt entries),
   * so those never shrink the window.
   */
  allowInserts(total: number): Promise<void>;
  /**
   * Transitions that reached the transport but can never be delivered (a corrupt entry, as far
   * as its envelope tells), since the last call: the learner returns them to the window.
   */
  takeUndeliverable(): { readonly batches: number; readonly transitions: number };
  /** Tells the actors the run is over (they stop). */
  finish(): Promise<void>;
  close(): Promise<void>;
}

/** What a starting learner tells its transport. */
export interface LearnerStart {
  /** Transitions the learner holds: re-bases the actors' shared send counter. */
  readonly inserted: number;
  /** A new run (anything an earlier run of the same id left is cleared), else a resume. */
  readonly fresh: boolean;
  /**
   * The newest incarnation (epoch) the learner knows of each actor id: a transport that hands
   * out epochs makes sure a restarted actor gets a larger one even if the broker lost its count.
   */
  readonly epochs?: ReadonlyMap<string, number>;
}

/** An actor's end. */
export interface ActorTransport {
  /**
   * Sends one packed batch of `count` transitions. Waits (yielding) while the learner's
   * allowance is spent; resolves once the transport holds the batch (Redis: XADD acknowledged).
   * Never drops data silently: a broker that refuses is retried with backoff and reported. Once
   * the learner has finished the run, it returns without sending (nothing more is wanted).
   */
  send(bytes: Uint8Array, count: number, signal?: AbortSignal): Promise<void>;
  /** The newest parameters seen, or null before the learner published any. */
  params(): ParamsMessage | null;
  /** True once the learner said the run is over. */
  finished(): boolean;
  close(): Promise<void>;
}

/** Whether (generation, version) is newer than what an actor has: a restarted learner (a later generation) wins even with a lower version. */
export function newer(generation: number, version: number, have: ParamsMessage | null): boolean {
  if (!Number.isFinite(generation) || !Number.isFinite(version)) return false;
  if (!have) return true;
  const g = have.generation ?? 0;
  return generation > g || (generation === g && version > have.version);
}
