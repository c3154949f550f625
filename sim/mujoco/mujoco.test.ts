import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { unwrap } from '../../control/wrappers/wrapper.js';
import { servoGains } from '../articulation.js';
import { loadDescription } from '../descriptions.js';
import { ENGINES, PhysicsError, type Physics } from '../physics.js';
import { createPhysics } from '../physics-task.js';
import { loadRapier } from '../rapier.js';
import { envEntry, make } from '../../tasks/registry.js';
import { PANDA_READY, PANDA_TABLE_OBJECT, PANDA_TCP } from '../../tasks/panda.js';
import { forwardKinematics, movableJoints } from '../urdf/kinematics.js';
import { urdfToMjcf } from './mjcf.js';
import { loadMujoco, mujoco } from './module.js';
import { MujocoPhysics } from './physics.js';

beforeAll(async () => {
  await loadMujoco();
});

const panda = () => ({
  robot: loadDescription('panda'),
  actuation: { mode: 'position', gravityCompensation: true } as const,
  timing: { dt: 0.004, substeps: 10 },
  objects: [PANDA_TABLE_OBJECT],
});

/** Size of the wasm heap, read off a live view (views share the module's one memory). */
function heapBytes(physics: Physics): number {
  return ((physics as unknown as { d: { qpos: Float64Array } }).d.qpos.buffer as ArrayBuffer).byteLength;
}

describe('MuJoCo model from the URDF', () => {
  it('has the URDF masses, joint ranges and servo gains, and the same kinematics', () => {
    const robot = loadDescription('panda');
    const physics = new MujocoPhysics(panda());
    const m = (physics as unknown as { m: { body_mass: Float64Array; jnt_range: Float64Array; actuator_gainprm: Float64Array; actuator_biasprm: Float64Array; nbody: number } }).m;
    const mj = mujoco();
    for (const link of robot.links) {
      const b = mj.mj_name2id(m as never, mj.mjtObj.mjOBJ_BODY.value, link.name);
      expect(m.body_mass[b]).toBeCloseTo(link.inertial?.mass ?? 0, 9);
    }
    const joints = movableJoints(robot);
    const gains = servoGains(joints, { mode: 'position', gravityCompensation: true });
    joints.forEach((j, k) => {
      expect(m.jnt_range[2 * k]).toBeCloseTo(j.limit?.lower as number, 9);
      expect(m.jnt_range[2 * k + 1]).toBeCloseTo(j.limit?.upper as number, 9);
      expect(m.actuator_gainprm[10 * k]).toBeCloseTo(gains.stiffness[k] as number, 9);
      expect(m.actuator_biasprm[10 * k + 2]).toBeCloseTo(-(gains.damping[k] as number), 9);
    });
    // Same link frames as the URDF's forward kinematics, at random joint positions.
    const rng = new Rng(5);
    for (let trial = 0; trial < 5; trial++) {
      const q = joints.map((j) => rng.uniform(j.limit?.lower ?? -1, j.limit?.upper ?? 1));
      physics.setJointState(q);
      const fk = forwardKinematics(robot, q);
      for (const link of ['panda_link4', 'panda_hand', PANDA_TCP]) {
        const a = physics.linkPose(link);
        const b = fk.get(link);
        for (let i = 0; i < 3; i++) expect(a.p[i]).toBeCloseTo(b?.p[i] as number, 9);
        // Same rotation: |⟨qa, qb⟩| = 1.
        expect(Math.abs(a.q.reduce((s, v, i) => s + v * (b?.q[i] as number), 0))).toBeCloseTo(1, 9);
      }
    }
    physics.close();
  });

  it('a model MuJoCo cannot compile fails with its own message naming the element', () => {
    const xml = urdfToMjcf(loadDescription('pendulum'), { timestep: 0.005, actuation: { mode: 'torque' } }).replace('type="hinge"', 'type="hinj"');
    expect(() => new MujocoPhysics({ robot: loadDescription('pendulum'), actuation: { mode: 'torque' }, timing: { dt: 0.005, substeps: 10 } }, xml)).toThrow(/invalid keyword: 'hinj'[\s\S]*Element 'joint'/);
  });

  it('a URDF chain too deep for MuJoCo\'s wasm stack is refused before MuJoCo sees it (a 200-link chain hung its compiler)', () => {
    const robot = loadDescription('pendulum');
    const links = Array.from({ length: 201 }, (_, i) => ({ name: `l${i}`, inertial: null, collisions: [] }));
    const joints = Array.from({ length: 200 }, (_, i) => ({ name: `j${i}`, type: 'revolute' as const, parent: `l${i}`, child: `l${i + 1}`, origin: { p: [0, 0, 0.01] as [number, number, number], q: [0, 0, 0, 1] as [number, number, number, number] }, axis: [0, 1, 0] as [number, number, number], limit: { lower: -1, upper: 1, effort: 10, velocity: 2 }, damping: 0, friction: 0 }));
    const deep = { ...robot, name: 'deep', root: 'l0', links, joints };
    expect(() => urdfToMjcf(deep, { timestep: 0.005, actuation: { mode: 'torque' } })).toThrow(/URDF deep: the chain to link l\d+ is too deep for MuJoCo/);
  });

  it('names that cannot be written into MJCF are refused before MuJoCo sees them', () => {
    const robot = loadDescription('pendulum');
    const evil = 'a"/><x';
    const bad = { ...robot, root: evil, links: robot.links.map((l) => (l.name === robot.root ? { ...l, name: evil } : l)), joints: robot.joints.map((j) => (j.parent === robot.root ? { ...j, parent: evil } : j)) };
    expect(() => urdfToMjcf(bad, { timestep: 0.005, actuation: { mode: 'torque' } })).toThrow(/cannot be used in MJCF/);
  });
});

