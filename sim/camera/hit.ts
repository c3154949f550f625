/**
 * Ray–primitive intersections in a shape's own frame, for the camera's per-pixel coverage test.
 * The ray is `o + t·d` with `d` not normalised: the camera scales it so that `t` is the depth
 * along the optical axis, and every test finds the nearest crossing at or beyond `near`.
 *
 * The ray and the shape's sizes go in through {@link ray} and the hit comes out through
 * {@link hit} (module scratch) rather than as arguments and return values: V8 boxes every
 * floating-point argument and return value of a call it does not inline, which cost ~200 KB of
 * garbage per 64×64 frame when these took ten numbers each.
 *
 * Shapes follow control/scene.ts: boxes by half extents, capsules and cylinders along local y.
 * A camera inside a shape (the first crossing nearer than `near`) sees its far side.
 */

/** In: ox, oy, oz, dx, dy, dz, the shape's sizes a, b, c (as SceneShape.size), near. */
export const ray = new Float64Array(10);
/** Out, valid after a test returned true: t, then the unit outward normal (shape frame). */
export const hit = new Float64Array(4);

/** Sphere of radius `size[0]` at the origin (end 0) or at y = ±`size[1]` (a capsule's ends, end ±1). */
function sphere(end: number): boolean {
  const r = ray[6] ?? 0;
  const ox = ray[0] ?? 0, oy = (ray[1] ?? 0) - end * (ray[7] ?? 0), oz = ray[2] ?? 0;
  const dx = ray[3] ?? 0, dy = ray[4] ?? 0, dz = ray[5] ?? 0;
  const near = ray[9] ?? 0;
  const a = dx * dx + dy * dy + dz * dz;
  const b = ox * dx + oy * dy + oz * dz;
  const c = ox * ox + oy * oy + oz * oz - r * r;
  const disc = b * b - a * c;
  if (disc < 0) return false;
  const s = Math.sqrt(disc);
  let t = (-b - s) / a;
  if (t < near) {
    t = (-b + s) / a;
    if (t < near) return false;
  }
  hit[0] = t;
  hit[1] = (ox + t * dx) / r;
  hit[2] = (oy + t * dy) / r;
  hit[3] = (oz + t * dz) / r;
  return true;
}

/** Sphere of radius `size[0]`. */
export function hitSphere(): boolean {
  return sphere(0);
}

/** Box with half extents `size` centred at the origin (slab test). */
export function hitBox(): boolean {
  const ox = ray[0] ?? 0, oy = ray[1] ?? 0, oz = ray[2] ?? 0;
  const dx = ray[3] ?? 0, dy = ray[4] ?? 0, dz = ray[5] ?? 0;
  const hx = ray[6] ?? 0, hy = ray[7] ?? 0, hz = ray[8] ?? 0;
  let tIn = -Infinity;
  let tOut = Infinity;
  let axisIn = 0;
  let signIn = 0;
  let axisOut = 0;
  let signOut = 0;
  if (dx !== 0) {
    const t1 = (-hx - ox) / dx;
    const t2 = (hx - ox) / dx;
    const enter = dx > 0 ? t1 : t2;
    const leave = dx > 0 ? t2 : t1;
    if (enter > tIn) ((tIn = enter), (axisIn = 0), (signIn = dx > 0 ? -1 : 1));
    if (leave < tOut) ((tOut = leave), (axisOut = 0), (signOut = dx > 0 ? 1 : -1));
  } else if (ox < -hx || ox > hx) return false;
  if (dy !== 0) {
    const t1 = (-hy - oy) / dy;
    const t2 = (hy - oy) / dy;
    const enter = dy > 0 ? t1 : t2;
    const leave = dy > 0 ? t2 : t1;
    if (enter > tIn) ((tIn = enter), (axisIn = 1), (signIn = dy > 0 ? -1 : 1));
    if (leave < tOut) ((tOut = leave), (axisOut = 1), (signOut = dy > 0 ? 1 : -1));
  } else if (oy < -hy || oy > hy) return false;
  if (dz !== 0) {
    const t1 = (-hz - oz) / dz;
    const t2 = (hz - oz) / dz;
    const enter = dz > 0 ? t1 : t2;
    const leave = dz > 0 ? t2 : t1;
    if (enter > tIn) ((tIn = enter), (axisIn = 2), (signIn = dz > 0 ? -1 : 1));
    if (leave < tOut) ((tOut = leave), (axisOut = 2), (signOut = dz > 0 ? 1 : -1));
  } else if (oz < -hz || oz > hz) return false;
  if (tOut < tIn) return false;
  const near = ray[9] ?? 0;
  let axis: number;
  let sign: number;
  if (tIn >= near) ((hit[0] = tIn), (axis = axisIn), (sign = signIn));
  else if (tOut >= near) ((hit[0] = tOut), (axis = axisOut), (sign = signOut));
  else return false;
  hit[1] = axis === 0 ? sign : 0;
  hit[2] = axis === 1 ? sign : 0;
  hit[3] = axis === 2 ? sign : 0;
  return true;
}

