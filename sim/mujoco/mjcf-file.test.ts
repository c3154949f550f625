import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEnv } from '../../control/check-env.js';
import { Rng } from '../../control/rng.js';
import { PhysicsError } from '../physics.js';
import { make } from '../../tasks/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'roborl-mjcf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A binary STL box of half extents h: 12 triangles. */
function stlBox(h: [number, number, number]): Buffer {
  const v = (i: number): number[] => [i & 1 ? h[0] : -h[0], i & 2 ? h[1] : -h[1], i & 4 ? h[2] : -h[2]];
  const faces = [[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4], [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]];
  const buf = Buffer.alloc(84 + 50 * faces.length);
  buf.writeUInt32LE(faces.length, 80);
  faces.forEach((f, i) => f.forEach((k, j) => v(k).forEach((c, a) => buf.writeFloatLE(c, 84 + 50 * i + 12 + 12 * j + 4 * a))));
  return buf;
}

/**
 * A MuJoCo Menagerie-style arm: the main file includes a defaults file, meshes come from
 * `assets/` (compiler meshdir), position actuators drive the joints, a free cube stands beside it.
 */
function writeArm(folder: string, { dropMesh = false, badKeyword = false } = {}): string {
  mkdirSync(join(folder, 'assets'), { recursive: true });
  writeFileSync(join(folder, 'assets', 'upper.stl'), stlBox([0.03, 0.03, 0.15]));
  if (!dropMesh) writeFileSync(join(folder, 'assets', 'fore.stl'), stlBox([0.025, 0.025, 0.12]));
  writeFileSync(
    join(folder, 'defaults.xml'),
    `<mujoco><default><joint damping="0.5"/><position kp="80" kv="8"/><geom ${badKeyword ? 'type="capsul"' : 'type="mesh"'} contype="1" conaffinity="1"/></default></mujoco>`,
  );
  const path = join(folder, 'arm.xml');
  writeFileSync(
    path,
    `<mujoco model="tiny_arm">
  <compiler angle="radian" meshdir="assets"/>
  <option timestep="0.002" integrator="implicitfast"/>
  <include file="defaults.xml"/>
  <asset><mesh name="upper" file="upper.stl"/><mesh name="fore" file="fore.stl"/></asset>
  <worldbody>
    <body name="base" pos="0 0 0.05">
      <geom type="cylinder" size="0.05 0.05"/>
      <body name="upper" pos="0 0 0.05">
        <joint name="shoulder" type="hinge" axis="0 1 0" range="-1.5 1.5"/>
        <geom mesh="upper" pos="0 0 0.15" mass="1"/>
        <body name="fore" pos="0 0 0.3">
          <joint name="elbow" type="hinge" axis="0 1 0" range="-2 2"/>
          <geom mesh="fore" pos="0 0 0.12" mass="0.5"/>
          <body name="tool" pos="0 0 0.25"/>
        </body>
      </body>
    </body>
    <body name="cube" pos="0.4 0 0.03"><freejoint/><geom type="box" size="0.03 0.03 0.03" mass="0.1"/></body>
  </worldbody>
  <actuator><position joint="shoulder"/><position joint="elbow"/></actuator>
</mujoco>`,
  );
  return path;
}

