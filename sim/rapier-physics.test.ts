import { beforeAll, describe, expect, it } from 'vitest';
import { loadMujoco } from './mujoco/module.js';
import { MujocoPhysics } from './mujoco/physics.js';
import type { Physics, PhysicsModel } from './physics.js';
import { loadRapier } from './rapier.js';
import { RapierPhysics } from './rapier-physics.js';
import { PANDA_READY } from '../tasks/panda.js';
import { PandaPickCube } from '../tasks/panda-pick.js';
import { PandaReach } from '../tasks/panda-reach.js';

beforeAll(async () => {
  await Promise.all([loadRapier(), loadMujoco()]);
});

/** The physics model a task builds (its engine factory sees it). */
function modelOf(build: (engine: (m: PhysicsModel) => Physics) => { close(): void }): PhysicsModel {
  let model: PhysicsModel | null = null;
  build((m) => {
    model = m;
    return new RapierPhysics(m);
  }).close();
  if (!model) throw new Error('the task built no physics');
  return model;
}

const reachModel = (): PhysicsModel => modelOf((engine) => new PandaReach({ engine }));

/** A link collider's position in the scene, by its `link#i` name. */
function shapePosition(p: Physics, name: string): number[] {
  const scene = p.scene();
  const i = scene.shapes.findIndex((s) => s.name === name);
  if (i < 0) throw new Error(`no shape ${name}`);
  return scene.poses.slice(7 * i, 7 * i + 3);
}

describe('Rapier physics of the Panda tasks (issue 21: Rapier faster)', () => {
  it('a task without a gripper action welds the closed fingers to the hand: no finger joints to solve, the pads still in the scene where the servoed fingers are', () => {
    const welded = new RapierPhysics(reachModel());
    const pick = modelOf((engine) => new PandaPickCube({ engine }));
    const servoed = new RapierPhysics({ ...pick, objects: reachModel().objects });
    try {
      expect(welded.fingers).toEqual([]);
      expect(servoed.fingers.map((j) => j.name)).toEqual(['panda_finger_joint1', 'panda_finger_joint2']);
      for (const p of [welded, servoed]) {
        p.restore();
        p.setJointState(PANDA_READY);
      }
      for (const pad of ['panda_leftfinger#0', 'panda_rightfinger#0']) {
        const [a, b] = [shapePosition(welded, pad), shapePosition(servoed, pad)];
        for (let k = 0; k < 3; k++) expect(Math.abs(a[k]! - b[k]!)).toBeLessThan(1e-4);
      }
    } finally {
      welded.close();
      servoed.close();
    }
  });

  /**
   * MuJoCo's articulated solver moves joint 2 by 25.5 mrad within the period. Rapier with its
   * impulse joints created root first moved it 4.6 mrad (18%: the servo's torque reached the
   * links beyond over many solver sweeps); children first, at the reach task's 4 × 5 iterations
   * per step, 11.6 mrad (45%; 55% at 4 × 8, 76% at 8 × 8).
   */
  it('the shoulder follows a target step as MuJoCo does: within one control period of an 80 mrad step on joint 2, Rapier moves at least 40% as far', () => {
    const model = reachModel();
    const moved: number[] = [];
    for (const p of [new RapierPhysics(model), new MujocoPhysics(model)]) {
      p.restore();
      p.setJointState(PANDA_READY);
      const target = Float64Array.from(PANDA_READY);
      target[1] = target[1]! + 0.08;
      p.command(target);
      p.step();
      const q = new Float64Array(7);
      const qd = new Float64Array(7);
      p.readJointState(q, qd);
      moved.push(q[1]! - PANDA_READY[1]!);
      p.close();
    }
    const [rapier, mujoco] = moved as [number, number];
    expect(mujoco).toBeGreaterThan(0.01);
    expect(rapier / mujoco).toBeGreaterThan(0.4);
  });

  it('merged steps (one world step for a control period) move the arm as single steps do: the TCP within 1 mm over 50 periods', () => {
    const model = reachModel();
    const merged = new RapierPhysics({ ...model, timing: { ...model.timing, mergeSteps: model.timing.substeps } });
    const single = new RapierPhysics({ ...model, timing: { ...model.timing, mergeSteps: 1 } });
    let worst = 0;
    const q = new Float64Array(7);
    const qd = new Float64Array(7);
    for (const p of [merged, single]) {
      p.restore();
      p.setJointState(PANDA_READY);
    }
    for (let t = 0; t < 50; t++) {
      const target = PANDA_READY.map((v, i) => v + 0.3 * Math.sin(0.2 * t + i));
      for (const p of [merged, single]) {
        p.command(target);
        p.step();
      }
      const [a, b] = [merged.linkPose('panda_tcp').p, single.linkPose('panda_tcp').p];
      worst = Math.max(worst, Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]));
    }
    merged.readJointState(q, qd);
    expect(q.every(Number.isFinite)).toBe(true);
    expect(worst).toBeLessThan(1e-3);
    merged.close();
    single.close();
  });

  it.each([0, -1, 1.5, NaN])('mergeSteps %s is refused, naming the option', (mergeSteps) => {
    const model = reachModel();
    expect(() => new RapierPhysics({ ...model, timing: { ...model.timing, mergeSteps } })).toThrow(/mergeSteps/);
  });
});
