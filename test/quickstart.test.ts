import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

describe("the README's quick start", () => {
  // Its promise of time is measured by `npm run bench -- quickstart`; this checks its promise of
  // result: the run ends balanced (≥ −200, every evaluation episode balanced) and says how long it took.
  it('`roborl train configs/pendulum-sac-quick.yaml` ends balanced, 10 of 10, and prints the elapsed time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-quick-'));
    const { stdout } = await run(process.execPath, [bin, 'train', fileURLToPath(new URL('../configs/pendulum-sac-quick.yaml', import.meta.url)), '--run-dir', join(dir, 'run'), '--quiet'], { timeout: 600_000 });
    expect(stdout).toMatch(/pendulum-sac-quick: 6000 env steps in (\d+ min )?[\d.]+ s/);
    const evals = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; returnMean: number; successRate: number; episodes: number })
      .filter((r) => r.type === 'eval');
    const final = evals.at(-1)!;
    expect(final.episodes).toBe(10);
    expect(final.returnMean).toBeGreaterThanOrEqual(-200);
    expect(final.successRate).toBe(1);
  }, 600_000); // a hang guard only: the run is bounded by its 6,000 steps
});
