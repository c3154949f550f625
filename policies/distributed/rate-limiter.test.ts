import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter (Reverb SampleToInsertRatio)', () => {
  it('nothing samples before minSize inserts; then the ratio is held within the error buffer whichever side is faster', () => {
    const rl = new RateLimiter({ samplesPerInsert: 4, minSize: 10, errorBuffer: 8 });
    expect(rl.canSample(1)).toBe(false);
    for (let i = 0; i < 10; i++) {
      expect(rl.canInsert()).toBe(true);
      rl.inserted(1);
    }
    // A fast actor: inserts until the learner is 8 samples behind, then waits.
    let extra = 0;
    while (rl.canInsert()) {
      rl.inserted(1);
      extra++;
    }
    expect(extra).toBe(2); // 2 inserts · 4 = 8 samples owed
    expect(rl.stalls.insert).toBe(1);
    // A fast learner: samples until it is 8 ahead of the ratio, then waits.
    let sampled = 0;
    while (rl.canSample(1)) {
      rl.sampled(1);
      sampled++;
    }
    expect(sampled).toBe(16); // 8 owed + 8 of slack
    expect(rl.canInsert()).toBe(true);
  });

  it('over a long run with a 3x faster actor the ratio stays within ±10% of its setting', () => {
    const rl = new RateLimiter({ samplesPerInsert: 256, minSize: 100, errorBuffer: 2560 });
    for (let tick = 0; tick < 100_000; tick++) {
      for (let k = 0; k < 3; k++) if (rl.canInsert()) rl.inserted(1);
      if (tick % 3 === 0 && rl.canSample(256)) rl.sampled(256);
    }
    expect(Math.abs(rl.ratio() / 256 - 1)).toBeLessThan(0.1);
  });

  it('refuses settings that cannot work, with the value', () => {
    expect(() => new RateLimiter({ samplesPerInsert: Number.NaN, minSize: 1, errorBuffer: 1 })).toThrow(/samplesPerInsert.*NaN/);
    expect(() => new RateLimiter({ samplesPerInsert: 4, minSize: 0, errorBuffer: 8 })).toThrow(/minSize/);
    expect(() => new RateLimiter({ samplesPerInsert: 4, minSize: 1, errorBuffer: 2 })).toThrow(/deadlocks/);
  });
});
