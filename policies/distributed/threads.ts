import type { MessagePort, Worker } from 'node:worker_threads';
import { unpackTransitions } from './packing.js';
import { newer, type ActorTransport, type Delivery, type LearnerTransport, type ParamsMessage } from './transport.js';

/** Messages between the learner thread and actor threads (structured clone; batches are transferred, not copied). */
export type ThreadMessage =
  | { readonly op: 'batch'; readonly bytes: Uint8Array }
  | { readonly op: 'params'; readonly version: number; readonly bytes: Uint8Array }
  | { readonly op: 'error'; readonly message: string }
  | { readonly op: 'finish' };

/** Slots of the shared flow-control counters: [allowed total inserts, sent total]. */
const ALLOWED = 0;
const SENT = 1;

/** The shared memory the learner and its actor threads use for flow control. */
export function flowControlBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
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
  readonly errors: string[] = [];

  constructor(
    private readonly actors: Endpoint[],
    shared: SharedArrayBuffer,
  ) {
    this.counters = new Int32Array(shared);
    for (const a of actors) a.on('message', (m: ThreadMessage) => this.onMessage(m));
  }

  /** Adds an actor (a restarted one) to the broadcast list. */
  attach(actor: Endpoint): void {
    this.actors.push(actor);
    actor.on('message', (m: ThreadMessage) => this.onMessage(m));
  }

  private onMessage(m: ThreadMessage): void {
    if (m.op === 'error') {
      this.errors.push(m.message);
      return;
    }
    if (m.op !== 'batch') return;
    const id = String(this.next++);
    this.queue.push({ batch: unpackTransitions(m.bytes), id, ack: async () => {} });
    this.wake?.();
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

  async begin(inserted: number): Promise<void> {
    Atomics.store(this.counters, SENT, inserted);
  }

  async allowInserts(total: number): Promise<void> {
    Atomics.store(this.counters, ALLOWED, Math.min(total, 0x7fffffff));
    Atomics.notify(this.counters, ALLOWED);
  }

  async finish(): Promise<void> {
    for (const a of this.actors) a.postMessage({ op: 'finish' } satisfies ThreadMessage);
  }

  async close(): Promise<void> {}
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
  ) {
    this.counters = new Int32Array(shared);
    port.on('message', (m: ThreadMessage) => {
      if (m.op === 'params' && newer(0, m.version, this.newest)) this.newest = { version: m.version, bytes: m.bytes };
      if (m.op === 'finish') this.done = true;
    });
  }

  async send(bytes: Uint8Array, count: number, signal?: AbortSignal): Promise<void> {
    // Reserve `count` of the allowance, or wait until the learner raises it.
    for (;;) {
      signal?.throwIfAborted();
      if (this.done) return; // the run is over: the learner takes nothing more
      const allowed = Atomics.load(this.counters, ALLOWED);
      const sent = Atomics.load(this.counters, SENT);
      if (sent + count <= allowed && Atomics.compareExchange(this.counters, SENT, sent, sent + count) === sent) break;
      if (sent + count > allowed) {
        this.waits++;
        // waitAsync lets this thread's event loop (parameter messages) run while it waits.
        await waitAsync(this.counters, ALLOWED, allowed, 100);
      }
    }
    const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    this.port.postMessage({ op: 'batch', bytes: copy } satisfies ThreadMessage, [copy.buffer as ArrayBuffer]);
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
