import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { Articulation } from './articulation.js';
import { RapierPhysics } from './rapier-physics.js';
import { loadDescription } from './descriptions.js';
import { parseUrdf } from './urdf/parse.js';
import { loadMujoco } from './mujoco/module.js';
import { ENGINES, type Physics } from './physics.js';
import { loadRapier, type Rapier } from './rapier.js';
import { CartPole } from '../tasks/cartpole.js';
import { PANDA_READY } from '../tasks/panda.js';
import { RapierPendulum } from '../tasks/rapier-pendulum.js';

/** One arm link on a revolute joint of ±2π, as on UR arms: a range Rapier's stops cannot hold. */
function urLike() {
  return parseUrdf(`<robot name="ur-like">
    <link name="base"/>
    <link name="arm"><inertial><origin xyz="0.2 0 0"/><mass value="1"/><inertia ixx="0.001" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
      <collision><origin xyz="0.2 0 0"/><geometry><box size="0.4 0.05 0.05"/></geometry></collision></link>
    <joint name="shoulder" type="revolute"><parent link="base"/><child link="arm"/><axis xyz="0 0 1"/>
      <limit lower="-6.2832" upper="6.2832" effort="5" velocity="3"/></joint>
  </robot>`);
}

let R: Rapier;
beforeAll(async () => {
  R = await loadRapier();
});

describe('Articulation joint state from body poses', () => {
  it.each(['panda', 'cartpole', 'reacher2d'] as const)('%s: setState then readState returns the same q and q̇', (name) => {
    const robot = loadDescription(name);
    const world = new R.World({ x: 0, y: 0, z: -9.81 });
    const art = new Articulation(world, robot, { mode: 'torque' });
    const rng = new Rng(3);
    const q = new Float64Array(art.dof);
    const qd = new Float64Array(art.dof);
    for (let trial = 0; trial < 10; trial++) {
      const q0 = art.joints.map((j) => rng.uniform(Math.max(j.limit?.lower ?? -3, -3), Math.min(j.limit?.upper ?? 3, 3)));
      const qd0 = art.joints.map(() => rng.uniform(-1, 1));
      art.setState(q0, qd0);
      art.readState(q, qd);
      q0.forEach((v, i) => expect(q[i]).toBeCloseTo(v, 5));
      qd0.forEach((v, i) => expect(qd[i]).toBeCloseTo(v, 5));
    }
    world.free();
  });

  it('unwraps continuous joints across ±π', () => {
    const env = new RapierPendulum();
    env.resetSync({ seed: 0 });
    env.setState(3.0, 6);
    const angles: number[] = [];
    for (let i = 0; i < 5; i++) {
      env.stepSync(Float32Array.of(2));
      angles.push((env as unknown as { q: Float64Array }).q[0] as number);
    }
    expect(angles[4]).toBeGreaterThan(Math.PI); // kept increasing past π instead of jumping to −π
    angles.slice(1).forEach((a, i) => expect(a).toBeGreaterThan(angles[i] as number));
    void env.close();
  });
});

