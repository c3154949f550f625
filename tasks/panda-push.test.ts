import { describe, expect, it } from 'vitest';
import type { Physics } from '../sim/physics.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { envEntry, make } from './registry.js';
import { SafetyLimits } from '../control/safety/safety-limits.js';
import type { PandaPush } from './panda-push.js';
import { PANDA_TCP_BOX_MARGIN } from './panda-action.js';

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

  it('in the tool frame under Tier 0, pressing down into the workspace floor while moving sideways slides along it (the TCP target is clipped into the box, not the whole step cut to nothing)', async () => {
    for (const engine of ['rapier', 'mujoco'] as const) {
      const inner = await make('PandaPush-v0', { options: { engine, action: { frame: 'tcp' } }, timeLimit: 1000 });
      const push = unwrap(inner) as PandaPush;
      const env = new SafetyLimits(inner, push, { workspace: push.workspace });
      let { obs } = await env.reset({ seed: 2 });
      // Down to the floor (2 cm above the table), away from the cube (which starts at x ≥ 0.4).
      for (let t = 0; t < 40; t++) ({ obs } = await env.step(Float32Array.of(-0.3, 0, -1)));
      const floor = push.workspace.min[2];
      expect(obs[16] as number).toBeLessThan(floor + PANDA_TCP_BOX_MARGIN + 0.01);
      // Now −z and +y together, as a policy that learned to keep its fingers low does.
      const y0 = obs[15] as number;
      let shortened = 0;
      for (let t = 0; t < 10; t++) {
        const r = await env.step(Float32Array.of(0, 0.5, -1));
        obs = r.obs;
        shortened += r.info.safety?.hits['workspace'] ?? 0;
      }
      // 10 steps of 2.5 cm asked, ~8 cm made (before the clip: 0.000001 m, every step cut to nothing).
      expect((obs[15] as number) - y0).toBeGreaterThan(0.05);
      expect(shortened).toBeLessThan(3);
      // …and the TCP stays near the floor, not below the table.
      expect(obs[16] as number).toBeGreaterThan(0);
      await env.close();
    }
  }, 60_000);

  it('the clip keeps the hold a hold below the workspace floor, and moves any other action back in by at most the margin', async () => {
    const push = unwrap(await make('PandaPush-v0', { options: { action: { frame: 'tcp' } } })) as PandaPush;
    // The TCP (at 10.9 cm) 4 cm below a box's floor: e.g. a robot started low, or the arm coasted there.
    const box = { min: [-0.9, -0.9, 0.15], max: [0.9, 0.9, 1.2] } as const;
    const q = Float64Array.from([0, 0.25, 0, -2.4, 0, 2.65, Math.PI / 4]);
    const { pandaActions } = await import('./panda-action.js');
    const { pandaTcpPose } = await import('./panda.js');
    const { loadDescription } = await import('../sim/descriptions.js');
    const robot = loadDescription('panda');
    const z = (joints: ArrayLike<number>): number => pandaTcpPose(robot, joints).p[2] as number;
    const actions = pandaActions({ frame: 'tcp' });
    const hold = actions.toTargets(actions.hold(0), q, box);
    for (let i = 0; i < 7; i++) expect(Math.abs((hold[i] as number) - (q[i] as number))).toBeLessThan(1e-5);
    // Pressing further down: the target rises (by about the margin, the IK step being first order), never sinks.
    const down = actions.toTargets(Float32Array.of(0, 0, -1), q, box);
    expect(z(down) - z(q)).toBeGreaterThan(0.5 * PANDA_TCP_BOX_MARGIN);
    expect(z(down) - z(q)).toBeLessThan(2 * PANDA_TCP_BOX_MARGIN);
    // Sideways still moves, and lifts back toward the box by no more than the margin.
    const side = actions.toTargets(Float32Array.of(0, 1, 0), q, box);
    expect(Math.max(...side.map((t, i) => Math.abs(t - (q[i] as number))))).toBeGreaterThan(0.01);
    expect(z(side) - z(q)).toBeLessThan(2 * PANDA_TCP_BOX_MARGIN);
    expect(z(side) - z(q)).toBeGreaterThan(0);
    await push.close?.();
  });

  it('PandaPush-v1 is v0 with cube − TCP and goal − cube in decimetres: same states, same rewards, those five entries × 10', async () => {
    const v0 = await make('PandaPush-v0', { options: { action: { frame: 'tcp' } } });
    const v1 = await make('PandaPush-v1', { options: { action: { frame: 'tcp' } } });
    expect(v1.spec.id).toBe('PandaPush-v1');
    const names0 = v0.spec.observationNames as readonly string[];
    const names1 = v1.spec.observationNames as readonly string[];
    expect(names1.slice(0, 25)).toEqual(names0.slice(0, 25));
    expect(names1.slice(25)).toEqual(['cube−tcp x (dm)', 'cube−tcp y (dm)', 'cube−tcp z (dm)', 'goal−cube x (dm)', 'goal−cube y (dm)']);
    let a = (await v0.reset({ seed: 5 })).obs;
    let b = (await v1.reset({ seed: 5 })).obs;
    const expert = envEntry('PandaPush-v1').scripted!(unwrap(v1));
    let moved = 0;
    for (let t = 0; t < 60; t++) {
      for (let i = 0; i < 25; i++) expect(b[i]).toBe(a[i]);
      for (let i = 25; i < 30; i++) expect(b[i] as number).toBeCloseTo(10 * (a[i] as number), 5);
      // Goal − cube in v1 is 10 × (goal − cube) from the metres entries both versions share.
      expect(b[28] as number).toBeCloseTo(10 * ((b[23] as number) - (b[17] as number)), 5);
      const action = expert(b);
      const r0 = await v0.step(action);
      const r1 = await v1.step(action);
      expect(r1.reward).toBe(r0.reward);
      expect(r1.terminated).toBe(r0.terminated);
      moved = Math.max(moved, Math.abs((r1.obs[17] as number) - (b[17] as number)));
      a = r0.obs;
      b = r1.obs;
      if (r0.terminated) break;
    }
    // The expert, reading v1's observation, pushed the cube.
    expect(moved).toBeGreaterThan(0.001);
    await v0.close();
    await v1.close();
  }, 60_000);
});
