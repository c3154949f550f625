import type { MessagePort, Worker } from 'node:worker_threads';
import { CorruptBatchError, unpackTransitions } from './packing.js';
import { newer, type ActorTransport, type Delivery, type LearnerStart, type LearnerTransport, type ParamsMessage } from './transport.js';

/** Messages between the learner thread and actor threads (structured clone; batches are transferred, not copied). */
export type ThreadMessage =
  | { readonly op: 'batch'; readonly bytes: Uint8Array; readonly count: number }
  | { readonly op: 'params'; readonly version: number; readonly bytes: Uint8Array }
  | { readonly op: 'error'; readonly message: string }
  | { readonly op: 'finish' }
  /** A robot's actor (issue 22): its env is connected (or not: an 'error' first), and it waits for 'start'. */
  | { readonly op: 'ready' }
  /** A robot's actor reports its step periods since the last report, its link's counters and whether the person pressed the e-stop. */
  | { readonly op: 'robot'; readonly periodsMs: Float64Array; readonly link: Readonly<Record<string, number>>; readonly estop: boolean }
  | { readonly op: 'start' };

/**
 * Slots of the shared flow-control counters: [allowed total inserts, sent total], then one
 * "reserved" counter per actor slot (what that slot's actor has taken from the window in this
 * learner's life), so what a killed actor reserved and never posted can be given back.
 */
const ALLOWED = 0;
const SENT = 1;
const RESERVED = 2;
/** Actor slots in one flow-control buffer (distributed.actors is at most 64). */
export const MAX_ACTOR_SLOTS = 64;

/** The shared memory the learner and its actor threads use for flow control. */
export function flowControlBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((RESERVED + MAX_ACTOR_SLOTS) * Int32Array.BYTES_PER_ELEMENT);
}

type Endpoint = Pick<Worker, 'on' | 'off' | 'postMessage'> | Pick<MessagePort, 'on' | 'off' | 'postMessage'>;

/**
 * The learner's end over worker_threads: batches arrive as transferred buffers; parameters go to
 * every actor (each keeps the newest); the allowance is a shared counter actors wait on with
 * Atomics. Deliveries need no acknowledgement (nothing is in flight outside this process).
 */
export class ThreadsLearnerTransport implements LearnerTransport {
  private readonly queue: Delivery[] = [];
  private wake: (() => void) | null = null;
  private readonly counters: Int32Array;
  private next = 0;
  /** Transitions delivered per actor slot in this learner's life. */
  private readonly delivered = new Float64Array(MAX_ACTOR_SLOTS);
  private undeliverable = { batches: 0, transitions: 0 };
  readonly errors: string[] = [];
  /** Batches that could not be unpacked (counted, dropped, their window given back). */
  corrupt = 0;

  constructor(
    private readonly actors: Endpoint[],
    shared: SharedArrayBuffer,
  ) {
    this.counters = new Int32Array(shared);
    actors.forEach((a, slot) => a.on('message', (m: ThreadMessage) => this.onMessage(m, slot)));
  }

  /** Batches handed to the learner so far (queued or taken by {@link receive}; corrupt ones are not counted). */
  get batchesDelivered(): number {
    return this.next;
  }

  /** Adds an actor (a restarted one) in `slot` to the broadcast list. */
  attach(actor: Endpoint, slot = 0): void {
    checkSlot(slot);
    this.actors.push(actor);
    actor.on('message', (m: ThreadMessage) => this.onMessage(m, slot));
  }

  /**
   * The actor in `slot` is gone (its thread exited: every message it posted has been delivered
   * by then). What it reserved from the window and never posted is given back, so a thread
   * killed between counting and sending does not shrink the window for good.
   */
  detach(actor: Endpoint, slot = 0): void {
    checkSlot(slot);
    const i = this.actors.indexOf(actor);
    if (i >= 0) this.actors.splice(i, 1);
    const lost = Atomics.load(this.counters, RESERVED + slot) - (this.delivered[slot] as number);
    if (lost > 0) Atomics.sub(this.counters, SENT, lost);
    Atomics.store(this.counters, RESERVED + slot, 0);
    this.delivered[slot] = 0;
  }