describe('MJCF files on the MuJoCo engine (env.options.mjcf)', () => {
  it('a Menagerie-style arm with an include and STL meshes loads through the in-memory file system and passes checkEnv', async () => {
    const path = writeArm(join(dir, 'ok'));
    const env = await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'tool' } });
    expect(env.spec.actionSpace.kind === 'box' && env.spec.actionSpace.shape).toEqual([2]);
    expect(env.spec.controlHz).toBeCloseTo(25, 6); // 20 steps of the file's 2 ms
    const { steps } = await checkEnv(env);
    expect(steps).toBeGreaterThan(30);
    // The servos move the joints: full positive actions raise both joint angles.
    const { obs } = await env.reset({ seed: 1 });
    let last = obs;
    for (let t = 0; t < 5; t++) last = (await env.step(Float32Array.of(1, 1))).obs;
    expect(last[0]! - obs[0]!).toBeGreaterThan(0.05);
    expect(last[1]! - obs[1]!).toBeGreaterThan(0.05);
    await env.close();
  });

  it('a missing mesh fails naming the file and the element that wants it', async () => {
    const path = writeArm(join(dir, 'nomesh'), { dropMesh: true });
    await expect(make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'tool' } })).rejects.toThrow(/<mesh file="fore.stl"> names .*assets\/fore.stl, which does not exist/);
  });

  it('a model MuJoCo refuses fails with MuJoCo\'s message and the file', async () => {
    const path = writeArm(join(dir, 'bad'), { badKeyword: true });
    await expect(make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'tool' } })).rejects.toThrow(/MJCF file .*arm\.xml: .*invalid keyword: 'capsul'[\s\S]*Element 'geom'/);
  });

  it('a servo too stiff for its step diverges with a clear error, not garbage', async () => {
    // Euler integrates the servo's damping explicitly: kv·dt/I ≫ 2 on the forearm.
    const path = writeArm(join(dir, 'unstable'));
    writeFileSync(path, readFileSync(path, 'utf8').replace(' integrator="implicitfast"', ''));
    const defaults = join(dir, 'unstable', 'defaults.xml');
    writeFileSync(defaults, readFileSync(defaults, 'utf8').replace('kv="8"', 'kv="500"'));
    const env = await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'tool' } });
    await env.reset({ seed: 0 });
    let error: unknown;
    const rng = new Rng(0);
    for (let t = 0; t < 100 && !error; t++) await env.step(Float32Array.of(rng.uniform(-1, 1), rng.uniform(-1, 1))).catch((e: unknown) => (error = e));
    expect(error).toBeInstanceOf(PhysicsError);
    expect(String(error)).toMatch(/tiny_arm diverged .* after the reset/);
    await env.close();
  });

  /** A one-joint arm; `option`, `joint`, `actuator` and `base` replace its parts. */
  const oneJoint = (name: string, { option = '<option timestep="0.002"/>', joint = '<joint name="j1" type="hinge" axis="0 1 0" range="-1 1"/>', actuator = '<position joint="j1" kp="50"/>', base = '' } = {}): string => {
    const path = join(dir, 'small', `${name}.xml`);
    mkdirSync(join(dir, 'small'), { recursive: true });
    writeFileSync(
      path,
      `<mujoco model="${name}">${option}<worldbody><body name="base" pos="0 0 0.5">${base}<geom type="box" size=".05 .05 .05"/><body name="l1" pos="0 0 .1">${joint}<geom type="capsule" size=".02" fromto="0 0 0 0 0 .2"/><body name="tool" pos="0 0 .2"/></body></body></worldbody><actuator>${actuator}</actuator></mujoco>`,
    );
    return path;
  };
  const open = (mjcf: string) => make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf, tip: 'tool' } });

  it('a time step that is zero, negative or not a number is refused naming the file (zero hung the first step; NaN made controlHz NaN)', async () => {
    for (const [name, ts] of [['ts_zero', '0'], ['ts_negative', '-0.01'], ['ts_nan', 'nan']] as const) {
      const path = oneJoint(name, { option: `<option timestep="${ts}"/>` });
      await expect(open(path)).rejects.toThrow(new RegExp(`MJCF file .*${name}\\.xml: <option timestep> must be a positive number of seconds`));
    }
  }, 30_000);

  it('an actuator that is not a position servo, two joints in one body, or a floating robot are refused naming the file', async () => {
    // A motor or velocity actuator would read the task's position targets as torques or speeds.
    await expect(open(oneJoint('motor', { actuator: '<motor joint="j1" gear="1"/>' }))).rejects.toThrow(/MJCF file .*motor\.xml: the actuator on joint "j1" is not a position servo/);
    await expect(open(oneJoint('velocity', { actuator: '<velocity joint="j1" kv="1"/>' }))).rejects.toThrow(/MJCF file .*velocity\.xml: the actuator on joint "j1" is not a position servo/);
    const two = oneJoint('two', { joint: '<joint name="j1" type="hinge" axis="0 1 0" range="-1 1"/><joint name="j2" type="hinge" axis="1 0 0" range="-1 1"/>', actuator: '<position joint="j1" kp="50"/><position joint="j2" kp="50"/>' });
    await expect(open(two)).rejects.toThrow(/MJCF file .*two\.xml: body "l1" has 2 joints/);
    await expect(open(oneJoint('floating', { base: '<freejoint/>' }))).rejects.toThrow(/MJCF file .*floating\.xml: the robot's body "base" has a free joint/);
    // A position servo still loads.
    const env = await open(oneJoint('servo'));
    await env.close();
  }, 30_000);

  it('a model nested too deep for MuJoCo\'s wasm stack (a 150-link chain) is refused by name, and later models still load', async () => {
    // After one compile error such a chain overflowed MuJoCo's stack ("memory access out of
    // bounds") and every later model failed the same way.
    await expect(open(oneJoint('kw', { base: '<geom type="capsul"/>' }))).rejects.toThrow(/invalid keyword/);
    let body = '<body name="tool"/>';
    let actuators = '';
    for (let i = 150; i >= 1; i--) {
      body = `<body name="l${i}" pos="0 0 .01"><joint name="j${i}" type="hinge" axis="0 1 0" range="-1 1"/><geom type="sphere" size=".005" mass=".01"/>${body}</body>`;
      actuators += `<position joint="j${i}" kp="1"/>`;
    }
    const path = join(dir, 'chain.xml');
    writeFileSync(path, `<mujoco model="chain"><worldbody><body name="base">${body}</body></worldbody><actuator>${actuators}</actuator></mujoco>`);
    await expect(open(path)).rejects.toThrow(/MJCF file .*chain\.xml: elements nested deeper than 100/);
    const env = await open(oneJoint('after_chain'));
    await env.close();
  }, 30_000);

  it('a mesh named by an absolute path loads (it was joined onto the model\'s folder and reported missing)', async () => {
    const mesh = join(dir, 'elsewhere', 'box.stl');
    mkdirSync(join(dir, 'elsewhere'), { recursive: true });
    writeFileSync(mesh, stlBox([0.02, 0.02, 0.02]));
    const path = oneJoint('absmesh', { base: `<geom type="mesh" mesh="box"/>`, option: `<option timestep="0.002"/><asset><mesh name="box" file="${mesh}"/></asset>` });
    const env = await open(path);
    await env.close();
  }, 30_000);

  it('a folder given as the MJCF file is refused naming it', async () => {
    const folder = join(dir, 'folder.xml');
    mkdirSync(folder, { recursive: true });
    await expect(open(folder)).rejects.toThrow(/MJCF file .*folder\.xml is not a file/);
  });

  it('mjcf needs the MuJoCo engine, and a tip the file has', async () => {
    const path = writeArm(join(dir, 'opts'));
    await expect(make('UrdfReach-v0', { options: { mjcf: path } })).rejects.toThrow(/`mjcf` needs `engine: mujoco`/);
    await expect(make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'flange' } })).rejects.toThrow(/tip link "flange" is not in MJCF robot "tiny_arm"/);
  });

  it('roborl train reads the MJCF relative to the config and refuses a broken one before writing the run folder', async () => {
    writeArm(join(dir, 'cli', 'arm'), { dropMesh: true });
    const config = join(dir, 'cli', 'arm.yaml');
    writeFileSync(config, 'name: mjcf-arm\nenv: { id: UrdfReach-v0, options: { engine: mujoco, mjcf: arm/arm.xml, tip: tool } }\nalgo: { kind: sac, hidden: [8, 8] }\ntrain: { steps: 50 }\n');
    const runDir = join(dir, 'cli', 'run');
    const bin = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
    const failed = await promisify(execFile)(process.execPath, [bin, 'train', config, '--run-dir', runDir, '--quiet']).catch((e: { code: number; stderr: string }) => e);
    expect('code' in failed && failed.code).not.toBe(0);
    expect((failed as { stderr: string }).stderr).toMatch(/arm\/assets\/fore\.stl, which does not exist/);
    expect(existsSync(runDir)).toBe(false);
  }, 60_000);
});
