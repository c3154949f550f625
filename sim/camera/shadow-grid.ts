import type { SceneMesh } from '../../control/scene-mesh.js';

/**
 * A mesh's triangles binned for rays that all run one way (a camera's shadow rays, towards its
 * one light): projected onto the plane square to that direction, a ray is a single point there,
 * so only the triangles whose projections cover that point's cell can meet it — exact, not an
 * approximation. Built per frame for a mesh that may cast a shadow (its pose, and so the
 * direction in its frame, changes), in O(triangles); a ray then tests the triangles of one cell
 * (Möller–Trumbore) instead of all of them.
 *
 * Coordinates are the mesh's own frame (the caller turns its rays into it). Faces naming a
 * vertex that does not exist are skipped, as the rasteriser skips them.
 */
export class MeshShadowGrid {
  /** Plane basis u, v (unit, square to the ray direction d and to each other). */
  private ux = 0;
  private uy = 0;
  private uz = 0;
  private vx = 0;
  private vy = 0;
  private vz = 0;
  private dx = 0;
  private dy = 0;
  private dz = 0;
  private cells = 1;
  private lo = 0;
  private scale = 0;
  /** CSR: the triangles (face offsets, k for faces[k..k+3]) of cell c are list[start[c] .. start[c + 1]]. */
  private start = new Int32Array(2);
  private list = new Int32Array(0);
  private count = new Int32Array(1);
  private mesh: SceneMesh | null = null;

  /**
   * Bins `mesh`'s triangles for rays along (dx, dy, dz) (unit, mesh frame); `radius` bounds
   * every vertex's distance from the origin.
   */
  build(mesh: SceneMesh, dx: number, dy: number, dz: number, radius: number): void {
    this.mesh = mesh;
    this.dx = dx;
    this.dy = dy;
    this.dz = dz;
    // u: d × (the axis least along d), v: d × u.
    const ax = Math.abs(dx), ay = Math.abs(dy), az = Math.abs(dz);
    let ex = 0, ey = 0, ez = 0;
    if (ax <= ay && ax <= az) ex = 1;
    else if (ay <= az) ey = 1;
    else ez = 1;
    let ux = dy * ez - dz * ey, uy = dz * ex - dx * ez, uz = dx * ey - dy * ex;
    const un = Math.sqrt(ux * ux + uy * uy + uz * uz) || 1;
    ((ux /= un), (uy /= un), (uz /= un));
    this.ux = ux;
    this.uy = uy;
    this.uz = uz;
    this.vx = dy * uz - dz * uy;
    this.vy = dz * ux - dx * uz;
    this.vz = dx * uy - dy * ux;
    const v = mesh.vertices;
    const f = mesh.faces;
    const nv = Math.floor(v.length / 3);
    const nf = Math.floor(f.length / 3);
    // About two triangles a cell, at most 128 × 128 cells.
    const g = Math.max(1, Math.min(128, Math.ceil(Math.sqrt(nf / 2))));
    this.cells = g;
    this.lo = -radius;
    this.scale = radius > 0 ? g / (2 * radius) : 0;
    if (this.count.length < g * g) this.count = new Int32Array(g * g);
    else this.count.fill(0, 0, g * g);
    if (this.start.length < g * g + 1) this.start = new Int32Array(g * g + 1);
    // Two passes over the faces: count the cells each covers, then fill.
    for (let pass = 0; pass < 2; pass++) {
      if (pass === 1) {
        let s = 0;
        for (let c = 0; c < g * g; c++) {
          this.start[c] = s;
          s += this.count[c] ?? 0;
          this.count[c] = 0;
        }
        this.start[g * g] = s;
        if (this.list.length < s) this.list = new Int32Array(s);
      }
      for (let k = 0; k + 2 < f.length; k += 3) {
        const ia = f[k] ?? 0, ib = f[k + 1] ?? 0, ic = f[k + 2] ?? 0;
        // (A fraction or NaN names no vertex either: such a face is not drawn, so casts nothing.)
        if (ia >= nv || ib >= nv || ic >= nv || ia < 0 || ib < 0 || ic < 0 || (ia | 0) !== ia || (ib | 0) !== ib || (ic | 0) !== ic) continue;
        let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
        for (let e = 0; e < 3; e++) {
          const i = e === 0 ? ia : e === 1 ? ib : ic;
          const x = v[3 * i] ?? 0, y = v[3 * i + 1] ?? 0, z = v[3 * i + 2] ?? 0;
          const pu = x * ux + y * uy + z * uz;
          const pv = x * this.vx + y * this.vy + z * this.vz;
          if (pu < u0) u0 = pu;
          if (pu > u1) u1 = pu;
          if (pv < v0) v0 = pv;
          if (pv > v1) v1 = pv;
        }
        if (!Number.isFinite(u0 + u1 + v0 + v1)) continue;
        const i0 = this.cell(u0), i1 = this.cell(u1), j0 = this.cell(v0), j1 = this.cell(v1);
        for (let j = j0; j <= j1; j++) {
          for (let i = i0; i <= i1; i++) {
            const c = j * g + i;
            if (pass === 1) this.list[(this.start[c] ?? 0) + (this.count[c] ?? 0)] = k;
            this.count[c] = (this.count[c] ?? 0) + 1;
          }
        }
      }
    }
  }