describe('MuJoCo physics', () => {
  it('a diverging simulation ends with a PhysicsError, not silent garbage', () => {
    const physics = new MujocoPhysics(panda());
    physics.restore();
    physics.setJointState(PANDA_READY, [0, 0, 0, 1e12, 0, 0, 0]); // MuJoCo resets on |q̇| > 1e10
    expect(() => physics.step()).toThrow(PhysicsError);
    physics.restore();
    physics.setJointState(PANDA_READY);
    expect(() => physics.step()).not.toThrow(); // a reset recovers
    physics.setJointState([Number.NaN, 0, 0, 0, 0, 0, 0]);
    expect(() => physics.step()).toThrow(/diverged/);
    physics.close();
  });

  it('a closed physics refuses to step instead of touching freed memory', () => {
    const physics = new MujocoPhysics(panda());
    physics.close();
    expect(() => physics.step()).toThrow(/closed/);
    physics.close(); // idempotent
  });

  it('a closed physics refuses every read with a clear error (the dashboard may ask for a scene after close), on both engines', async () => {
    await loadRapier();
    for (const engine of ENGINES) {
      const physics = createPhysics(panda(), engine);
      physics.close();
      // Before: MuJoCo's scene() and touching() reached the deleted MjData (emscripten's
      // BindingError); Rapier threw TypeErrors ("reading 'free'"), a second close() too.
      expect(() => physics.close()).not.toThrow();
      const closed = new RegExp(`${engine}: the physics was closed`);
      expect(() => physics.scene()).toThrow(closed);
      expect(() => physics.touching(['panda_hand'], 'table')).toThrow(closed);
      expect(() => physics.restore()).toThrow(closed);
      expect(() => physics.step()).toThrow(closed);
      expect(() => physics.linkPose('panda_hand')).toThrow(closed);
    }
  });

  it('a non-finite or out-of-range command is refused before anything changes (MuJoCo would zero every control silently)', () => {
    const physics = new MujocoPhysics(panda());
    physics.restore();
    physics.setJointState(PANDA_READY);
    const q = new Float64Array(7);
    const qd = new Float64Array(7);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e300]) {
      expect(() => physics.command([...PANDA_READY.slice(0, 6), bad])).toThrow(/command\[6\] .* joint "panda_joint7"/);
    }
    expect(() => physics.command([0, 0])).toThrow(/2 commands for 7 joints/);
    // The servos still hold the ready pose: no control was zeroed.
    for (let t = 0; t < 5; t++) physics.step();
    physics.readJointState(q, qd);
    for (let k = 0; k < 7; k++) expect(q[k]).toBeCloseTo(PANDA_READY[k] as number, 2);
    physics.close();
  });

  it('memory stays flat over 10⁶ physics steps with contacts, 10⁴ resets and 10⁴ scenes', async () => {
    // Every step of PandaPush reads contacts (table_contact) with a cube resting on the table;
    // a leaked MjContact copy is ~3 KB, so a leak per step would grow the 17 MB heap many times over.
    const env = unwrap(await make('PandaPush-v0', { options: { engine: 'mujoco' } }));
    const physics = (env as unknown as { physics: Physics }).physics;
    if (!('stepSync' in env) || !('resetSync' in env)) throw new Error('PandaPush has a sync path');
    const sync = env as unknown as { resetSync(o?: { seed?: number }): unknown; stepSync(a: Float32Array): { terminated: boolean }; scene(): unknown };
    const rng = new Rng(1);
    const action = new Float32Array(7);
    const run = (controlSteps: number): void => {
      sync.resetSync({ seed: 0 });
      for (let t = 0, k = 0; t < controlSteps; t++) {
        for (let i = 0; i < 7; i++) action[i] = rng.uniform(-1, 1);
        if (sync.stepSync(action).terminated || ++k === 100) {
          sync.resetSync();
          k = 0;
        }
      }
    };
    run(1000); // warm-up: the heap reaches its working size
    const before = heapBytes(physics);
    run(100_000); // 10 physics steps each
    for (let i = 0; i < 10_000; i++) {
      sync.resetSync({ seed: i });
      sync.scene();
    }
    expect(heapBytes(physics)).toBe(before);
    await env.close();
  }, 300_000);

  it('every registered physical task lists both engines and builds on each', async () => {
    for (const id of ['PandaReach-v0', 'PandaPush-v0', 'PandaKeepOut-v0', 'CartPoleContinuous-v0', 'Reacher2D-v0', 'RapierPendulum-v0', 'UrdfReach-v0']) {
      expect(envEntry(id).engines).toEqual(['rapier', 'mujoco']);
      const env = await make(id, { options: { engine: 'mujoco' } });
      const { obs } = await env.reset({ seed: 0 });
      expect(obs.every(Number.isFinite)).toBe(true);
      await env.close();
    }
    await expect(make('PandaReach-v0', { options: { engine: 'bullet' } })).rejects.toThrow(/engine.*rapier, mujoco.*bullet/);
    await expect(make('Pendulum-v1', { options: { engine: 'mujoco' } })).rejects.toThrow(/unknown option "engine"/);
  });
});
