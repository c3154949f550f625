import { describe, expect, it } from 'vitest';
import { allocBatch } from '../policies/replay.js';
import { validateConfig } from '../experiment/config.js';
import { recordDemonstrations } from '../experiment/demos.js';

describe('record-demos records through the env stack training uses', () => {
  it('stores the executed (Tier 0 filtered) actions and the declared costs of the config, as training stores them', async () => {
    const config = validateConfig(
      {
        name: 'demos',
        env: { id: 'PandaReach-v0' },
        algo: { kind: 'sac' },
        train: { steps: 1 },
        safety: { limits: { maxActionRate: 0.05 }, constraints: [{ name: 'low_tcp', cost: 'tcp[3] < 0.15' }] },
      },
      'test',
    );
    const { table } = await recordDemonstrations(config, 1, 5_000_000, true);
    expect(table.spec.costDim).toBe(3); // joint_velocity, table_contact and the declared low_tcp
    const b = allocBatch(table.spec, 1);
    const action = (i: number): number[] => {
      table.writeRow(b, 0, i, 0.99, 1);
      return Array.from(b.action);
    };
    // The scripted expert's actions jump by more than 0.05 between steps; the rate limit lets each
    // executed action move at most 0.05 from the previous one, and that is what is stored.
    let largest = 0;
    for (let i = 1; i < table.size; i++) {
      const [prev, next] = [action(i - 1), action(i)];
      largest = Math.max(largest, ...next.map((v, k) => Math.abs(v - prev[k]!)));
    }
    expect(largest).toBeLessThanOrEqual(0.05 + 1e-6);
    expect(largest).toBeGreaterThan(0.049); // the limit was active: unfiltered, the steps were larger
  }, 60_000);
});
