import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { unwrap } from '../../control/wrappers/wrapper.js';
import { servoGains } from '../articulation.js';
import { loadDescription } from '../descriptions.js';
import { ENGINES, PhysicsError, type Physics, type PhysicsModel } from '../physics.js';
import { createPhysics } from '../physics-task.js';
import { loadRapier } from '../rapier.js';
import { envEntry, make } from '../../tasks/registry.js';
import { PANDA_READY, PANDA_TABLE_OBJECT, PANDA_TCP } from '../../tasks/panda.js';
import type { PandaActionMap } from '../../tasks/panda.js';
import { PandaPickCube, pandaPickExpert } from '../../tasks/panda-pick.js';
import { PandaPush, pandaPushExpert } from '../../tasks/panda-push.js';
import type { SyncEnv } from '../../control/env.js';
import { forwardKinematics, movableJoints } from '../urdf/kinematics.js';
import { parseUrdf } from '../urdf/parse.js';
import { linkPlacements, urdfToMjcf } from './mjcf.js';
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
    // A link on a fixed joint rides its parent's body (linkPlacements): a body weighs its links.
    const placements = linkPlacements(robot, false);
    const bodies = new Set([...placements.values()].map((p) => p.body));
    expect([...bodies].sort()).toEqual(['panda_leftfinger', 'panda_link0', 'panda_link1', 'panda_link2', 'panda_link3', 'panda_link4', 'panda_link5', 'panda_link6', 'panda_link7', 'panda_rightfinger']);
    for (const body of bodies) {
      const b = mj.mj_name2id(m as never, mj.mjtObj.mjOBJ_BODY.value, body);
      const mass = robot.links.filter((l) => placements.get(l.name)?.body === body).reduce((sum, l) => sum + (l.inertial?.mass ?? 0), 0);
      expect(m.body_mass[b]).toBeCloseTo(mass, 9);
    }
    expect(mj.mj_name2id(m as never, mj.mjtObj.mjOBJ_BODY.value, 'panda_hand')).toBe(-1);
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

  it('without finger servos the servos\' kv is joint damping under Euler: the same motion as actuator kv under implicitfast, to rounding', () => {
    const model = { ...panda(), actuation: { ...panda().actuation, weldFingers: true } };
    const joints = movableJoints(loadDescription('panda'));
    const gains = servoGains(joints, { mode: 'position', gravityCompensation: true });
    const mj = mujoco();
    const fast = MujocoPhysics.mjcf(model);
    const slow = MujocoPhysics.mjcf(model, { servoDampingOnJoints: false });
    expect(fast).toMatch(/integrator="Euler"/);
    expect(slow).toMatch(/integrator="implicitfast"/);
    expect(MujocoPhysics.mjcf(panda())).toMatch(/integrator="implicitfast"/); // finger servos: their kv stays in their clamped force
    const sims = [fast, slow].map((xml) => {
      const m = mj.MjModel.from_xml_string(xml);
      return { m, d: new mj.MjData(m) };
    });
    const m0 = sims[0]!.m as unknown as { dof_damping: Float64Array; actuator_biasprm: Float64Array };
    joints.forEach((_, k) => {
      expect(m0.dof_damping[k]).toBeCloseTo(gains.damping[k] as number, 9);
      expect(m0.actuator_biasprm[10 * k + 2]).toBe(0);
    });
    const rng = new Rng(11);
    let worst = 0;
    for (const s of sims) {
      (s.d.qpos as Float64Array).set(PANDA_READY);
      mj.mj_forward(s.m, s.d);
    }
    for (let t = 0; t < 300; t++) {
      const target = PANDA_READY.map((q) => q + rng.uniform(-0.6, 0.6));
      for (const s of sims) {
        (s.d.ctrl as Float64Array).set(target);
        for (let k = 0; k < 10; k++) mj.mj_step(s.m, s.d);
      }
      for (let k = 0; k < 7; k++) worst = Math.max(worst, Math.abs((sims[0]!.d.qpos as Float64Array)[k]! - (sims[1]!.d.qpos as Float64Array)[k]!));
    }
    expect(worst).toBeLessThan(1e-9);
    for (const s of sims) {
      s.d.delete();
      s.m.delete();
    }
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
  it('mujocoSplit runs k MuJoCo steps of dt / k per physics step: the same time advances, and a bad split is refused', () => {
    const split = { ...panda(), timing: { dt: 0.004, substeps: 10, mujocoSplit: 2 } };
    expect(MujocoPhysics.mjcf(split)).toMatch(/<option timestep="0\.002"/);
    expect(MujocoPhysics.mjcf(panda())).toMatch(/<option timestep="0\.004"/);
    const physics = new MujocoPhysics(split);
    physics.restore();
    physics.step(); // 20 MuJoCo steps of 2 ms: a control period of 40 ms, as unsplit
    const d = (physics as unknown as { d: { time: number } }).d;
    const t0 = d.time;
    physics.step(5);
    expect(d.time - t0).toBeCloseTo(5 * 0.004, 9);
    physics.close();
    expect(() => new MujocoPhysics({ ...panda(), timing: { dt: 0.004, substeps: 10, mujocoSplit: 0 } })).toThrow(/mujocoSplit.*\[1, 16\], got `0`/);
  });

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

describe('MuJoCo step cost (issue 21: the env within 15% of the raw model)', () => {
  /** The physics' compiled model and data (tests read MuJoCo's own arrays). */
  const native = (physics: MujocoPhysics) => physics as unknown as { m: { npair: number; ngeom: number; nbody: number; opt: { gravity: Float64Array }; body_geomnum: Int32Array; body_gravcomp: Float64Array; geom_contype: Int32Array; geom_conaffinity: Int32Array; geom_bodyid: Int32Array; body_parentid: Int32Array; body_jntnum: Int32Array; nexclude: number }; d: { ncon: number } };

  it('touching() asks MuJoCo for a geom distance only for pairs whose bounding boxes come within reach, and agrees with asking for every pair', () => {
    const physics = new MujocoPhysics(panda());
    const mj = mujoco();
    const arm = ['panda_link1', 'panda_link2', 'panda_link3', 'panda_link4', 'panda_link5', 'panda_link6', 'panda_link7', 'panda_hand', 'panda_leftfinger', 'panda_rightfinger'];
    const original = mj.mj_geomDistance;
    let calls = 0;
    // The real function, counted: a step with the arm high above the table has nothing near it.
    (mj as { mj_geomDistance: typeof original }).mj_geomDistance = (...args: Parameters<typeof original>) => {
      calls++;
      return original(...args);
    };
    try {
      physics.setJointState(PANDA_READY);
      expect(physics.touching(arm, 'table')).toBe(false);
      expect(calls).toBe(0);
    } finally {
      (mj as { mj_geomDistance: typeof original }).mj_geomDistance = original;
    }
    // The same answer as the exhaustive test over random poses, many of them into the table.
    const m = native(physics).m;
    const geomOf = (name: string) => mj.mj_name2id(m as never, mj.mjtObj.mjOBJ_GEOM.value, name);
    const table = geomOf('table');
    const rng = new Rng(3);
    const joints = movableJoints(loadDescription('panda'));
    let touches = 0;
    for (let trial = 0; trial < 300; trial++) {
      physics.setJointState(joints.map((j) => rng.uniform(j.limit?.lower ?? -1, j.limit?.upper ?? 1)));
      const exhaustive = arm.some((l) => mj.mj_geomDistance(m as never, native(physics).d as never, geomOf(`${l}#0`), table, 2e-3, null) <= 1e-3);
      expect(physics.touching(arm, 'table')).toBe(exhaustive);
      if (exhaustive) touches++;
    }
    expect(touches).toBeGreaterThan(20);
    physics.close();
  });

  it('contacts are listed pairs out of the broadphase, the table top a plane to the arm that the scene does not draw', () => {
    const physics = new MujocoPhysics({ ...panda(), objects: [PANDA_TABLE_OBJECT, { name: 'cube', kind: 'box', size: [0.025, 0.025, 0.025], position: [0.5, 0, 0.025], mass: 0.1 }] });
    const { m } = native(physics);
    const mj = mujoco();
    // No geom takes part in the broadphase; the pairs: each moving link but the clearOf ones with
    // the floor, every link with the cube (the base too: it is static, the cube is not), cube–table.
    expect(Array.from(m.geom_contype).every((v) => v === 0) && Array.from(m.geom_conaffinity).every((v) => v === 0)).toBe(true);
    const robot = loadDescription('panda');
    const geoms = robot.links.flatMap((l) => l.collisions.map(() => l.name));
    const moving = geoms.filter((l) => l !== robot.root);
    expect(native(physics).m.npair).toBe(moving.filter((l) => !PANDA_TABLE_OBJECT.clearOf?.includes(l)).length + geoms.length + 1);
    expect(m.nexclude).toBe(0);
    const table = mj.mj_name2id(m as never, mj.mjtObj.mjOBJ_GEOM.value, 'table');
    expect(m.body_parentid[m.geom_bodyid[table] as number]).toBe(0);
    // The plane is for contacts only: the scene draws the box.
    expect(physics.scene().shapes.map((s) => s.name).sort()).toEqual([...geoms.map((l, i) => `${l}#${i - geoms.indexOf(l)}`), 'cube', 'table'].sort());
    physics.close();
  });

  // Where the fingers press deeper than ~15 mm into the table the two part: the plane gives each
  // pad's four corners, the box box–box contacts (a review measured 4e-2 rad after pressing 2 cm
  // in; over random poses no contact set differs below 15 mm of penetration, 120 of 2,000 deeper).
  it('the listed pairs give the broadphase model\'s motion to rounding: pushing the cube, picking it up, and the fingers pressed onto the table', async () => {
    const broadphase = (m: PhysicsModel): Physics => new MujocoPhysics(m, MujocoPhysics.mjcf(m, { contactPairs: false }));
    const runs: { env: SyncEnv; other: SyncEnv; act: (obs: Float32Array, t: number) => Float32Array; steps: number }[] = [];
    const push = (engine: 'mujoco' | typeof broadphase) => new PandaPush({ engine }) as unknown as SyncEnv;
    const pick = (engine: 'mujoco' | typeof broadphase) => new PandaPickCube({ engine, action: { frame: 'tcp' } }) as unknown as SyncEnv;
    const pushExpert = pandaPushExpert();
    const pickEnv = pick('mujoco');
    const pickExpert = pandaPickExpert((pickEnv as unknown as { actions: PandaActionMap }).actions);
    const rng = new Rng(9);
    // Joint 2 and 4 driven down with noise: the hand and fingers press on the table.
    const pressDown = () => Float32Array.from({ length: 7 }, (_, k) => (k === 1 || k === 3 ? 0.6 : 0) + rng.uniform(-0.5, 0.5));
    runs.push({ env: push('mujoco'), other: push(broadphase), act: (o) => pushExpert(o), steps: 120 });
    runs.push({ env: pickEnv, other: pick(broadphase), act: (o) => pickExpert(o), steps: 120 });
    runs.push({ env: push('mujoco'), other: push(broadphase), act: () => pressDown(), steps: 100 });
    for (const [k, { env, other, act, steps }] of runs.entries()) {
      let obs = env.resetSync({ seed: k }).obs;
      other.resetSync({ seed: k });
      let contacts = 0;
      let maxGap = 0;
      // The physics' own float64 state, not the float32 observation: joints and the cube's pose.
      const state = (e: SyncEnv): number[] => {
        const physics = (e as unknown as { physics: MujocoPhysics }).physics;
        const q = new Float64Array(7);
        const qd = new Float64Array(7);
        physics.readJointState(q, qd);
        const cube = physics.objectPose('cube');
        return [...q, ...qd, ...cube.p, ...cube.q];
      };
      for (let t = 0; t < steps; t++) {
        const a = act(obs, t);
        const r = env.stepSync(a);
        other.stepSync(a);
        const [x, y] = [state(env), state(other)];
        // Bit for bit but for rounding where the cube rests on the table while the hand presses beside it (1e-17).
        maxGap = Math.max(maxGap, ...x.map((v, i) => Math.abs(v - (y[i] as number))));
        contacts += (env as unknown as { physics: MujocoPhysics }).physics.compiled.data.ncon;
        obs = r.obs;
        if (r.terminated) break;
      }
      expect(maxGap).toBeLessThan(1e-12);
      expect(contacts).toBeGreaterThan(50);
      await env.close();
      await other.close();
    }
  });

  it('robotFloor is refused on anything but an unrotated box fixture, on both engines', async () => {
    const robot = loadDescription('panda');
    const base = { timestep: 0.004, actuation: { mode: 'torque' } as const, weldFingers: true };
    expect(() => urdfToMjcf(robot, { ...base, objects: [{ name: 'ball', kind: 'sphere', size: [0.5], position: [0, 0, -0.5], robotFloor: true }] })).toThrow(/ball: robotFloor is for an unrotated box fixture/);
    expect(() => urdfToMjcf(robot, { ...base, objects: [{ ...PANDA_TABLE_OBJECT, rotation: [0, 0, 0.38268343, 0.92387953] }] })).toThrow(/table: robotFloor/);
    expect(() => urdfToMjcf(robot, { ...base, objects: [{ ...PANDA_TABLE_OBJECT, mass: 1, clearOf: [] }] })).toThrow(/table: robotFloor/);
    await loadRapier();
    for (const engine of ENGINES) {
      expect(() => createPhysics({ ...panda(), objects: [{ ...PANDA_TABLE_OBJECT, rotation: [0, 0, 0.38268343, 0.92387953] }] }, engine)).toThrow(/table: robotFloor is for an unrotated box fixture/);
    }
  });

  it('links on fixed joints (and welded fingers) riding their parent\'s body move as a body each: the same mass matrix, bias forces and link poses', () => {
    const model = { ...panda(), actuation: { ...panda().actuation, weldFingers: true } };
    const fused = new MujocoPhysics(model);
    const unfused = new MujocoPhysics(model, MujocoPhysics.mjcf(model, { fuse: false }));
    const mj = mujoco();
    expect(native(unfused).m.nbody - native(fused).m.nbody).toBe(5); // link 8, hand, TCP frame, two fingers
    const rng = new Rng(12);
    const joints = movableJoints(loadDescription('panda'));
    for (let trial = 0; trial < 5; trial++) {
      const q = joints.map((j) => rng.uniform(j.limit?.lower ?? -1, j.limit?.upper ?? 1));
      const qd = joints.map(() => rng.uniform(-1, 1));
      const [a, b] = [fused, unfused].map((p) => {
        p.setJointState(q, qd);
        const { model: m, data: d } = p.compiled;
        mj.mj_forward(m, d);
        // The bindings copy a plain array in and nothing back: MuJoCo writes into a buffer of its own.
        const buffer = new mj.DoubleBuffer(m.nv * m.nv);
        mj.mj_fullM(m, d, buffer);
        const M = Float64Array.from(buffer.GetView() as Float64Array);
        buffer.delete();
        return { M, bias: Float64Array.from(d.qfrc_bias as Float64Array), tcp: p.linkPose(PANDA_TCP), hand: p.linkPose('panda_hand') };
      });
      expect(a!.M.reduce((sum, v) => sum + Math.abs(v), 0)).toBeGreaterThan(0.1); // a mass matrix, not zeros
      a!.M.forEach((v, i) => expect(v).toBeCloseTo(b!.M[i]!, 9));
      a!.bias.forEach((v, i) => expect(v).toBeCloseTo(b!.bias[i]!, 9));
      for (const k of ['tcp', 'hand'] as const) a![k].p.forEach((v, i) => expect(v).toBeCloseTo(b![k].p[i]!, 12));
    }
    fused.close();
    unfused.close();
  });

  it('clearOf names links with a body of their own and no other link\'s shapes on it, of a fixture; anything else is refused naming it', () => {
    const refused = (clearOf: string[], extra: Partial<ReturnType<typeof panda>> = {}, weld = true): string => {
      try {
        new MujocoPhysics({ ...panda(), actuation: { ...panda().actuation, weldFingers: weld }, objects: [{ ...PANDA_TABLE_OBJECT, clearOf }], ...extra }).close();
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(refused(['panda_link9'])).toMatch(/fixture table: clearOf names "panda_link9", not a link of panda/);
    // The hand rides link 7's body: MuJoCo could only exclude link 7 with it.
    expect(refused(['panda_hand'])).toMatch(/clearOf names panda_hand, which rides panda_link7's body/);
    // Excluding link 7's body would drop the hand's and the welded fingers' contacts too.
    expect(refused(['panda_link7'])).toMatch(/clearOf names panda_link7, which carries panda_hand, panda_leftfinger, panda_rightfinger on its body/);
    expect(refused(['panda_leftfinger'], {}, false)).toBe('accepted'); // a servoed finger is a body of its own
    expect(refused([], { objects: [{ name: 'cube', kind: 'box', size: [0.02, 0.02, 0.02], position: [0.5, 0, 0.02], mass: 0.1, clearOf: ['panda_link1'] }] })).toMatch(/object cube: clearOf is for fixtures/);
  });

  it('a URDF rooted at a link named world (as ROS URDFs often are) loads; its links sit where forward kinematics puts them', () => {
    const robot = parseUrdf(`<robot name="rooted"><link name="world"/><link name="base"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <link name="arm"><inertial><origin xyz="0.1 0 0"/><mass value="0.3"/><inertia ixx="0.0002" iyy="0.0004" izz="0.0005" ixy="0" ixz="0" iyz="0"/></inertial><collision><geometry><box size="0.2 0.02 0.02"/></geometry></collision></link>
  <link name="tool"/>
  <joint name="fix" type="fixed"><parent link="world"/><child link="base"/><origin xyz="0 0 0.5"/></joint>
  <joint name="j" type="revolute"><parent link="base"/><child link="arm"/><origin xyz="0 0 0.1"/><axis xyz="0 1 0"/><limit lower="-1" upper="1" effort="10" velocity="1"/></joint>
  <joint name="t" type="fixed"><parent link="arm"/><child link="tool"/><origin xyz="0.2 0 0"/></joint></robot>`);
    const physics = new MujocoPhysics({ robot, actuation: { mode: 'position' }, timing: { dt: 0.004, substeps: 10 } });
    physics.restore();
    physics.setJointState([0.4]);
    const fk = forwardKinematics(robot, [0.4]);
    for (const link of ['world', 'base', 'arm', 'tool']) {
      const want = fk.get(link)!.p;
      physics.linkPose(link).p.forEach((v, i) => expect(v, link).toBeCloseTo(want[i]!, 9));
    }
    physics.close();
  });

  it('a fixture may share a link\'s name (its body is named apart); a flat plate\'s inertia riding a moving link compiles', () => {
    const physics = new MujocoPhysics({ ...panda(), objects: [{ ...PANDA_TABLE_OBJECT, name: 'panda_link3', clearOf: [] }] });
    physics.restore();
    physics.setJointState(PANDA_READY);
    expect(physics.objectPose('panda_link3').p[2]).toBeCloseTo(PANDA_TABLE_OBJECT.position[2], 9);
    expect(physics.linkPose('panda_link3').p[2]).toBeGreaterThan(0.3);
    physics.close();
    // A lamina (ixx + iyy = izz exactly) on a fixed joint at 15 orientations: the combined
    // moments' rounding once left C a hair over A + B, which MuJoCo refuses.
    for (const yaw of [0, 0.1, 0.3, 0.7, 1.1]) {
      for (const pitch of [0, 0.2, 0.5]) {
        const robot = parseUrdf(`<robot name="lamina"><link name="base"/><link name="arm"/>
  <link name="plate"><inertial><origin xyz="0.1 0 0"/><mass value="0.3"/><inertia ixx="0.0001" iyy="0.0004" izz="0.0005" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <joint name="j" type="revolute"><parent link="base"/><child link="arm"/><axis xyz="0 0 1"/><limit lower="-1" upper="1" effort="10" velocity="1"/></joint>
  <joint name="f" type="fixed"><parent link="arm"/><child link="plate"/><origin rpy="0 ${pitch} ${yaw}"/></joint></robot>`);
        expect(() => new MujocoPhysics({ robot, actuation: { mode: 'position' }, timing: { dt: 0.004, substeps: 10 } }).close(), `pitch ${pitch} yaw ${yaw}`).not.toThrow();
      }
    }
    // An inertial turned by rpy on a moving link (MJCF refuses a quat beside a full tensor): its principal frame.
    const turned = parseUrdf(`<robot name="turned"><link name="base"/>
  <link name="arm"><inertial><origin xyz="0.1 0 0" rpy="0.3 0.2 0.1"/><mass value="0.3"/><inertia ixx="0.0002" iyy="0.0004" izz="0.0005" ixy="0.00001" ixz="0" iyz="0"/></inertial></link>
  <joint name="j" type="revolute"><parent link="base"/><child link="arm"/><axis xyz="0 0 1"/><limit lower="-1" upper="1" effort="10" velocity="1"/></joint></robot>`);
    const p = new MujocoPhysics({ robot: turned, actuation: { mode: 'position' }, timing: { dt: 0.004, substeps: 10 } });
    expect(native(p).m.nbody).toBe(3);
    p.close();
  });

  it('a gravity-compensated arm is weightless as Rapier\'s (no per-body compensation force), while a free cube still falls at g', () => {
    const physics = new MujocoPhysics({ ...panda(), timing: { dt: 0.004, substeps: 10, gravity: [0, 0, -9.81] }, objects: [PANDA_TABLE_OBJECT, { name: 'cube', kind: 'box', size: [0.02, 0.02, 0.02], position: [0.5, 0, 1], mass: 0.1 }] });
    const { m } = native(physics);
    expect([...m.opt.gravity]).toEqual([0, 0, 0]);
    expect([...m.body_gravcomp].every((g) => g === 0)).toBe(true);
    physics.restore();
    physics.setJointState(PANDA_READY);
    physics.placeObject('cube', [0.5, 0, 1]);
    const tcp0 = physics.linkPose(PANDA_TCP).p;
    physics.step(25); // 0.1 s
    // z = 1 − g t²/2 = 0.95095 m, v = −g t = −0.981 m/s (the integrator's error is O(dt)).
    expect(physics.objectPose('cube').p[2]).toBeCloseTo(1 - 0.5 * 9.81 * 0.01, 2);
    expect(physics.objectVelocity('cube')[2]).toBeCloseTo(-0.981, 2);
    // The arm holds its pose (the servos do not fight its weight).
    const tcp = physics.linkPose(PANDA_TCP).p;
    for (let i = 0; i < 3; i++) expect(Math.abs((tcp[i] as number) - (tcp0[i] as number))).toBeLessThan(1e-4);
    // The weight survives a reset (MuJoCo's mj_resetData clears applied forces).
    physics.restore();
    physics.placeObject('cube', [0.5, 0, 1]);
    physics.step(25);
    expect(physics.objectVelocity('cube')[2]).toBeCloseTo(-0.981, 2);
    physics.close();
  });
});
