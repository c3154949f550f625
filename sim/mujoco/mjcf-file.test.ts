import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEnv } from '../../control/check-env.js';
import { findSceneSource, meshProblem } from '../../control/scene.js';
import { Camera } from '../camera/camera.js';
import { transformPoint, type Quat, type Vec3 } from '../math3d.js';
import { parseCamera } from '../camera/config.js';
import { Rng } from '../../control/rng.js';
import { PhysicsError } from '../physics.js';
import { make } from '../../tasks/registry.js';
import { stlBox, writeArm } from '../../test/mjcf-arm.js';

const dir = mkdtempSync(join(tmpdir(), 'roborl-mjcf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

  it('its meshes are in the scene (triangles, named after their bodies, not the bindings\' "emsc") and a camera sees the arm move', async () => {
    const env = await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: writeArm(join(dir, 'drawn')), tip: 'tool' } });
    await env.reset({ seed: 0 });
    const source = findSceneSource(env)!;
    const before = source.scene();
    const names = before.shapes.map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['base#0', 'upper#0', 'fore#0', 'cube#0']));
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('emsc');
    for (const [name, half] of [
      ['upper#0', [0.03, 0.03, 0.15]],
      ['fore#0', [0.025, 0.025, 0.12]],
    ] as const) {
      const mesh = before.shapes.find((x) => x.name === name)!;
      expect(mesh.kind).toBe('mesh');
      expect(meshProblem(mesh.mesh)).toBeNull();
      expect(mesh.mesh!.faces.length).toBe(36); // the STL's 12 triangles
      // In the body's frame (MuJoCo's own mesh frame is the mesh's principal axes): the geom's box
      // stands on the body's origin (pos 0 0 h), so it reaches 2h up.
      [half[0], half[1], 2 * half[2]].forEach((h, a) => expect(mesh.size[a]).toBeCloseTo(h, 5));
    }
    // The vertices are in the geom's frame: placed by its pose, the upper link's box hangs from the
    // shoulder (0, 0, 0.1) whatever the start angle — its near corners 0.03·√2 from it, its far ones √(2·0.03² + 0.3²).
    const k = names.indexOf('upper#0');
    const p = before.poses.slice(7 * k, 7 * k + 7);
    const v = before.shapes[k]!.mesh!.vertices;
    const dist: number[] = [];
    for (let i = 0; i < v.length; i += 3) {
      const w = transformPoint({ p: p.slice(0, 3) as Vec3, q: p.slice(3) as Quat }, [v[i]!, v[i + 1]!, v[i + 2]!]);
      dist.push(Math.hypot(w[0], w[1], w[2] - 0.1));
    }
    expect(Math.min(...dist)).toBeCloseTo(0.03 * Math.SQRT2, 4);
    expect(Math.max(...dist)).toBeCloseTo(Math.sqrt(2 * 0.03 ** 2 + 0.3 ** 2), 4);
    // A side camera: the meshes draw (most of the arm's pixels), and follow the joints.
    const cam = new Camera(parseCamera({ name: 'side', width: 64, height: 64, fovDeg: 60, pose: { kind: 'fixed', position: [0, -0.8, 0.35], lookAt: [0, 0, 0.35] } }));
    const drawn = (scene: typeof before): number => {
      const out = cam.createFrame();
      cam.render(scene, out);
      let n = 0;
      for (let k = 0; k < 64 * 64; k++) if (out.rgb[3 * k] !== 243 || out.rgb[3 * k + 1] !== 245) n++;
      return n;
    };
    const withoutMeshes = (scene: typeof before): typeof before => {
      const keep = scene.shapes.map((x) => x.kind !== 'mesh');
      return { shapes: scene.shapes.filter((_, i) => keep[i]), poses: scene.poses.filter((_, i) => keep[Math.floor(i / 7)]) };
    };
    expect(drawn(before) - drawn(withoutMeshes(before))).toBeGreaterThan(80);
    const image = (scene: typeof before): Uint8Array => {
      const out = cam.createFrame();
      cam.render(scene, out);
      return out.rgb.slice();
    };
    const first = image(before);
    for (let t = 0; t < 10; t++) await env.step(Float32Array.of(1, -1));
    const moved = image(source.scene());
    let changed = 0;
    for (let k = 0; k < first.length; k += 3) if (first[k] !== moved[k]) changed++;
    expect(changed).toBeGreaterThan(40);
    await env.close();
  });

  it('nameless bodies (a prop, a robot link) load; drawn geoms get unique names; hidden ones (group 3, clear by colour or material) are left out; a mesh rides its body', async () => {
    const folder = join(dir, 'names');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'tet.stl'), stlBox([0.02, 0.01, 0.04]));
    const path = join(folder, 'names.xml');
    writeFileSync(
      path,
      `<mujoco model="names"><option timestep="0.002"/>
  <asset><mesh name="tet" file="tet.stl"/><material name="clear" rgba="1 1 1 0"/></asset>
  <worldbody>
    <body pos="1 1 0"><geom type="sphere" size="0.05"/></body>
    <body name="base" pos="0 0 0.5">
      <geom name="base#0" type="box" size=".05 .05 .05"/>
      <geom type="box" size=".04 .04 .04" pos="0 0 -0.1"/>
      <geom type="box" size=".03 .03 .03" group="3"/>
      <geom type="box" size=".03 .03 .03" rgba="1 0 0 0"/>
      <geom type="box" size=".03 .03 .03" material="clear"/>
      <body pos="0 0 .1">
        <joint name="j1" type="hinge" axis="0 1 0" range="-1 1"/>
        <geom type="mesh" mesh="tet" pos="0.05 0 0.1" euler="0 0.3 0"/>
        <body name="tool" pos="0 0 .2"/>
      </body>
    </body>
  </worldbody>
  <actuator><position joint="j1" kp="50"/></actuator></mujoco>`,
    );
    // The prop body beside the arm and the arm's moving body have no names (a nameless body was
    // looked up as "body1" and the model refused).
    const env = await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'tool' } });
    await env.reset({ seed: 2 });
    const scene = findSceneSource(env)!.scene();
    const names = scene.shapes.map((x) => x.name);
    expect(new Set(names).size).toBe(names.length);
    // base#0 is the named box; the nameless one beside it takes base#1; the three hidden boxes are absent.
    expect(names.filter((n) => n.startsWith('base#')).sort()).toEqual(['base#0', 'base#1']);
    expect(scene.shapes.find((x) => x.name === 'base#1')!.size).toEqual([0.04, 0.04, 0.04]);
    expect(names).toContain('body1#0');
    // The mesh's shape is posed as its (nameless) body: its vertices sit where the geom puts them.
    const k = scene.shapes.findIndex((x) => x.kind === 'mesh');
    expect(k).toBeGreaterThanOrEqual(0);
    const v = scene.shapes[k]!.mesh!.vertices;
    const centre = [0, 1, 2].map((a) => v.filter((_, i) => i % 3 === a).reduce((x, y) => x + y, 0) / (v.length / 3));
    expect(centre[0]).toBeCloseTo(0.05, 5); // the geom's pos in the body
    expect(centre[1]).toBeCloseTo(0, 5);
    expect(centre[2]).toBeCloseTo(0.1, 5);
    await env.close();
  });

  it('a floor plane, an ellipsoid and a height field are in the scene as triangles (Menagerie scenes stand on a plane), and a camera sees the floor', async () => {
    const folder = join(dir, 'ground');
    mkdirSync(folder, { recursive: true });
    const path = join(folder, 'ground.xml');
    writeFileSync(
      path,
      `<mujoco model="ground"><option timestep="0.002"/>
  <asset><hfield name="terrain" nrow="3" ncol="4" size="0.5 0.4 0.2 0.05" elevation="0 0.5 1 0.5  0 0 0 0  1 1 1 1"/></asset>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    <geom name="mat" type="plane" size="0.3 0.2 0.05" pos="0 0 0.01" euler="0 0 90"/>
    <geom name="terrain" type="hfield" hfield="terrain" pos="2 0 0"/>
    <geom name="vast" type="plane" size="20000 20000 1" pos="0 0 -1"/>
    <geom name="faraway" type="plane" size="0 0 1" pos="9980 0 0"/>
    <body name="base" pos="0 0 0.5">
      <geom name="egg" type="ellipsoid" size="0.05 0.03 0.08" pos="0 0 0.2" euler="0 90 0"/>
      <body pos="0 0 .1">
        <joint name="j1" type="hinge" axis="0 1 0" range="-1 1"/>
        <geom type="box" size=".02 .02 .1" pos="0 0 .1"/>
        <body name="tool" pos="0 0 .2"/>
      </body>
    </body>
  </worldbody>
  <actuator><position joint="j1" kp="50"/></actuator></mujoco>`,
    );
    const env = await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: path, tip: 'tool' } });
    await env.reset({ seed: 2 });
    const scene = findSceneSource(env)!.scene();
    const world = (name: string): number[][] => {
      const k = scene.shapes.findIndex((x) => x.name === name);
      expect(k, name).toBeGreaterThanOrEqual(0);
      const shape = scene.shapes[k]!;
      expect(shape.kind).toBe('mesh');
      expect(meshProblem(shape.mesh)).toBeNull();
      const p = scene.poses.slice(7 * k, 7 * k + 7);
      const v = shape.mesh!.vertices;
      const out: number[][] = [];
      for (let i = 0; i < v.length; i += 3) out.push(transformPoint({ p: p.slice(0, 3) as Vec3, q: p.slice(3) as Quat }, [v[i]!, v[i + 1]!, v[i + 2]!]));
      return out;
    };
    const extent = (pts: number[][], a: number): [number, number] => [Math.min(...pts.map((w) => w[a]!)), Math.max(...pts.map((w) => w[a]!))];
    // The world body's geoms are fixtures (drawn grey, not in the robot's colour); the ellipsoid rides the robot's base.
    expect(['floor', 'mat', 'terrain', 'vast'].map((n) => scene.shapes.find((x) => x.name === n)?.role)).toEqual(['fixture', 'fixture', 'fixture', 'fixture']);
    expect(scene.shapes.find((x) => x.name === 'egg')?.role).toBe('robot');
    // A plane larger than the infinite one's drawing is drawn as far; one whose drawing would reach
    // past what a viewer accepts (10 km) is left out, not the scene with it.
    expect(extent(world('vast'), 0)).toEqual([-50, 50]);
    expect(scene.shapes.map((x) => x.name)).not.toContain('faraway');
    for (const shape of scene.shapes) if (shape.mesh) expect(meshProblem(shape.mesh), shape.name).toBeNull();
    // The infinite floor: a square far past any camera here, at z = 0.
    const floor = world('floor');
    expect(extent(floor, 0)).toEqual([-50, 50]);
    expect(extent(floor, 2)[0]).toBeCloseTo(0, 9);
    expect(extent(floor, 2)[1]).toBeCloseTo(0, 9);
    // A finite plane turned 90° about z: its 0.3 × 0.2 half extents swap axes.
    const mat = world('mat');
    [extent(mat, 0), extent(mat, 1)].forEach(([lo, hi], a) => {
      expect(lo).toBeCloseTo(-[0.2, 0.3][a]!, 6);
      expect(hi).toBeCloseTo([0.2, 0.3][a]!, 6);
    });
    // The ellipsoid turned 90° about y: its z radius (0.08) lies along x, centred 0.2 above the base.
    const egg = world('egg');
    expect(extent(egg, 0)[1]).toBeCloseTo(0.08, 5);
    expect(extent(egg, 1)[1]).toBeCloseTo(0.03, 2);
    expect(extent(egg, 2)[1]).toBeCloseTo(0.7 + 0.05, 5);
    // The height field: 3 rows × 4 columns over ±0.5 × ±0.4, heights elevation × 0.2. The file's
    // first row is the +y edge (MuJoCo reads it like an image, top row first), its last the −y edge.
    const terrain = world('terrain');
    expect(terrain).toHaveLength(12);
    expect(scene.shapes.find((x) => x.name === 'terrain')!.mesh!.faces).toHaveLength(3 * 2 * 2 * 3);
    expect(extent(terrain, 0)).toEqual([1.5, 2.5]);
    expect(terrain.slice(8).map((w) => [Math.round(w[1]! * 1e6) / 1e6, Math.round(w[2]! * 1e6) / 1e6])).toEqual([[0.4, 0], [0.4, 0.1], [0.4, 0.2], [0.4, 0.1]]);
    expect(terrain.slice(0, 4).every((w) => Math.abs(w[1]! + 0.4) < 1e-6 && Math.abs(w[2]! - 0.2) < 1e-6)).toBe(true);
    // A camera looking down past the arm: the floor fills the lower half of the image, where
    // only the background was drawn before.
    const cam = new Camera(parseCamera({ name: 'side', width: 32, height: 32, fovDeg: 60, pose: { kind: 'fixed', position: [0, -1.5, 0.6], lookAt: [0, 0, 0.2] } }));
    const out = cam.createFrame();
    const lowerRowsBackground = (shapes: typeof scene): number => {
      cam.render(shapes, out);
      let n = 0;
      for (let k = 32 * 24; k < 32 * 32; k++) if (out.rgb[3 * k] === 243 && out.rgb[3 * k + 1] === 245) n++;
      return n;
    };
    const planes = scene.shapes.map((x) => x.name === 'floor' || x.name === 'vast');
    expect(lowerRowsBackground({ shapes: scene.shapes.filter((_, i) => !planes[i]), poses: scene.poses.filter((_, i) => !planes[Math.floor(i / 7)]) })).toBe(32 * 8);
    expect(lowerRowsBackground(scene)).toBe(0);
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