  /** Cell index along one axis of a plane coordinate, clamped to the grid (rounding at the rim stays inside). */
  private cell(p: number): number {
    const c = Math.floor((p - this.lo) * this.scale);
    return c < 0 ? 0 : c >= this.cells ? this.cells - 1 : c;
  }

  /**
   * Whether the ray from `origin[0..3]` (mesh frame) along the built direction crosses a triangle
   * at t ≥ near. (The origin comes in an array: V8 boxes the floating-point arguments of calls it
   * does not inline.)
   */
  meets(origin: Float64Array, near: number): boolean {
    const mesh = this.mesh;
    if (!mesh) return false;
    const ox = origin[0] ?? 0, oy = origin[1] ?? 0, oz = origin[2] ?? 0;
    const pu = ox * this.ux + oy * this.uy + oz * this.uz;
    const pv = ox * this.vx + oy * this.vy + oz * this.vz;
    const lim = this.lo + this.cells / (this.scale || 1);
    if (!(pu >= this.lo && pu <= lim && pv >= this.lo && pv <= lim)) return false; // outside every triangle's projection
    const g = this.cells;
    const cu = Math.floor((pu - this.lo) * this.scale), cv = Math.floor((pv - this.lo) * this.scale);
    const c = (cv < 0 ? 0 : cv >= g ? g - 1 : cv) * g + (cu < 0 ? 0 : cu >= g ? g - 1 : cu);
    const v = mesh.vertices;
    const f = mesh.faces;
    const dx = this.dx, dy = this.dy, dz = this.dz;
    const end = this.start[c + 1] ?? 0;
    for (let n = this.start[c] ?? 0; n < end; n++) {
      const k = this.list[n] ?? 0;
      const ia = f[k] ?? 0, ib = f[k + 1] ?? 0, ic = f[k + 2] ?? 0;
      const ax = v[3 * ia] ?? 0, ay = v[3 * ia + 1] ?? 0, az = v[3 * ia + 2] ?? 0;
      const e1x = (v[3 * ib] ?? 0) - ax, e1y = (v[3 * ib + 1] ?? 0) - ay, e1z = (v[3 * ib + 2] ?? 0) - az;
      const e2x = (v[3 * ic] ?? 0) - ax, e2y = (v[3 * ic + 1] ?? 0) - ay, e2z = (v[3 * ic + 2] ?? 0) - az;
      const qx = dy * e2z - dz * e2y, qy = dz * e2x - dx * e2z, qz = dx * e2y - dy * e2x;
      const det = e1x * qx + e1y * qy + e1z * qz;
      if (!(Math.abs(det) > 1e-15)) continue;
      const idet = 1 / det;
      const sx = ox - ax, sy = oy - ay, sz = oz - az;
      const u = (sx * qx + sy * qy + sz * qz) * idet;
      if (!(u >= 0 && u <= 1)) continue;
      const rx = sy * e1z - sz * e1y, ry = sz * e1x - sx * e1z, rz = sx * e1y - sy * e1x;
      const w = (dx * rx + dy * ry + dz * rz) * idet;
      if (!(w >= 0 && u + w <= 1)) continue;
      if ((e2x * rx + e2y * ry + e2z * rz) * idet >= near) return true;
    }
    return false;
  }
}
