import { describe, expect, it } from 'vitest';
import type { SceneShape, SceneState } from '../../control/scene.js';
import { Rng } from '../../control/rng.js';
import { Camera, type CameraFrame, renderCamera, ROLE_LOOKS } from './camera.js';
import { CameraConfigError, type CameraConfigInput, parseCamera, parseCameras } from './config.js';
import { CameraRig } from './rig.js';

const shape = (name: string, kind: SceneShape['kind'], size: number[], role: SceneShape['role'] = 'object'): SceneShape => ({ name, kind, size, role });

/** A camera at the origin looking along +x, z up: image right is world −y, image up is world z. */
function alongX(extra: Partial<CameraConfigInput> = {}): Camera {
  return new Camera(parseCamera({ name: 'c', width: 64, height: 64, fovDeg: 60, pose: { kind: 'fixed', position: [0, 0, 0], lookAt: [1, 0, 0] }, ...extra }));
}

function render(camera: Camera, scene: SceneState): CameraFrame {
  const out = camera.createFrame();
  renderCamera(scene, camera, out);
  return out;
}

const px = (f: CameraFrame, col: number, row: number): [number, number, number] => {
  const k = 3 * (row * f.width + col);
  return [f.rgb[k] ?? -1, f.rgb[k + 1] ?? -1, f.rgb[k + 2] ?? -1];
};

/** Centroid (col, row) and count of the pixels that are not the background. */
function blob(f: CameraFrame, bg: readonly number[] = [243, 245, 249]): { col: number; row: number; n: number } {
  let sc = 0;
  let sr = 0;
  let n = 0;
  for (let row = 0; row < f.height; row++) {
    for (let col = 0; col < f.width; col++) {
      const [r, g, b] = px(f, col, row);
      if (r === bg[0] && g === bg[1] && b === bg[2]) continue;
      sc += col;
      sr += row;
      n++;
    }
  }
  return { col: sc / n, row: sr / n, n };
}

