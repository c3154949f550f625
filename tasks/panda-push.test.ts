import { describe, expect, it } from 'vitest';
import type { Physics } from '../sim/physics.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { make } from './registry.js';

describe('PandaPush-v0', () => {
  it('a cube pushed off the table ends the episode with at least the penalty the rest of it would have paid, not an escape from the penalties', async () => {
    for (const engine of ['rapier', 'mujoco'] as const) {
      const env = await make('PandaPush-v0', { options: { engine } });
      await env.reset({ seed: 3 });
      const still = new Float32Array(7);
      const onTable = await env.step(still);
      expect(onTable.terminated).toBe(false);
      expect(onTable.reward).toBeLessThan(0);
      // Under the table's edge, as if pushed off it.
      (unwrap(env) as unknown as { physics: Physics }).physics.placeObject('cube', [0.5, 1.2, -0.3]);
      const off = await env.step(still);
      expect(off.terminated).toBe(true);
      expect(off.info.success).toBe(false);
      const cubeToGoal = off.info.metrics?.['cubeToGoal'] as number;
      // Each step's reward is ≤ −‖cube − goal‖; the rest of the episode (≤ 98 steps) would have paid at least 98 of them.
      expect(off.reward).toBeLessThanOrEqual(-98 * cubeToGoal);
      await env.close();
    }
  }, 60_000);
});
