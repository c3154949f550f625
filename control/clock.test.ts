import { describe, expect, it } from 'vitest';
import { FixedRateClock, sleepUntil } from './clock.js';

describe('sleepUntil / FixedRateClock yield to the event loop', () => {
  it('a deadline already past still lets pending callbacks run before it returns', async () => {
    let ran = false;
    setImmediate(() => (ran = true));
    await sleepUntil(performance.now() - 50);
    expect(ran).toBe(true);
  });

  it('a tick loop that is always behind schedule still lets a timer (a socket, a signal) in', async () => {
    const clock = new FixedRateClock(1000);
    clock.begin();
    let fired = 0;
    const timer = setInterval(() => fired++, 1);
    const busy = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    // Every tick's work (3 ms) is longer than the 1 ms period: the loop never sleeps.
    for (let i = 0; i < 20; i++) {
      await clock.tick();
      busy(3);
    }
    clearInterval(timer);
    expect(fired).toBeGreaterThanOrEqual(10);
    expect(clock.stats().missedDeadlines).toBeGreaterThan(0);
  });
});