describe('simulated camera: geometry', () => {
  it('puts a sphere where the pinhole model says (square and non-square images)', () => {
    for (const [w, h] of [
      [64, 64],
      [80, 48],
    ] as const) {
      const cam = alongX({ width: w, height: h });
      // World (2, 0.3, −0.2) is camera (x right, y up, z forward) = (−0.3, −0.2, 2).
      const f = render(cam, { shapes: [shape('ball', 'sphere', [0.15])], poses: [2, 0.3, -0.2, 0, 0, 0, 1] });
      const focal = h / 2 / Math.tan(Math.PI / 6);
      const b = blob(f);
      expect(b.n).toBeGreaterThan(20);
      expect(Math.abs(b.col - (w / 2 + (focal * -0.3) / 2 - 0.5))).toBeLessThan(0.3);
      expect(Math.abs(b.row - (h / 2 + (focal * 0.2) / 2 - 0.5))).toBeLessThan(0.3);
    }
  });

  it('depth is the distance along the optical axis; nothing hit is `far`', () => {
    // 63×63: the centre pixel's ray is the optical axis.
    const cam = alongX({ width: 63, height: 63, depth: true, far: 7 });
    const sphere = render(cam, { shapes: [shape('ball', 'sphere', [0.2])], poses: [2.5, 0, 0, 0, 0, 0, 1] });
    expect(sphere.depth?.[31 * 63 + 31]).toBeCloseTo(2.3, 5);
    expect(sphere.depth?.[0]).toBe(7);
    // A box face square to the axis is one plane: the same depth at every pixel it covers.
    const box = render(cam, { shapes: [shape('wall', 'box', [0.05, 0.5, 0.5])], poses: [1.55, 0, 0, 0, 0, 0, 1] });
    const covered = [...(box.depth ?? [])].filter((d) => d < 7);
    expect(covered.length).toBeGreaterThan(500);
    for (const d of covered) expect(d).toBeCloseTo(1.5, 5);
    // A cylinder and a capsule seen end on (their axis is local y; rotate it onto world x).
    const yToX = [0, 0, -Math.SQRT1_2, Math.SQRT1_2];
    const cyl = render(cam, { shapes: [shape('c', 'cylinder', [0.1, 0.3])], poses: [2, 0, 0, ...yToX] });
    expect(cyl.depth?.[31 * 63 + 31]).toBeCloseTo(1.7, 5);
    const cap = render(cam, { shapes: [shape('c', 'capsule', [0.1, 0.3])], poses: [2, 0, 0, ...yToX] });
    expect(cap.depth?.[31 * 63 + 31]).toBeCloseTo(1.6, 5);
  });

  it('a near box hides a far sphere on the same line of sight, whatever the shapes order', () => {
    const cam = alongX({ depth: true });
    const box = shape('box', 'box', [0.05, 0.1, 0.1], 'robot');
    const ball = shape('ball', 'sphere', [0.3], 'object');
    const a = render(cam, { shapes: [box, ball], poses: [1, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 1] });
    const b = render(cam, { shapes: [ball, box], poses: [3, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1] });
    const [r, g, bl] = px(a, 32, 32);
    expect(r).toBeGreaterThan(bl); // the robot's orange, not the object's blue
    expect(g).toBeLessThan(r);
    expect(a.depth?.[32 * 64 + 32]).toBeCloseTo(0.95, 5);
    // Outside the box's silhouette the sphere shows.
    const [r2, , b2] = px(a, 32, 12);
    expect(b2).toBeGreaterThan(r2);
    expect(Buffer.from(b.rgb).equals(Buffer.from(a.rgb))).toBe(true);
  });

  it('see-through markers tint what is behind them and stay out of depth', () => {
    const cam = alongX({ depth: true });
    const wall = shape('wall', 'box', [0.05, 2, 2], 'fixture');
    const goal = shape('goal', 'sphere', [0.2], 'target');
    const f = render(cam, { shapes: [goal, wall], poses: [1.5, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 1] });
    const [r, g, b] = px(f, 32, 32);
    expect(g).toBeGreaterThan(r + 20);
    expect(g).toBeGreaterThan(b + 20);
    expect(f.depth?.[32 * 64 + 32]).toBeCloseTo(2.95, 5); // the wall's, not the goal's
    // A goal behind the wall is hidden.
    const hidden = render(cam, { shapes: [goal, wall], poses: [4, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 1] });
    const [hr, hg] = px(hidden, 32, 32);
    expect(hg - hr).toBeLessThan(20);
    expect(ROLE_LOOKS.target.alpha).toBeLessThan(1);
  });

  it('a camera attached to a link moves with it', () => {
    const cam = new Camera(parseCamera({ name: 'wrist', width: 32, height: 32, pose: { kind: 'attached', link: 'hand', position: [0, 0, 0.1], lookAt: [1, 0, 0.1] } }));
    const hand = shape('hand#0', 'box', [0.01, 0.01, 0.01], 'robot');
    const ball = shape('ball', 'sphere', [0.1], 'object');
    // Hand at the origin, ball 1 m ahead of the camera, seen in the centre.
    const before = render(cam, { shapes: [hand, ball], poses: [0, 0, 0, 0, 0, 0, 1, 1, 0, 0.1, 0, 0, 0, 1] });
    const b0 = blob(before);
    expect(b0.col).toBeCloseTo(15.5, 0);
    expect(b0.row).toBeCloseTo(15.5, 0);
    // Turn the hand 90° about z (and move it): the camera now looks along +y, where the ball is not.
    const qz90 = [0, 0, Math.SQRT1_2, Math.SQRT1_2];
    const turned = render(cam, { shapes: [hand, ball], poses: [0.5, 0, 0, ...qz90, 1, 0, 0.1, 0, 0, 0, 1] });
    expect(blob(turned).n).toBe(0);
    // Move the ball with it (rigidly): the same image as before.
    const both = render(cam, { shapes: [hand, ball], poses: [0.5, 0, 0, ...qz90, 0.5, 1, 0.1, 0, 0, 0, 1] });
    const b1 = blob(both);
    expect(b1.n).toBe(b0.n);
    expect(b1.col).toBeCloseTo(b0.col, 3);
    expect(b1.row).toBeCloseTo(b0.row, 3);
    // A scene without the link is a clear error.
    expect(() => render(cam, { shapes: [ball], poses: [1, 0, 0, 0, 0, 0, 1] })).toThrow(/no link "hand"/);
  });

  it('refuses a frame of the wrong size and a scene whose poses are short', () => {
    const cam = alongX();
    const other = alongX({ width: 32 }).createFrame();
    expect(() => cam.render({ shapes: [], poses: [] }, other)).toThrow(/32×64.*64×64/);
    expect(() => cam.render({ shapes: [shape('a', 'sphere', [1])], poses: [0, 0, 0] }, cam.createFrame())).toThrow(/1 shapes but 3 pose numbers/);
  });

  it('draws nothing for a shape with NaN pose or non-positive size instead of failing', () => {
    const cam = alongX();
    const f = render(cam, { shapes: [shape('a', 'sphere', [0.1]), shape('b', 'box', [0, 1, 1]), shape('c', 'sphere', [-1])], poses: [Number.NaN, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1] });
    expect(blob(f).n).toBe(0);
  });
});