  private onMessage(m: ThreadMessage, slot: number): void {
    switch (m.op) {
      case 'error':
        this.errors.push(m.message);
        return;
      case 'batch': {
        this.delivered[slot] = (this.delivered[slot] as number) + m.count;
        try {
          this.queue.push({ batch: unpackTransitions(m.bytes), id: String(this.next++), ack: async () => {} });
        } catch (err) {
          if (!(err instanceof CorruptBatchError)) throw err;
          this.corrupt++;
          this.undeliverable.batches++;
          this.undeliverable.transitions += m.count;
          this.errors.push(`dropped a corrupt batch from actor slot ${slot}: ${err.message}`);
        }
        this.wake?.();
        return;
      }
      case 'params':
      case 'finish':
      case 'ready':
      case 'robot':
      case 'start':
        return;
      default:
        m satisfies never;
    }
  }

  async receive(waitMs: number): Promise<Delivery[]> {
    if (!this.queue.length && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.queue.splice(0);
  }

  async publish(params: ParamsMessage): Promise<void> {
    for (const a of this.actors) a.postMessage({ op: 'params', version: params.version, bytes: params.bytes } satisfies ThreadMessage);
  }

  async begin(start: LearnerStart): Promise<void> {
    Atomics.store(this.counters, SENT, start.inserted);
    for (let slot = 0; slot < MAX_ACTOR_SLOTS; slot++) Atomics.store(this.counters, RESERVED + slot, 0);
    this.delivered.fill(0);
  }

  async allowInserts(total: number): Promise<void> {
    Atomics.store(this.counters, ALLOWED, Math.min(total, 0x7fffffff));
    Atomics.notify(this.counters, ALLOWED);
  }

  takeUndeliverable(): { batches: number; transitions: number } {
    const n = this.undeliverable;
    this.undeliverable = { batches: 0, transitions: 0 };
    return n;
  }

  async finish(): Promise<void> {
    for (const a of this.actors) a.postMessage({ op: 'finish' } satisfies ThreadMessage);
  }

  async close(): Promise<void> {}
}

function checkSlot(slot: number): void {
  if (!(Number.isInteger(slot) && slot >= 0 && slot < MAX_ACTOR_SLOTS)) throw new RangeError(`Expected an actor slot in [0, ${MAX_ACTOR_SLOTS}), got \`${slot}\``);
}

/** An actor thread's end: sends transferred batches, waits on the shared allowance, keeps the newest parameters. */
export class ThreadsActorTransport implements ActorTransport {
  private newest: ParamsMessage | null = null;
  private readonly counters: Int32Array;
  /** Times this actor waited for the learner's allowance. */
  waits = 0;
  private done = false;

  constructor(
    private readonly port: Pick<MessagePort, 'on' | 'postMessage'>,
    shared: SharedArrayBuffer,
    /** This actor's slot in the flow-control buffer (its index among the run's actors). */
    private readonly slot = 0,
  ) {
    checkSlot(slot);
    this.counters = new Int32Array(shared);
    port.on('message', (m: ThreadMessage) => {
      if (m.op === 'params' && newer(0, m.version, this.newest)) this.newest = { version: m.version, bytes: m.bytes };
      if (m.op === 'finish') this.done = true;
    });
  }

  async send(bytes: Uint8Array, count: number, signal?: AbortSignal): Promise<void> {
    // Reserve `count` of the allowance, or wait until the learner raises it. The slot's own
    // reservation is counted first: a thread killed between the two then gives back a little
    // too much (harmless) rather than losing window for good.
    for (;;) {
      signal?.throwIfAborted();
      if (this.done) return; // the run is over: the learner takes nothing more
      const allowed = Atomics.load(this.counters, ALLOWED);
      const sent = Atomics.load(this.counters, SENT);
      if (sent + count <= allowed) {
        Atomics.add(this.counters, RESERVED + this.slot, count);
        if (Atomics.compareExchange(this.counters, SENT, sent, sent + count) === sent) break;
        Atomics.sub(this.counters, RESERVED + this.slot, count);
      } else {
        this.waits++;
        // waitAsync lets this thread's event loop (parameter messages) run while it waits.
        await waitAsync(this.counters, ALLOWED, allowed, 100);
      }
    }
    const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    this.port.postMessage({ op: 'batch', bytes: copy, count } satisfies ThreadMessage, [copy.buffer as ArrayBuffer]);
  }

  params(): ParamsMessage | null {
    return this.newest;
  }

  finished(): boolean {
    return this.done;
  }

  async close(): Promise<void> {}
}

/** Atomics.waitAsync (Node ≥ 16; not in TypeScript's ES2022 lib). */
function waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): Promise<unknown> {
  const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<unknown> | string } }).waitAsync(array, index, value, timeoutMs);
  return r.async ? (r.value as Promise<unknown>) : Promise.resolve(r.value);
}
