/**
 * Ray–primitive intersections in a shape's own frame, for the camera's per-pixel coverage test.
 * The ray is `o + t·d` with `d` not normalised: the camera scales it so that `t` is the depth
 * along the optical axis, and every test returns that `t` (the nearest crossing at or beyond
 * `near`) or -1 for a miss. The unit outward normal of the hit, in the shape's frame, is left in
 * {@link hitNormal} (module scratch, so the per-pixel loop allocates nothing).
 *
 * Shapes follow control/scene.ts: boxes by half extents, capsules and cylinders along local y.
 * A camera inside a shape (the first crossing nearer than `near`) sees its far side.
 */

/** Normal of the last hit (x, y, z in the shape's frame). Valid only right after a hit. */
export const hitNormal = new Float64Array(3);

/** Sphere of radius `r` at the origin. */
export function hitSphere(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, r: number, near: number): number {
  const a = dx * dx + dy * dy + dz * dz;
  const b = ox * dx + oy * dy + oz * dz;
  const c = ox * ox + oy * oy + oz * oz - r * r;
  const disc = b * b - a * c;
  if (disc < 0) return -1;
  const s = Math.sqrt(disc);
  let t = (-b - s) / a;
  if (t < near) {
    t = (-b + s) / a;
    if (t < near) return -1;
  }
  const inv = 1 / r;
  hitNormal[0] = (ox + t * dx) * inv;
  hitNormal[1] = (oy + t * dy) * inv;
  hitNormal[2] = (oz + t * dz) * inv;
  return t;
}

/** Box with half extents `hx`, `hy`, `hz` centred at the origin (slab test). */
export function hitBox(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, hx: number, hy: number, hz: number, near: number): number {
  let tIn = -Infinity;
  let tOut = Infinity;
  let axisIn = 0;
  let signIn = 0;
  let axisOut = 0;
  let signOut = 0;
  // x slab
  if (dx !== 0) {
    const t1 = (-hx - ox) / dx;
    const t2 = (hx - ox) / dx;
    const enter = dx > 0 ? t1 : t2;
    const leave = dx > 0 ? t2 : t1;
    if (enter > tIn) ((tIn = enter), (axisIn = 0), (signIn = dx > 0 ? -1 : 1));
    if (leave < tOut) ((tOut = leave), (axisOut = 0), (signOut = dx > 0 ? 1 : -1));
  } else if (ox < -hx || ox > hx) return -1;
  // y slab
  if (dy !== 0) {
    const t1 = (-hy - oy) / dy;
    const t2 = (hy - oy) / dy;
    const enter = dy > 0 ? t1 : t2;
    const leave = dy > 0 ? t2 : t1;
    if (enter > tIn) ((tIn = enter), (axisIn = 1), (signIn = dy > 0 ? -1 : 1));
    if (leave < tOut) ((tOut = leave), (axisOut = 1), (signOut = dy > 0 ? 1 : -1));
  } else if (oy < -hy || oy > hy) return -1;
  // z slab
  if (dz !== 0) {
    const t1 = (-hz - oz) / dz;
    const t2 = (hz - oz) / dz;
    const enter = dz > 0 ? t1 : t2;
    const leave = dz > 0 ? t2 : t1;
    if (enter > tIn) ((tIn = enter), (axisIn = 2), (signIn = dz > 0 ? -1 : 1));
    if (leave < tOut) ((tOut = leave), (axisOut = 2), (signOut = dz > 0 ? 1 : -1));
  } else if (oz < -hz || oz > hz) return -1;
  if (tOut < tIn) return -1;
  let t: number;
  let axis: number;
  let sign: number;
  if (tIn >= near) ((t = tIn), (axis = axisIn), (sign = signIn));
  else if (tOut >= near) ((t = tOut), (axis = axisOut), (sign = signOut));
  else return -1;
  hitNormal[0] = axis === 0 ? sign : 0;
  hitNormal[1] = axis === 1 ? sign : 0;
  hitNormal[2] = axis === 2 ? sign : 0;
  return t;
}

/** Whether the line misses the ball of radius `R` at the origin: a cheap first test for the pixels of a shape's bounding box that are off the shape. */
function missesBall(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, R: number): boolean {
  const b = ox * dx + oy * dy + oz * dz;
  return b * b - (dx * dx + dy * dy + dz * dz) * (ox * ox + oy * oy + oz * oz - R * R) < 0;
}

/** The curved side of a cylinder of radius `r` along y, between y = -h and h (no caps). */
function hitSide(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, r: number, h: number, near: number, best: number): number {
  const a = dx * dx + dz * dz;
  if (a === 0) return best;
  const b = ox * dx + oz * dz;
  const c = ox * ox + oz * oz - r * r;
  const disc = b * b - a * c;
  if (disc < 0) return best;
  const s = Math.sqrt(disc);
  for (let k = 0; k < 2; k++) {
    const t = (-b + (k === 0 ? -s : s)) / a;
    if (t < near || t >= best) continue;
    const y = oy + t * dy;
    if (y < -h || y > h) continue;
    hitNormal[0] = (ox + t * dx) / r;
    hitNormal[1] = 0;
    hitNormal[2] = (oz + t * dz) / r;
    return t;
  }
  return best;
}

/** Cylinder of radius `r` along y, half height `h`, with flat caps. */
export function hitCylinder(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, r: number, h: number, near: number): number {
  if (missesBall(ox, oy, oz, dx, dy, dz, Math.sqrt(r * r + h * h))) return -1;
  let best = hitSide(ox, oy, oz, dx, dy, dz, r, h, near, Infinity);
  if (dy !== 0) {
    for (let k = 0; k < 2; k++) {
      const y = k === 0 ? h : -h;
      const t = (y - oy) / dy;
      if (t < near || t >= best) continue;
      const x = ox + t * dx;
      const z = oz + t * dz;
      if (x * x + z * z > r * r) continue;
      best = t;
      hitNormal[0] = 0;
      hitNormal[1] = k === 0 ? 1 : -1;
      hitNormal[2] = 0;
    }
  }
  return best === Infinity ? -1 : best;
}

/**
 * Capsule of radius `r` along y: a cylinder side between y = ±h and a sphere at each end. From
 * outside, the nearest crossing of the union is the nearest over the parts' surfaces.
 */
export function hitCapsule(ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, r: number, h: number, near: number): number {
  if (missesBall(ox, oy, oz, dx, dy, dz, r + h)) return -1;
  let best = hitSide(ox, oy, oz, dx, dy, dz, r, h, near, Infinity);
  let nx = hitNormal[0] ?? 0;
  let ny = hitNormal[1] ?? 0;
  let nz = hitNormal[2] ?? 0;
  for (let k = 0; k < 2; k++) {
    const cy = k === 0 ? h : -h;
    const t = hitSphere(ox, oy - cy, oz, dx, dy, dz, r, near);
    if (t >= 0 && t < best) ((best = t), (nx = hitNormal[0] ?? 0), (ny = hitNormal[1] ?? 0), (nz = hitNormal[2] ?? 0));
  }
  if (best === Infinity) return -1;
  hitNormal[0] = nx;
  hitNormal[1] = ny;
  hitNormal[2] = nz;
  return best;
}
