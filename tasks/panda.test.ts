import { describe, expect, it } from 'vitest';
import { transformPoint, type Vec3 } from '../sim/math3d.js';
import { loadDescription } from '../sim/descriptions.js';
import { forwardKinematics, movableJoints } from '../sim/urdf/kinematics.js';
import type { Collision } from '../sim/urdf/types.js';
import { PANDA_TABLE, PANDA_TABLE_OBJECT } from './panda.js';

/** The lowest point of a collision shape placed by its link's pose (capsules and cylinders along their local z). */
function lowestZ(c: Collision, link: { p: Vec3; q: readonly [number, number, number, number] }): number {
  const place = (v: Vec3): number => transformPoint(link as never, transformPoint(c.origin, v))[2];
  const g = c.geometry;
  switch (g.type) {
    case 'sphere':
      return place([0, 0, 0]) - g.radius;
    case 'capsule':
      return Math.min(place([0, 0, g.length / 2]), place([0, 0, -g.length / 2])) - g.radius;
    case 'cylinder':
      // The rims' lowest points lie within the radius of the axis' ends.
      return Math.min(place([0, 0, g.length / 2]), place([0, 0, -g.length / 2])) - g.radius;
    case 'box': {
      let z = Infinity;
      for (const sx of [-1, 1]) for (const sy of [-1, 1]) for (const sz of [-1, 1]) z = Math.min(z, place([(sx * g.size[0]) / 2, (sy * g.size[1]) / 2, (sz * g.size[2]) / 2]));
      return z;
    }
    case 'mesh':
      throw new Error('the Panda description has no mesh collisions');
  }
}

describe('the Panda on its table', () => {
  it("the table's clearOf links (MuJoCo tests no contact for them) stay clear of the table top over their whole joint ranges", () => {
    const robot = loadDescription('panda');
    const joints = movableJoints(robot);
    const clear = new Set(PANDA_TABLE_OBJECT.clearOf);
    expect(clear.size).toBeGreaterThan(0);
    // Links 1–3 move with joints 1–3 only; joint 1 turns about the vertical, which moves no height, but is swept too.
    const [j1, j2, j3] = joints as [(typeof joints)[0], (typeof joints)[0], (typeof joints)[0]];
    const grid = (j: (typeof joints)[0], n: number): number[] => Array.from({ length: n + 1 }, (_, i) => j.limit!.lower + ((j.limit!.upper - j.limit!.lower) * i) / n);
    const top = PANDA_TABLE.center[2] + PANDA_TABLE.half[2];
    let lowest = Infinity;
    const q = new Float64Array(joints.length);
    for (const a of grid(j1, 4)) {
      for (const b of grid(j2, 60)) {
        for (const c of grid(j3, 60)) {
          q[0] = a;
          q[1] = b;
          q[2] = c;
          const poses = forwardKinematics(robot, q);
          for (const link of robot.links) {
            if (!clear.has(link.name)) continue;
            for (const col of link.collisions) lowest = Math.min(lowest, lowestZ(col, poses.get(link.name) as never));
          }
        }
      }
    }
    // 9.3 cm, with joint 2 at its limit; link 4 swept the same way goes 17.5 cm below the top.
    expect(lowest - top).toBeGreaterThan(0.03);
    expect(lowest - top).toBeLessThan(0.2); // the sweep reached down toward the table
  });
});
