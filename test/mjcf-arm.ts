import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A binary STL box of half extents h: 12 triangles. */
export function stlBox(h: [number, number, number]): Buffer {
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
export function writeArm(folder: string, { dropMesh = false, badKeyword = false } = {}): string {
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
