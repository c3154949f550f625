// Scene meshes, with no Node imports: the dashboard's page (a browser bundle) checks them too.

/** A triangle mesh: vertices x y z …, and faces as vertex indices i j k … (counter-clockwise seen from outside). */
export interface SceneMesh {
  readonly vertices: readonly number[];
  readonly faces: readonly number[];
}

/** Most vertices and faces a scene mesh may have (a MuJoCo Menagerie link has a few thousand). */
export const MAX_MESH_VERTICES = 200_000;
export const MAX_MESH_FACES = 400_000;
/** Largest vertex coordinate, m (a room or a terrain fits; 1e200 would overflow the rasteriser's sums). */
export const MAX_MESH_COORDINATE = 1e4;

/**
 * Why `mesh` is not a usable scene mesh (vertices in threes, finite and within ±10 km; faces in threes of integer
 * indices of its vertices; within the caps), or null when it is. For meshes read from files or the
 * network: a bad index would read past the vertices.
 */
export function meshProblem(mesh: unknown): string | null {
  if (typeof mesh !== 'object' || mesh === null) return 'not an object with vertices and faces';
  const { vertices, faces } = mesh as { vertices?: unknown; faces?: unknown };
  if (!Array.isArray(vertices) || vertices.length % 3 !== 0 || vertices.length === 0) return 'vertices: expected a non-empty list of x y z numbers';
  if (!Array.isArray(faces) || faces.length % 3 !== 0 || faces.length === 0) return 'faces: expected a non-empty list of i j k vertex indices';
  const n = vertices.length / 3;
  if (n > MAX_MESH_VERTICES) return `${n} vertices, more than the ${MAX_MESH_VERTICES} a scene mesh may have`;
  if (faces.length / 3 > MAX_MESH_FACES) return `${faces.length / 3} faces, more than the ${MAX_MESH_FACES} a scene mesh may have`;
  for (const v of vertices) if (typeof v !== 'number' || !(Math.abs(v) <= MAX_MESH_COORDINATE)) return `vertices: ${String(v).slice(0, 40)} is not a number of metres within ±${MAX_MESH_COORDINATE}`;
  for (const f of faces) if (!Number.isInteger(f) || (f as number) < 0 || (f as number) >= n) return `faces: ${String(f).slice(0, 40)} is not a vertex index (0…${n - 1})`;
  return null;
}

/** The half extents of the box about the origin that holds `vertices` (each at least 1 µm). */
export function meshExtents(vertices: ArrayLike<number>): [number, number, number] {
  const e: [number, number, number] = [1e-6, 1e-6, 1e-6];
  for (let i = 0; i + 2 < vertices.length; i += 3) {
    for (let a = 0; a < 3; a++) e[a] = Math.max(e[a] as number, Math.abs(vertices[i + a] as number));
  }
  return e;
}