/** A box of half extents h as a triangle mesh: 8 corners, 12 triangles (outward, counter-clockwise). */
function boxMesh(h: [number, number, number]): SceneShape['mesh'] {
  const vertices = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [i & 1 ? h[0] : -h[0], i & 2 ? h[1] : -h[1], i & 4 ? h[2] : -h[2]]);
  const faces = [0, 2, 1, 1, 2, 3, 4, 5, 6, 5, 7, 6, 0, 1, 4, 1, 5, 4, 2, 6, 3, 3, 6, 7, 0, 4, 2, 2, 4, 6, 1, 3, 5, 3, 7, 5];
  return { vertices, faces };
}

describe('simulated camera: meshes', () => {
  const h: [number, number, number] = [0.2, 0.15, 0.1];
  const asMesh = (name: string): SceneShape => ({ name, kind: 'mesh', size: h, role: 'object', mesh: boxMesh(h) });
  const differing = (a: CameraFrame, b: CameraFrame): number => {
    let n = 0;
    for (let k = 0; k < a.width * a.height; k++) if (Math.abs((a.rgb[3 * k] ?? 0) - (b.rgb[3 * k] ?? 0)) > 2) n++;
    return n;
  };

  it('a box as 12 triangles looks like the box primitive: the same pixels, shades and depth (edges aside)', () => {
    const cam = alongX({ depth: true });
    // Turned about two axes, so three faces show, each in its own shade.
    const q = [0.2, 0.3, 0.1];
    const w = Math.sqrt(1 - q[0]! ** 2 - q[1]! ** 2 - q[2]! ** 2);
    const poses = [0.9, 0.1, -0.05, ...q, w];
    const prim = render(cam, { shapes: [shape('b', 'box', h)], poses });
    const mesh = render(cam, { shapes: [asMesh('b')], poses });
    expect(blob(prim).n).toBeGreaterThan(300);
    expect(Math.abs(blob(mesh).n - blob(prim).n)).toBeLessThanOrEqual(0.01 * blob(prim).n);
    expect(differing(mesh, prim)).toBeLessThanOrEqual(0.01 * blob(prim).n);
    // Depth, where both hit: the same plane, so within float error.
    let compared = 0;
    for (let k = 0; k < 64 * 64; k++) {
      const a = prim.depth![k]!;
      const b = mesh.depth![k]!;
      if (a < 100 && b < 100) {
        expect(Math.abs(a - b)).toBeLessThan(1e-6);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(300);
    // Three visible faces: three distinct shades of the object colour.
    const shades = new Set<number>();
    for (let k = 0; k < 64 * 64; k++) if (mesh.depth![k]! < 100) shades.add(mesh.rgb[3 * k]!);
    expect(shades.size).toBe(3);
  });

  it('z-buffers against primitives and clips triangles at the near plane (a camera inside the mesh sees its far side)', () => {
    const cam = alongX({ depth: true, near: 0.05 });
    // A sphere in front of the mesh hides part of it, whatever the order.
    const scene = { shapes: [asMesh('m'), shape('s', 'sphere', [0.08], 'robot')], poses: [1.5, 0, 0, 0, 0, 0, 1, 1.2, 0, 0, 0, 0, 0, 1] };
    const a = render(cam, scene);
    const b = render(cam, { shapes: [...scene.shapes].reverse(), poses: [...scene.poses.slice(7), ...scene.poses.slice(0, 7)] });
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    expect(px(a, 32, 32)).toEqual(px(render(cam, { shapes: [shape('s', 'sphere', [0.08], 'robot')], poses: scene.poses.slice(7) }), 32, 32));
    // The camera at the mesh box's centre: every pixel sees a wall 0.2 m ahead (or its side walls).
    const inside = render(cam, { shapes: [asMesh('m')], poses: [0, 0, 0, 0, 0, 0, 1] });
    expect(inside.depth![32 * 64 + 32]).toBeCloseTo(0.2, 6);
    expect(blob(inside).n).toBe(64 * 64);
    // A wall crossing the near plane: the part beyond it is drawn (the box reaches 0.15 m ahead).
    const crossing = render(cam, { shapes: [asMesh('m')], poses: [0.05, 0, 0, 0, 0, 0, 1] });
    expect(crossing.depth![32 * 64 + 32]).toBeCloseTo(0.25, 6);
  });

  it('a see-through mesh (a marker) tints what is behind it once, as the see-through primitive does', () => {
    const cam = alongX();
    const poses = [0.9, 0.05, 0, 0, 0, 0, 1];
    const prim = render(cam, { shapes: [{ ...shape('g', 'box', h), role: 'target' }], poses });
    const mesh = render(cam, { shapes: [{ ...asMesh('g'), role: 'target' }], poses });
    expect(blob(prim).n).toBeGreaterThan(200);
    expect(differing(mesh, prim)).toBeLessThanOrEqual(0.01 * blob(prim).n);
  });

  it('vertices so far out that a triangle\'s area overflows draw nothing, and leave depth alone', () => {
    const cam = alongX({ depth: true });
    const huge: SceneShape = { name: 'far', kind: 'mesh', size: [1e200, 1e200, 1e200], role: 'fixture', mesh: { vertices: [1, -1e200, -1e200, 1, 1e200, -1e200, 1, 0, 1e200], faces: [0, 1, 2] } };
    const ball = shape('s', 'sphere', [0.1]);
    for (const shapes of [[ball, huge], [huge, ball]]) {
      const f = render(cam, { shapes, poses: shapes.map((x) => (x === ball ? [0.5, 0, 0] : [0, 0, 0])).flatMap((p) => [...p, 0, 0, 0, 1]) });
      expect(f.depth!.every((d) => Number.isFinite(d))).toBe(true);
      expect(f.depth![32 * 64 + 32]).toBeCloseTo(0.4, 3); // the sphere, in front
    }
  });

  it('skips a face that names a missing vertex, and a mesh with a NaN pose, instead of failing', () => {
    const cam = alongX();
    const bad: SceneShape = { name: 'm', kind: 'mesh', size: h, role: 'object', mesh: { vertices: boxMesh(h)!.vertices, faces: [0, 2, 99, ...boxMesh(h)!.faces] } };
    expect(blob(render(cam, { shapes: [bad], poses: [1.2, 0, 0, 0, 0, 0, 1] })).n).toBe(blob(render(cam, { shapes: [asMesh('m')], poses: [1.2, 0, 0, 0, 0, 0, 1] })).n);
    expect(blob(render(cam, { shapes: [asMesh('m')], poses: [NaN, 0, 0, 0, 0, 0, 1] })).n).toBe(0);
  });
});

describe('simulated camera: shadows', () => {
  // Looking down at a floor (top at z = 0) from above and behind; the light straight overhead.
  const cam = (shadows: boolean): Camera =>
    new Camera(parseCamera({ name: 'c', width: 64, height: 64, fovDeg: 60, pose: { kind: 'fixed', position: [-1, 0, 1.5], lookAt: [0.2, 0, 0] }, light: { direction: [0, 0, 1], intensity: 0.65, ambient: 0.45 }, shadows }));
  const floor = shape('floor', 'box', [2, 2, 0.05], 'fixture');
  const at = (x: number, y: number, z: number): number[] => [x, y, z, 0, 0, 0, 1];
  /** The pixel a world point lands on. */
  const pixelOf = (c: Camera, scene: SceneState, p: [number, number, number]): [number, number] => {
    const q = c.project(scene, p)!;
    return [Math.round(q.col), Math.round(q.row)];
  };
  const floorLit = Math.round(ROLE_LOOKS.fixture.rgb[0] * (0.45 + 0.65) * 255);
  const floorDark = Math.round(ROLE_LOOKS.fixture.rgb[0] * 0.45 * 255);

  it('a floating ball darkens the floor under it to the ambient term, nowhere else, and is not shadowed itself', () => {
    const scene = { shapes: [floor, shape('ball', 'sphere', [0.1])], poses: [...at(0, 0, -0.05), ...at(0.3, 0.3, 0.4)] };
    const on = render(cam(true), scene);
    const off = render(cam(false), scene);
    const [c0, r0] = pixelOf(cam(true), scene, [0.3, 0.3, 0]);
    expect(px(off, c0, r0)[0]).toBe(floorLit);
    expect(Math.abs(px(on, c0, r0)[0] - floorDark)).toBeLessThanOrEqual(1);
    // Beyond the ball's radius, and far away: lit as without shadows.
    for (const p of [[0.45, 0.3, 0], [0.3, 0.15 - 0.02, 0], [-0.3, -0.3, 0]] as [number, number, number][]) {
      const [c, r] = pixelOf(cam(true), scene, p);
      expect(px(on, c, r)).toEqual(px(off, c, r));
    }
    // The shadow is a disc of the ball's radius: ~π r² of floor, not more.
    let darker = 0;
    for (let k = 0; k < 64 * 64; k++) if (on.rgb[3 * k]! < off.rgb[3 * k]!) darker++;
    expect(darker).toBeGreaterThan(3);
    const [cb, rb] = pixelOf(cam(true), scene, [0.3, 0.3, 0.4]);
    expect(px(on, cb, rb)).toEqual(px(off, cb, rb)); // the ball itself
    // Only the shadow differs.
    let changed = 0;
    for (let k = 0; k < 3 * 64 * 64; k++) if (on.rgb[k] !== off.rgb[k]) changed++;
    expect(changed).toBe(3 * darker);
  });

  it('a see-through marker lets 1 − its opacity through; a mesh casts as its primitive does; a shape below casts nothing', () => {
    const marker = { shapes: [floor, shape('goal', 'sphere', [0.1], 'target')], poses: [...at(0, 0, -0.05), ...at(0.3, 0.3, 0.4)] };
    const [c0, r0] = pixelOf(cam(true), marker, [0.3, 0.3, 0]);
    const a = ROLE_LOOKS.target.alpha;
    expect(Math.abs(px(render(cam(true), marker), c0, r0)[0] - ROLE_LOOKS.fixture.rgb[0] * (0.45 + (1 - a) * 0.65) * 255)).toBeLessThanOrEqual(1);
    const h: [number, number, number] = [0.1, 0.1, 0.05];
    const prim = render(cam(true), { shapes: [floor, shape('b', 'box', h)], poses: [...at(0, 0, -0.05), ...at(0.3, 0.3, 0.4)] });
    const mesh = render(cam(true), { shapes: [floor, { name: 'b', kind: 'mesh', size: h, role: 'object', mesh: boxMesh(h) }], poses: [...at(0, 0, -0.05), ...at(0.3, 0.3, 0.4)] });
    expect(Math.abs(px(mesh, c0, r0)[0] - floorDark)).toBeLessThanOrEqual(1);
    let differ = 0;
    for (let k = 0; k < 64 * 64; k++) if (Math.abs(prim.rgb[3 * k]! - mesh.rgb[3 * k]!) > 2) differ++;
    expect(differ).toBeLessThanOrEqual(3); // edge pixels at most
    const below = { shapes: [floor, shape('ball', 'sphere', [0.1])], poses: [...at(0, 0, -0.05), ...at(0.3, 0.3, -0.4)] };
    expect(px(render(cam(true), below), c0, r0)[0]).toBe(floorLit);
  });

  it('what is not drawn casts nothing (an overflowing pose, a face naming no vertex); a mesh casts from its vertices, whatever its size says', () => {
    const base = render(cam(true), { shapes: [floor], poses: at(0, 0, -0.05) });
    const same = (extra: SceneShape, pose: number[]): boolean => Buffer.from(render(cam(true), { shapes: [floor, extra], poses: [...at(0, 0, -0.05), ...pose] }).rgb).equals(Buffer.from(base.rgb));
    expect(same(shape('far', 'sphere', [0.1]), at(1e200, 0, 0))).toBe(true);
    expect(same(shape('huge', 'sphere', [1e200]), at(0.3, 0.3, 0.4))).toBe(true);
    const tri = { vertices: [0.1, 0, 0, -0.1, 0.1, 0, -0.1, -0.1, 0], faces: [0, 1, 2] };
    for (const faces of [[0, 1, 2.5], [0.5, 1, 2], [NaN, 1, 2], [0, 1, 3]]) expect(same({ name: 'm', kind: 'mesh', size: [0.1, 0.1, 0.1], role: 'object', mesh: { ...tri, faces } }, at(0.3, 0.3, 0.4))).toBe(true);
    const scene = { shapes: [floor, { name: 'm', kind: 'mesh' as const, size: [0, 0, 0], role: 'object' as const, mesh: tri }], poses: [...at(0, 0, -0.05), ...at(0.3, 0.3, 0.4)] };
    const [c0, r0] = pixelOf(cam(true), scene, [0.3, 0.3, 0]);
    expect(Math.abs(px(render(cam(true), scene), c0, r0)[0] - floorDark)).toBeLessThanOrEqual(1);
  });

  it('the same bytes whatever the order of the shapes; off by default', () => {
    const shapes = [floor, shape('ball', 'sphere', [0.1]), shape('arm', 'capsule', [0.04, 0.2], 'robot'), shape('goal', 'sphere', [0.05], 'target')];
    const poses = [...at(0, 0, -0.05), ...at(0.3, 0.3, 0.4), 0.1, -0.2, 0.5, 0.3, 0, 0, 0.954, ...at(0.2, 0, 0.3)];
    const a = render(cam(true), { shapes, poses });
    const b = render(cam(true), { shapes: [...shapes].reverse(), poses: [3, 2, 1, 0].flatMap((k) => poses.slice(7 * k, 7 * k + 7)) });
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    expect(parseCamera({ name: 'c', pose: { kind: 'fixed', position: [1, 0, 0], lookAt: [0, 0, 0] } }).shadows).toBe(false);
  });
});

describe('simulated camera: randomisation', () => {
  const scene: SceneState = {
    shapes: [shape('table', 'box', [1, 1, 0.02], 'fixture'), shape('cube', 'box', [0.1, 0.1, 0.1], 'object'), shape('arm', 'capsule', [0.05, 0.2], 'robot')],
    poses: [0, 0, -0.02, 0, 0, 0, 1, 0.1, 0, 0.1, 0, 0, 0.2, 0.98, -0.2, 0.1, 0.3, 0.3, 0, 0, 0.95],
  };
  const config = { name: 'front', pose: { kind: 'fixed', position: [1.2, -0.8, 0.9], lookAt: [0, 0, 0.1] }, depth: true } as const;
  const randomized = { ...config, randomize: { positionM: 0.02, rotationDeg: 3, lightDirectionDeg: 30, lightIntensity: [0.6, 1.4], colorJitter: 0.2 } } as const;
  const frames = (raw: unknown, seed: number, episodes = 3): Buffer[] => {
    const rig = CameraRig.fromConfig([raw], seed);
    const out: Buffer[] = [];
    for (let e = 0; e < episodes; e++) {
      rig.randomize();
      const f = rig.render(scene).get('front');
      out.push(Buffer.from(f?.rgb ?? []), Buffer.from(new Uint8Array(f?.depth?.buffer ?? new ArrayBuffer(0))));
    }
    return out;
  };

  it('the same seed gives identical bytes; another seed gives other images; no randomize leaves them alone', () => {
    const a = frames(randomized, 7);
    const b = frames(randomized, 7);
    a.forEach((buf, k) => expect(buf.equals(b[k] ?? Buffer.alloc(0))).toBe(true));
    const c = frames(randomized, 8);
    expect((a[0] ?? Buffer.alloc(0)).equals(c[0] ?? Buffer.alloc(0))).toBe(false);
    // Episodes differ from one another too.
    expect((a[0] ?? Buffer.alloc(0)).equals(a[2] ?? Buffer.alloc(0))).toBe(false);
    const plain = frames(config, 7);
    const plain2 = frames(config, 8);
    plain.forEach((buf, k) => expect(buf.equals(plain2[k] ?? Buffer.alloc(0))).toBe(true));
  });

  it('colour jitter follows shape names, not their order in the scene', () => {
    const rig = CameraRig.fromConfig([{ ...config, randomize: { colorJitter: 0.3 } }], 3);
    rig.randomize();
    const a = Buffer.from(rig.renderOne(scene, 'front').rgb);
    const reversed: SceneState = { shapes: [...scene.shapes].reverse(), poses: [14, 7, 0].flatMap((o) => scene.poses.slice(o, o + 7)) };
    const b = Buffer.from(rig.renderOne(reversed, 'front').rgb);
    expect(b.equals(a)).toBe(true);
    const plain = CameraRig.fromConfig([config], 3);
    expect(Buffer.from(plain.renderOne(scene, 'front').rgb).equals(a)).toBe(false);
  });

  it('randomize draws from the rng only when the camera randomises', () => {
    const rng = new Rng(1);
    alongX().randomize(rng);
    expect(rng.nextUint32()).toBe(new Rng(1).nextUint32());
  });
});

describe('simulated camera: config', () => {
  const ok = { name: 'front', pose: { kind: 'fixed', position: [1, 0, 1], lookAt: [0, 0, 0] } };
  const error = (raw: unknown): string => {
    try {
      parseCameras(raw, 'env.options.cameras');
    } catch (err) {
      expect(err).toBeInstanceOf(CameraConfigError);
      return (err as Error).message;
    }
    throw new Error('expected the config to be refused');
  };

  it('fills the defaults: 64×64, 45°, no depth', () => {
    const [c] = parseCameras([ok]);
    expect(c).toMatchObject({ width: 64, height: 64, fovDeg: 45, depth: false, near: 0.01, far: 10 });
    expect(c?.pose.up).toEqual([0, 0, 1]);
  });

  it('names the bad field and value', () => {
    expect(error([{ ...ok, width: 0 }])).toMatch(/env\.options\.cameras\.0\.width: .*\(got 0\)/);
    expect(error([{ ...ok, fovDeg: 180 }])).toMatch(/cameras\.0\.fovDeg: .*\(got 180\)/);
    expect(error([{ ...ok, pose: { kind: 'orbit', position: [0, 0, 0], lookAt: [1, 0, 0] } }])).toMatch(/cameras\.0\.pose\.kind/);
    expect(error([{ ...ok, pose: { kind: 'fixed', position: [0, 0, 0], lookAt: [0, 0, 0] } }])).toMatch(/cameras\.0\.pose\.lookAt: lookAt must differ from position/);
    expect(error([{ ...ok, pose: { kind: 'fixed', position: [0, 0, 1], lookAt: [0, 0, 0] } }])).toMatch(/cameras\.0\.pose\.up: up must not be parallel/);
    expect(error([{ ...ok, pose: { kind: 'attached', lookAt: [0, 0, 1] } }])).toMatch(/cameras\.0\.pose\.link/);
    expect(error([{ ...ok, pose: { kind: 'fixed', position: [0, 0, 'x'], lookAt: [1, 0, 0] } }])).toMatch(/cameras\.0\.pose\.position\.2/);
    expect(error([ok, { ...ok }])).toMatch(/cameras\.1\.name: camera name "front" is used twice/);
    expect(error([{ ...ok, fov: 60 }])).toMatch(/cameras\.0: .*fov/);
    expect(error([{ ...ok, near: 2, far: 1 }])).toMatch(/cameras\.0\.near: near must be less than far/);
    expect(error([{ ...ok, randomize: { lightIntensity: [2, 1] } }])).toMatch(/cameras\.0\.randomize\.lightIntensity/);
    expect(error([{ ...ok, randomize: { colorJitter: Number.NaN } }])).toMatch(/cameras\.0\.randomize\.colorJitter/);
    expect(error({ name: 'front' })).toMatch(/env\.options\.cameras: /);
  });
});
