import { describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { MeshShadowGrid } from './shadow-grid.js';

/** Every triangle, Möller–Trumbore: what the grid must agree with. */
function bruteForce(v: number[], f: number[], o: number[], d: number[], near: number): boolean {
  const nv = v.length / 3;
  for (let k = 0; k + 2 < f.length; k += 3) {
    const [a, b, c] = [f[k]!, f[k + 1]!, f[k + 2]!];
    if (a >= nv || b >= nv || c >= nv || a < 0 || b < 0 || c < 0) continue;
    const A = v.slice(3 * a, 3 * a + 3), e1 = [0, 1, 2].map((i) => v[3 * b + i]! - A[i]!), e2 = [0, 1, 2].map((i) => v[3 * c + i]! - A[i]!);
    const q = [d[1]! * e2[2]! - d[2]! * e2[1]!, d[2]! * e2[0]! - d[0]! * e2[2]!, d[0]! * e2[1]! - d[1]! * e2[0]!];
    const det = e1[0]! * q[0]! + e1[1]! * q[1]! + e1[2]! * q[2]!;
    if (!(Math.abs(det) > 1e-15)) continue;
    const s = [0, 1, 2].map((i) => o[i]! - A[i]!);
    const u = (s[0]! * q[0]! + s[1]! * q[1]! + s[2]! * q[2]!) / det;
    if (!(u >= 0 && u <= 1)) continue;
    const r = [s[1]! * e1[2]! - s[2]! * e1[1]!, s[2]! * e1[0]! - s[0]! * e1[2]!, s[0]! * e1[1]! - s[1]! * e1[0]!];
    const w = (d[0]! * r[0]! + d[1]! * r[1]! + d[2]! * r[2]!) / det;
    if (!(w >= 0 && u + w <= 1)) continue;
    if ((e2[0]! * r[0]! + e2[1]! * r[1]! + e2[2]! * r[2]!) / det >= near) return true;
  }
  return false;
}

describe('MeshShadowGrid', () => {
  it('agrees with testing every triangle, for rays along any direction (random meshes, bad faces, rays outside)', () => {
    const rng = new Rng(3);
    let hits = 0;
    for (let trial = 0; trial < 30; trial++) {
      // A cloud of small and large triangles within radius 0.3, a few naming missing vertices.
      const v: number[] = [];
      for (let i = 0; i < 300; i++) {
        const p = [rng.normal(), rng.normal(), rng.normal()];
        const n = Math.hypot(p[0]!, p[1]!, p[2]!);
        const r = 0.3 * Math.cbrt(rng.uniform(0, 1));
        v.push(...p.map((x) => (x / n) * r));
      }
      const f: number[] = [];
      for (let k = 0; k < 200; k++) f.push(Math.floor(rng.uniform(0, 300)), Math.floor(rng.uniform(0, 300)), Math.floor(rng.uniform(0, 300)));
      f.push(0, 1, 999, -1, 2, 3);
      const d = [rng.normal(), rng.normal(), rng.normal()];
      const dn = Math.hypot(d[0]!, d[1]!, d[2]!);
      for (let i = 0; i < 3; i++) d[i] = d[i]! / dn;
      if (trial === 0) [d[0], d[1], d[2]] = [0, 0, 1]; // along an axis
      const grid = new MeshShadowGrid();
      grid.build({ vertices: v, faces: f }, d[0]!, d[1]!, d[2]!, 0.3);
      for (let q = 0; q < 300; q++) {
        const o = [rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)];
        const want = bruteForce(v, f, o, d, 1e-4);
        expect(grid.meets(Float64Array.from(o), 1e-4)).toBe(want);
        if (want) hits++;
      }
    }
    expect(hits).toBeGreaterThan(500); // the comparison saw both answers
    expect(hits).toBeLessThan(30 * 300 - 500);
  });
});
