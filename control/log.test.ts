import { describe, expect, it } from 'vitest';
import { rateLimitedLog, truncateEcho } from './log.js';

describe('bounded logging of untrusted input', () => {
  it('truncates long echoes and says how much was cut', () => {
    const long = 'x'.repeat(11_000_000);
    const cut = truncateEcho(long);
    expect(cut.length).toBeLessThan(300);
    expect(cut).toMatch(/10999800 more characters/);
    expect(truncateEcho('short')).toBe('short');
  });

  it('writes at most N lines a second and reports how many it suppressed', async () => {
    const lines: string[] = [];
    const log = rateLimitedLog((l) => lines.push(l), 5);
    for (let i = 0; i < 10_000; i++) log(`bad message ${i}: ${'y'.repeat(2000)}`);
    expect(lines).toHaveLength(5);
    expect(lines.every((l) => l.length < 600)).toBe(true);
    await new Promise((r) => setTimeout(r, 1050));
    log('later');
    expect(lines.at(-2)).toBe('(9995 similar log lines suppressed)');
    expect(lines.at(-1)).toBe('later');
  });
});
