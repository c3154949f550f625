import { describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { make } from '../tasks/registry.js';
import type { PandaReach } from '../tasks/panda-reach.js';
import { loadDescription } from '../sim/descriptions.js';
import type { PandaKeepOut } from '../tasks/panda-keep-out.js';
import { PANDA_READY, PANDA_TABLE_OBJECT } from '../tasks/panda.js';
import { MeasuredPhysics } from './measured-physics.js';
import { robotTask, robotTaskIds } from './task.js';

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
    await env.close();
  });

  it('is the simulated task itself: every Panda task without a free object runs on a robot; one that reads an object is refused naming it', async () => {
    expect(robotTaskIds()).toEqual(expect.arrayContaining(['PandaReach-v0', 'PandaKeepOut-v0']));
    expect(robotTaskIds()).not.toContain('PandaPush-v0');
    expect(robotTaskIds()).not.toContain('PandaPush-v1');
    expect(() => robotTask('PandaPush-v0')).toThrow(/PandaPush-v0 cannot run on a robot: the task needs the pose of `cube`, which a robot does not measure/);
    expect(() => robotTask('Pendulum-v1')).toThrow(/Pendulum-v1 has no physics to measure/);
    expect(() => robotTask('CartPoleContinuous-v0')).toThrow(/CartPoleContinuous-v0 cannot run on a robot: its actions do not command joint positions/);
    // The keep-out task (three costs, a 26-d observation with the keep-out offset) comes across
    // whole: its step outcome from a measured state equals the simulator's from the same state.
    const env = await make('PandaKeepOut-v0');
    const sim = unwrap(env) as PandaKeepOut;
    const task = robotTask('PandaKeepOut-v0');
    expect(task.spec).toMatchObject({ id: 'PandaKeepOut-v0', constraints: ['keep_out', 'joint_velocity', 'table_contact'], kind: 'real' });
    const r = new Rng(4);
    const { obs } = await env.reset({ seed: 4 });
    task.startPositions(r);
    const first = task.beginEpisode(r, sim.jointPositions(), sim.jointVelocities());
    for (let i = 0; i < 26; i++) expect(Math.abs(first[i]! - obs[i]!)).toBeLessThan(2e-3);
    const a = Float32Array.from({ length: 7 }, (_, i) => (i % 2 ? 0.5 : -0.5));
    // The robot receives the joint targets the simulated servos receive.
    expect(Array.from(task.actionToTargets(a, sim.jointPositions()))).toEqual(Array.from(sim.targetsFor(a, sim.jointPositions())));
    const s = await env.step(a);
    const o = task.outcome(a, sim.jointPositions(), sim.jointVelocities());
    expect(o.costs.length).toBe(3);
    expect(o.costs[0]).toBe(s.costs[0]);
    expect(Math.abs(o.reward - s.reward)).toBeLessThan(2e-3);
    await env.close();
  });

  it("takes the task's options (the action frame); a gripper action gives the robot its gripper (finger joints, each finger's target), and Tier 0's way back keeps its entry", () => {
    const tcp = robotTask('PandaReach-v0', { action: { frame: 'tcp' } });
    expect(tcp.spec.actionNames).toEqual(['Δtcp x', 'Δtcp y', 'Δtcp z']);
    expect(tcp.gripper).toBeUndefined();
    const task = robotTask('PandaReach-v0', { action: { frame: 'joint', gripper: true } });
    expect(task.gripper?.joints).toEqual(['panda_finger_joint1', 'panda_finger_joint2']);
    expect(task.gripper?.start).toBe(0.04);
    const close = Float32Array.of(0, 0, 0, 0, 0, 0, 0, -1);
    expect(task.gripper?.opening(close)).toBe(0);
    expect(task.gripper?.opening(Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0.5))).toBeCloseTo(0.03, 9);
    const q = PANDA_READY;
    expect(task.targetsToAction(task.actionToTargets(close, q), q, close)[7]).toBe(-1);
  });

  it('a robot task refuses a NaN joint state and never steps a physics', () => {
    const task = robotTask('PandaReach-v0');
    const start = task.startPositions(new Rng(0));
    const q = Array.from(start);
    q[3] = Number.NaN;
    expect(() => task.beginEpisode(new Rng(0), q, new Float64Array(7))).toThrow(/measured joint state of panda_joint4 is not finite/);
    const physics = new MeasuredPhysics({ robot: loadDescription('panda'), actuation: { mode: 'position' }, timing: { dt: 0.004, substeps: 10 }, objects: [PANDA_TABLE_OBJECT] });
    expect(() => physics.step()).toThrow(/a robot is not stepped/);
    // Geometric contact: the TCP 1 cm over the table top touches it, 10 cm over does not.
    physics.measure(PANDA_READY, new Float64Array(7));
    expect(physics.touching(['panda_tcp'], 'table')).toBe(false);
    expect(() => physics.objectPose('cube')).toThrow(/no fixture "cube"/);
  });
});
