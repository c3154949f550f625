import { beforeAll, describe, expect, it } from 'vitest';
import { loadDescription } from './descriptions.js';
import type { Vec3 } from './math3d.js';
import { loadMujoco } from './mujoco/module.js';
import { createPhysics } from './physics-task.js';
import { ENGINES, type Physics } from './physics.js';
import { loadRapier } from './rapier.js';
import { parseUrdf } from './urdf/parse.js';
import { forwardKinematics, gripperJoints, movableJoints } from './urdf/kinematics.js';
import { PANDA_READY, PANDA_TABLE_OBJECT, pandaIkStep } from '../tasks/panda.js';

beforeAll(async () => {
  await loadRapier();
  await loadMujoco();
});

const FINGERS = ['panda_leftfinger', 'panda_rightfinger'] as const;

function pandaWithCube(engine: (typeof ENGINES)[number], mass = 0.05): Physics {
  return createPhysics(
    {
      robot: loadDescription('panda'),
      actuation: { mode: 'position', gravityCompensation: true },
      timing: { dt: 0.004, substeps: 10, gravity: [0, 0, -9.81], pgsIterations: 8 },
      objects: [PANDA_TABLE_OBJECT, { name: 'cube', kind: 'box', size: [0.025, 0.025, 0.025], position: [0.5, 0, 0.025], mass, friction: 1 }],
    },
    engine,
  );
}

/** Drives the TCP toward `goal` for `steps` control periods (IK on the joint servos) with the fingers at `opening`. */
function drive(p: Physics, goal: Vec3, steps: number, opening: number): void {
  const robot = p.robot;
  const q = new Float64Array(7);
  const qd = new Float64Array(7);
  p.commandFingers?.(opening);
  for (let i = 0; i < steps; i++) {
    p.readJointState(q, qd);
    const dq = pandaIkStep(robot, q, goal, 0.03);
    p.command(Array.from(q, (v, k) => v + (dq[k] as number)));
    p.step();
  }
}

describe('the Panda description’s gripper', () => {
  it('has two coupled prismatic fingers (0–4 cm each) outside q: the arm keeps its 7 joints', () => {
    const robot = loadDescription('panda');
    expect(movableJoints(robot)).toHaveLength(7);
    const fingers = gripperJoints(robot);
    expect(fingers.map((j) => [j.name, j.type, j.limit?.lower, j.limit?.upper])).toEqual([
      ['panda_finger_joint1', 'prismatic', 0, 0.04],
      ['panda_finger_joint2', 'prismatic', 0, 0.04],
    ]);
    expect(fingers[1]?.mimic).toEqual({ joint: 'panda_finger_joint1', multiplier: 1, offset: 0 });
    // Forward kinematics: the pads' inner faces 2·opening apart, across the hand.
    const open = forwardKinematics(robot, PANDA_READY, undefined, 0.03);
    const gap = Math.hypot(...[0, 1, 2].map((i) => (open.get('panda_leftfinger')?.p[i] as number) - (open.get('panda_rightfinger')?.p[i] as number)));
    expect(gap).toBeCloseTo(0.06, 9);
  });

  it('a <mimic> naming an unknown joint, itself or another mimic is refused by name', () => {
    const urdf = (mimic: string) => `<robot name="g"><link name="a"/><link name="b"/><link name="c"/>
      <joint name="j1" type="prismatic"><parent link="a"/><child link="b"/><limit lower="0" upper="0.04" effort="5" velocity="0.1"/></joint>
      <joint name="j2" type="prismatic"><parent link="a"/><child link="c"/><limit lower="0" upper="0.04" effort="5" velocity="0.1"/>${mimic}</joint></robot>`;
    expect(gripperJoints(parseUrdf(urdf('<mimic joint="j1" multiplier="1"/>'))).map((j) => j.name)).toEqual(['j1', 'j2']);
    expect(() => parseUrdf(urdf('<mimic joint="nope"/>'))).toThrow(/joint "j2" <mimic>: unknown joint "nope"/);
    expect(() => parseUrdf(urdf('<mimic joint="j2"/>'))).toThrow(/joint "j2" <mimic>: .*the joint itself/);
    expect(() => parseUrdf(urdf('<mimic joint="j1" multiplier="x"/>'))).toThrow(/<mimic> multiplier: expected a decimal number/);
  });
});

describe.each(ENGINES)('the gripper on %s', (engine) => {
  it('opens and closes on one command, both fingers together, and setJointState places them at the command', () => {
    const p = pandaWithCube(engine);
    const f = new Float64Array(2);
    p.restore();
    p.readFingers?.(f);
    expect(Array.from(f, (v) => Math.abs(v) < 1e-3)).toEqual([true, true]); // closed after a restore
    p.commandFingers?.(0.04);
    p.setJointState(PANDA_READY);
    p.readFingers?.(f);
    expect(Array.from(f, (v) => Math.abs(v - 0.04) < 1e-3)).toEqual([true, true]);
    p.commandFingers?.(0.01);
    for (let i = 0; i < 15; i++) p.step();
    p.readFingers?.(f);
    expect(Array.from(f, (v) => Math.abs(v - 0.01) < 2e-3)).toEqual([true, true]);
    p.commandFingers?.(1); // clipped to the 4 cm limit
    for (let i = 0; i < 15; i++) p.step();
    p.readFingers?.(f);
    expect(Array.from(f, (v) => Math.abs(v - 0.04) < 2e-3)).toEqual([true, true]);
    expect(() => p.commandFingers?.(Number.NaN)).toThrow(/finite/);
    p.close();
  });

  it.each([0.02, 0.05])('grasps a 5 cm, %s kg cube between both pads (both touch it), lifts it 15 cm and lets go when opened', (mass) => {
    const p = pandaWithCube(engine, mass);
    p.restore();
    p.commandFingers?.(0.04);
    p.setJointState(PANDA_READY);
    drive(p, [0.5, 0, 0.15], 40, 0.04);
    drive(p, [0.5, 0, 0.025], 30, 0.04);
    expect(FINGERS.map((l) => p.touching([l], 'cube'))).toEqual([false, false]);
    drive(p, [0.5, 0, 0.025], 15, 0);
    expect(FINGERS.map((l) => p.touching([l], 'cube'))).toEqual([true, true]);
    const f = new Float64Array(2);
    p.readFingers?.(f);
    // Stopped by the cube (5 cm wide), not closed: within 7 mm of its faces (contact softness).
    for (const v of f) expect(v).toBeGreaterThan(0.018);
    drive(p, [0.5, 0, 0.2], 50, 0);
    const lifted = p.objectPose('cube').p;
    expect(lifted[2]).toBeGreaterThan(0.15);
    expect(FINGERS.map((l) => p.touching([l], 'cube'))).toEqual([true, true]);
    // Carried sideways too: it stays between the pads.
    drive(p, [0.4, 0.1, 0.25], 40, 0);
    const carried = p.objectPose('cube').p;
    expect(Math.hypot(carried[0] - 0.4, carried[1] - 0.1)).toBeLessThan(0.03);
    expect(carried[2]).toBeGreaterThan(0.2);
    drive(p, [0.4, 0.1, 0.25], 25, 0.04);
    expect(p.objectPose('cube').p[2]).toBeLessThan(0.03); // dropped onto the table
    p.close();
  });
});