/** Whether the line misses the ball of radius `R` at the origin: a cheap first test for the pixels of a shape's bounding box that are off the shape. */
function missesBall(R: number): boolean {
  const ox = ray[0] ?? 0, oy = ray[1] ?? 0, oz = ray[2] ?? 0;
  const dx = ray[3] ?? 0, dy = ray[4] ?? 0, dz = ray[5] ?? 0;
  const b = ox * dx + oy * dy + oz * dz;
  return b * b - (dx * dx + dy * dy + dz * dz) * (ox * ox + oy * oy + oz * oz - R * R) < 0;
}

/** The curved side of a cylinder of radius a along y, between y = -b and b (no caps). */
function side(): boolean {
  const ox = ray[0] ?? 0, oy = ray[1] ?? 0, oz = ray[2] ?? 0;
  const dx = ray[3] ?? 0, dy = ray[4] ?? 0, dz = ray[5] ?? 0;
  const r = ray[6] ?? 0, h = ray[7] ?? 0, near = ray[9] ?? 0;
  const a = dx * dx + dz * dz;
  if (a === 0) return false;
  const b = ox * dx + oz * dz;
  const c = ox * ox + oz * oz - r * r;
  const disc = b * b - a * c;
  if (disc < 0) return false;
  const s = Math.sqrt(disc);
  for (let k = 0; k < 2; k++) {
    const t = (-b + (k === 0 ? -s : s)) / a;
    if (t < near) continue;
    const y = oy + t * dy;
    if (y < -h || y > h) continue;
    hit[0] = t;
    hit[1] = (ox + t * dx) / r;
    hit[2] = 0;
    hit[3] = (oz + t * dz) / r;
    return true;
  }
  return false;
}

/** Cylinder of radius `size[0]` along y, half height `size[1]`, with flat caps. */
export function hitCylinder(): boolean {
  const r = ray[6] ?? 0, h = ray[7] ?? 0;
  if (missesBall(Math.sqrt(r * r + h * h))) return false;
  let best = side() ? (hit[0] ?? Infinity) : Infinity;
  const dy = ray[4] ?? 0;
  if (dy !== 0) {
    const ox = ray[0] ?? 0, oy = ray[1] ?? 0, oz = ray[2] ?? 0;
    const dx = ray[3] ?? 0, dz = ray[5] ?? 0, near = ray[9] ?? 0;
    for (let k = 0; k < 2; k++) {
      const t = ((k === 0 ? h : -h) - oy) / dy;
      if (t < near || t >= best) continue;
      const x = ox + t * dx;
      const z = oz + t * dz;
      if (x * x + z * z > r * r) continue;
      best = t;
      hit[0] = t;
      hit[1] = 0;
      hit[2] = k === 0 ? 1 : -1;
      hit[3] = 0;
    }
  }
  return best !== Infinity;
}

/**
 * Capsule of radius `size[0]` along y: a cylinder side between y = ±`size[1]` and a sphere at
 * each end. From outside, the nearest crossing of the union is the nearest over the parts.
 */
export function hitCapsule(): boolean {
  const r = ray[6] ?? 0, h = ray[7] ?? 0;
  if (missesBall(r + h)) return false;
  let best = Infinity;
  let nx = 0, ny = 0, nz = 0;
  for (let k = 0; k < 3; k++) {
    const found = k === 0 ? side() : sphere(k === 1 ? 1 : -1);
    const t = hit[0] ?? Infinity;
    if (found && t < best) ((best = t), (nx = hit[1] ?? 0), (ny = hit[2] ?? 0), (nz = hit[3] ?? 0));
  }
  if (best === Infinity) return false;
  hit[0] = best;
  hit[1] = nx;
  hit[2] = ny;
  hit[3] = nz;
  return true;
}

/** The test for a primitive's kind (a mesh has none: it is rasterised, or cast through its triangles). */
export function hitTestOf(kind: 'box' | 'sphere' | 'capsule' | 'cylinder'): () => boolean {
  return kind === 'box' ? hitBox : kind === 'sphere' ? hitSphere : kind === 'capsule' ? hitCapsule : hitCylinder;
}