describe('Rapier dynamics against analytic references', () => {
  it('the physical pendulum follows θ̈ = (3g/2l)·sin θ + 3u/(ml²) (RK4 reference) for 1 s', () => {
    const env = new RapierPendulum();
    env.resetSync({ seed: 0 });
    env.setState(0.3, 0);
    const u = 0.5;
    let th = 0.3;
    let w = 0;
    const f = (x: number): number => 15 * Math.sin(x) + 3 * u;
    for (let step = 0; step < 20; step++) {
      const obs = env.stepSync(Float32Array.of(u)).obs;
      for (let k = 0; k < 500; k++) {
        const h = 1e-4;
        const k1 = [w, f(th)];
        const k2 = [w + (h / 2) * k1[1]!, f(th + (h / 2) * k1[0]!)];
        const k3 = [w + (h / 2) * k2[1]!, f(th + (h / 2) * k2[0]!)];
        const k4 = [w + h * k3[1]!, f(th + h * k3[0]!)];
        th += (h / 6) * (k1[0]! + 2 * k2[0]! + 2 * k3[0]! + k4[0]!);
        w += (h / 6) * (k1[1]! + 2 * k2[1]! + 2 * k3[1]! + k4[1]!);
      }
      const simTh = Math.atan2(obs[1] as number, obs[0] as number);
      expect(Math.abs(simTh - Math.atan2(Math.sin(th), Math.cos(th)))).toBeLessThan(0.03);
    }
    void env.close();
  });

  it.each(ENGINES)('the cart-pole responds to a push as the classic cart-pole equations predict (%s)', async (engine) => {
    // From rest upright, F = 10 N: ẍ = 9.756 m/s², θ̈ = −14.63 rad/s² (Barto, Sutton & Anderson 1983).
    await loadMujoco();
    const env = new CartPole({ engine });
    env.resetSync({ seed: 0 });
    const inside = env as unknown as { physics: Physics; q: Float64Array; qd: Float64Array };
    inside.physics.setJointState([0, 0], [0, 0]);
    inside.physics.readJointState(inside.q, inside.qd);
    const obs = env.stepSync(Float32Array.of(1)).obs;
    expect(obs[1]! / 0.02).toBeCloseTo(9.756, 0);
    expect(obs[3]! / 0.02).toBeGreaterThan(-14.63 * 1.1);
    expect(obs[3]! / 0.02).toBeLessThan(-14.63 * 0.9);
    void env.close();
  });

  it('a position-controlled Panda with gravity compensation settles on its joint targets', () => {
    const world = new R.World({ x: 0, y: 0, z: -9.81 });
    world.timestep = 0.004;
    const art = new Articulation(world, loadDescription('panda'), { mode: 'position', gravityCompensation: true });
    art.setState(PANDA_READY);
    const target = PANDA_READY.map((v, i) => v + (i % 2 === 0 ? 0.2 : -0.2));
    art.command(target);
    for (let i = 0; i < 750; i++) world.step(); // 3 s
    const q = new Float64Array(7);
    art.readState(q, new Float64Array(7));
    target.forEach((v, i) => expect(Math.abs((q[i] as number) - v)).toBeLessThan(0.02));
    world.free();
  });

  it('a velocity-controlled joint tracks its commanded velocity', () => {
    const world = new R.World({ x: 0, y: 0, z: -9.81 });
    world.timestep = 0.002;
    const art = new Articulation(world, loadDescription('reacher2d'), { mode: 'velocity' });
    art.setState([0, 0]);
    art.command([1.5, -0.5]);
    for (let i = 0; i < 250; i++) world.step();
    const qd = new Float64Array(2);
    const q = new Float64Array(2);
    art.readState(q, qd);
    expect(qd[0]).toBeCloseTo(1.5, 1);
    expect(qd[1]).toBeCloseTo(-0.5, 1);
    expect(q[0]).toBeGreaterThan(0.5); // it actually moved: ~1.5 rad/s for 0.5 s
    world.free();
  });

  it('enforces URDF joint limits physically (a joint pushed at full effort stops at its bound)', () => {
    const world = new R.World({ x: 0, y: 0, z: -9.81 });
    world.timestep = 0.002;
    const art = new Articulation(world, loadDescription('reacher2d'), { mode: 'torque' });
    art.setState([0, 2.5]);
    const q = new Float64Array(2);
    for (let i = 0; i < 1000; i++) {
      art.command([0, 0.05]); // full elbow effort toward its +3.0 rad limit
      world.step();
    }
    art.readState(q, new Float64Array(2));
    expect(q[1]).toBeGreaterThan(2.9);
    expect(q[1]).toBeLessThan(3.02);
    world.free();
  });

  it('enforces revolute limits past ±π too (±2π, as on UR arms), which Rapier cannot hold on its own', () => {
    const urdf = urLike();
    for (const sign of [1, -1]) {
      const world = new R.World({ x: 0, y: 0, z: -9.81 });
      world.timestep = 0.004;
      const art = new Articulation(world, urdf, { mode: 'torque' });
      art.setState([sign * 5.5]);
      const q = new Float64Array(1);
      let extreme = 0;
      for (let i = 0; i < 1500; i++) {
        art.command([sign * 5]); // full effort outward, for 6 s
        art.beforeStep();
        world.step();
        art.readState(q, new Float64Array(1));
        extreme = Math.max(extreme, sign * (q[0] as number));
      }
      expect(extreme).toBeGreaterThan(6.2); // it reached the stop
      expect(extreme).toBeLessThan(6.2832 + 0.2); // and stayed there (before: 465 rad)
      world.free();
    }
  });

  it('refuses merged world steps for such a joint (its software stops act once per world step; a joint ran 0.9 rad past over 20 ms steps), naming it', () => {
    const urdf = urLike();
    const model = { robot: urdf, actuation: { mode: 'position' } as const, timing: { dt: 0.004, substeps: 10 } };
    expect(() => new RapierPhysics({ ...model, timing: { ...model.timing, mergeSteps: 10 } })).toThrow(/mergeSteps` 10 with joints whose range is a turn or more \(shoulder\)/);
    const single = new RapierPhysics(model);
    expect(single.joints.map((j) => j.name)).toEqual(['shoulder']);
    single.close();
  });
});
