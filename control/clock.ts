import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from './running-stats.js';

/** One turn of the event loop: pending I/O callbacks, timers and signal handlers run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A yield point for loops that may run on already-resolved promises (a simulator's steps): the
 * returned function yields to the event loop when `everyMs` have passed since it last did, so
 * Ctrl-C and sockets get in within that time, at almost no cost per call.
 */
export function yielder(everyMs = 20): () => Promise<void> {
  let last = performance.now();
  return async () => {
    const now = performance.now();
    if (now - last < everyMs) return;
    last = now;
    await yieldToEventLoop();
  };
}

/**
 * Calls `f` once `ms` have passed AND the I/O that was ready by then has been handled. Node
 * runs due timers before it polls for I/O, so after a stall longer than a timeout, a plain
 * timer fires before the callback of the answer that arrived in time — a false timeout on a
 * busy machine. Deferring the timeout's action by one setImmediate (which runs after the poll
 * phase) lets that answer in first. Returns the timer, for clearTimeout.
 */
export function setIoTimeout(f: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => setImmediate(f), ms);
}

/**
 * Waits until `deadline` (performance.now() milliseconds): a timer for all but the last
 * ~1.5 ms (timers fire up to ~1 ms late), then yields with setImmediate until the time comes,
 * so I/O callbacks keep running while it waits. Always yields at least once, also when the
 * deadline has already passed: a loop that runs behind schedule must still let sockets and
 * signals in (a late tick loop that returned at once starved them — issue 11). Returns how late
 * it woke, ms (≥ 0).
 */
export async function sleepUntil(deadline: number): Promise<number> {
  const coarse = deadline - performance.now() - 1.5;
  if (coarse > 0) await sleep(coarse);
  do await yieldToEventLoop();
  while (performance.now() < deadline);
  return performance.now() - deadline;
}

/** Period-error statistics of a fixed-rate loop. */
export interface RateStats {
  readonly ticks: number;
  /** Ticks that began more than one period after their deadline. */
  readonly missedDeadlines: number;
  /** |actual tick start − scheduled tick start|, ms. */
  readonly errorP50Ms: number;
  readonly errorP99Ms: number;
  readonly errorMaxMs: number;
}

/**
 * A fixed-rate schedule: tick k is due at start + k / hz. If the loop falls more than a period
 * behind, the schedule skips ahead (never bursts to catch up) and the miss is counted.
 */
export class FixedRateClock {
  readonly periodMs: number;
  private start = 0;
  private k = 0;
  private readonly errors: number[] = [];
  private missed = 0;

  constructor(readonly hz: number) {
    if (!(hz > 0) || !Number.isFinite(hz)) throw new RangeError(`Expected \`hz\` to be a positive finite number, got \`${hz}\``);
    this.periodMs = 1000 / hz;
  }

  /** Starts the schedule now. */
  begin(): void {
    this.start = performance.now();
    this.k = 0;
  }

  /** Deadline of the next tick, ms. */
  get nextDeadline(): number {
    return this.start + (this.k + 1) * this.periodMs;
  }

  /** Waits for the next tick; returns its deadline. */
  async tick(): Promise<number> {
    let deadline = this.nextDeadline;
    const now = performance.now();
    if (now > deadline + this.periodMs) {
      // More than a period behind: skip the missed ticks instead of bursting.
      const behind = Math.floor((now - deadline) / this.periodMs);
      this.missed += behind;
      this.k += behind;
      deadline = this.nextDeadline;
    }
    const late = await sleepUntil(deadline);
    this.errors.push(late);
    this.k++;
    return deadline;
  }

  stats(): RateStats {
    const e = this.errors;
    return { ticks: e.length, missedDeadlines: this.missed, errorP50Ms: percentile(e, 0.5), errorP99Ms: percentile(e, 0.99), errorMaxMs: percentile(e, 1) };
  }
}
