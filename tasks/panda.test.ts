import { describe, expect, it } from 'vitest';
import { transformPoint, type Vec3 } from '../sim/math3d.js';
import { loadDescription } from '../sim/descriptions.js';
import { forwardKinematics, movableJoints } from '../sim/urdf/kinematics.js';
import type { Collision } from '../sim/urdf/types.js';
import { Rng } from '../control/rng.js';
import { PANDA_TABLE, PANDA_TABLE_OBJECT } from './panda.js';

/** The lowest point of a collision shape placed by its link's pose (capsules and cylinders along their local z). */
function lowestZ(c: Collision, link: { p: Vec3; q: readonly [number, number, number, number] }): number {
  return extent(c, link, 2)[0];
}

/** A collision shape's [lowest, highest] coordinate on world `axis`, placed by its link's pose (capsules and cylinders along their local z). */
function extent(c: Collision, link: { p: Vec3; q: readonly [number, number, number, number] }, axis: 0 | 1 | 2): [number, number] {
  const place = (v: Vec3): number => transformPoint(link as never, transformPoint(c.origin, v))[axis];
  const ends = (half: number, radius: number): [number, number] => {
    const a = place([0, 0, half]);
    const b = place([0, 0, -half]);
    // The rims' (cylinder) and caps' (capsule) points lie within the radius of the axis' ends.
    return [Math.min(a, b) - radius, Math.max(a, b) + radius];
  };
  const g = c.geometry;
  switch (g.type) {
    case 'sphere':
      return ends(0, g.radius);
    case 'capsule':
    case 'cylinder':
      return ends(g.length / 2, g.radius);
    case 'box': {
      let lo = Infinity;
      let hi = -Infinity;
      for (const sx of [-1, 1]) {
        for (const sy of [-1, 1]) {
          for (const sz of [-1, 1]) {
            const v = place([(sx * g.size[0]) / 2, (sy * g.size[1]) / 2, (sz * g.size[2]) / 2]);
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        }
      }
      return [lo, hi];
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

  it('robotFloor: wherever the arm reaches below the table top it is over the table, so MuJoCo may meet it with the top as a plane', () => {
    expect(PANDA_TABLE_OBJECT.robotFloor).toBe(true);
    const robot = loadDescription('panda');
    const joints = movableJoints(robot);
    const clear = new Set([robot.root, ...(PANDA_TABLE_OBJECT.clearOf ?? [])]);
    const top = PANDA_TABLE.center[2] + PANDA_TABLE.half[2];
    const table = ([0, 1] as const).map((a) => [PANDA_TABLE.center[a] - PANDA_TABLE.half[a], PANDA_TABLE.center[a] + PANDA_TABLE.half[a]] as const);
    const rng = new Rng(11);
    const q = new Float64Array(joints.length);
    let below = 0;
    let margin = Infinity;
    let backmost = Infinity;
    // Uniform over the joint box, and a quarter of the samples with each joint at one of its limits or
    // mid-range (an arm stretched out and bent down reaches furthest).
    for (let n = 0; n < 60_000; n++) {
      joints.forEach((j, i) => {
        const { lower, upper } = j.limit as NonNullable<typeof j.limit>;
        q[i] = n % 4 === 0 ? [lower, upper, (lower + upper) / 2][rng.int(3)] as number : rng.uniform(lower, upper);
      });
      const poses = forwardKinematics(robot, q);
      for (const link of robot.links) {
        if (clear.has(link.name)) continue;
        for (const col of link.collisions) {
          const pose = poses.get(link.name) as never;
          if (extent(col, pose, 2)[0] >= top) continue;
          below++;
          for (const a of [0, 1] as const) {
            const [lo, hi] = extent(col, pose, a);
            margin = Math.min(margin, lo - (table[a]?.[0] as number), (table[a]?.[1] as number) - hi);
            if (a === 0) backmost = Math.min(backmost, lo);
          }
        }
      }
    }
    expect(below).toBeGreaterThan(1000);
    // The old table's back edge (0.7 m behind the base) was not far enough: the wrist went 0.95 m back.
    expect(backmost).toBeLessThan(-0.7);
    expect(margin).toBeGreaterThan(0);
  });
});
