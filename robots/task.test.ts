import { describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { make } from '../tasks/registry.js';
import type { PandaReach } from '../tasks/panda-reach.js';
import { robotTask } from './task.js';

describe('robot task definitions agree with the simulated task', () => {
  it('PandaReach-v0: same goal per seed, and the same observation, reward and success from the measured joint state', async () => {
    const env = await make('PandaReach-v0');
    const sim = unwrap(env) as PandaReach;
    const task = robotTask('PandaReach-v0');
    expect(task.spec.observationSpace).toEqual(env.spec.observationSpace);
    expect(task.spec.actionSpace).toEqual(env.spec.actionSpace);
    expect(task.jointNames).toEqual(sim.jointNames);
    const rng = new Rng(0);
    for (let seed = 0; seed < 3; seed++) {
      const { obs } = await env.reset({ seed });
      const r = new Rng(seed);
      const start = task.startPositions(r);
      // The simulated arm started exactly where the robot task would drive it.
      Array.from(start).forEach((q, i) => expect(q).toBeCloseTo(obs[i] as number, 5));
      const robotObs = task.beginEpisode(r, sim.jointPositions(), sim.jointVelocities());
      for (let i = 0; i < 23; i++) expect(robotObs[i]).toBeCloseTo(obs[i] as number, 4);
      for (let t = 0; t < 10; t++) {
        const a = Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1));
        const s = await env.step(a);
        const o = task.outcome(a, sim.jointPositions(), sim.jointVelocities());
        // Joint readings agree exactly; TCP from kinematics vs the simulated bodies (whose impulse
        // joints give a little under load) within 2 mm.
        for (let i = 0; i < 14; i++) expect(o.obs[i]).toBe(s.obs[i]);
        for (let i = 14; i < 23; i++) expect(Math.abs(o.obs[i]! - s.obs[i]!)).toBeLessThan(2e-3);
        expect(Math.abs(o.reward - s.reward)).toBeLessThan(2e-3);
        expect(o.success).toBe(s.info.success === true);
        expect(o.costs[0]).toBe(s.costs[0]);
        if (s.terminated) break;
      }
      // The robot task draws the same scene from the measured joints (URDF forward kinematics)
      // as the simulator from its bodies: same shapes, poses within 3 mm.
      const simScene = sim.scene();
      const robotScene = task.scene?.(sim.jointPositions());
      expect(robotScene?.shapes).toEqual(simScene.shapes);
      const far = simScene.poses.map((v, i) => (i % 7 < 3 ? Math.abs(v - (robotScene?.poses[i] as number)) : 0));
      expect(Math.max(...far)).toBeLessThan(3e-3);
    }
    expect(() => robotTask('PandaPush-v0')).toThrow(/no robot task definition for "PandaPush-v0" \(available: PandaReach-v0\)/);
  });
});
