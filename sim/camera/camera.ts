import type { SceneShape, SceneState } from '../../control/scene.js';
import type { Rng } from '../../control/rng.js';
import type { CameraConfig } from './config.js';
import { hit, hitTestOf, ray } from './hit.js';
import { MeshShadowGrid } from './shadow-grid.js';

/**
 * A rendered frame, preallocated once per camera and overwritten by each render.
 * `rgb` is H×W×3 uint8, row-major from the top-left pixel; `depth` (when the camera has
 * `depth: true`) is H×W float32 metres along the optical axis, `far` where nothing was hit.
 */
export interface CameraFrame {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
  readonly depth: Float32Array | null;
}

/**
 * Colours by role (sRGB 0–1) and opacity, as the dashboard's 3D view draws them, so a frame
 * looks like the scene tab. Targets and keep-out zones are markers, not bodies: drawn see-through
 * (after the solid shapes, farthest first) and left out of depth. The goal is more opaque than
 * on the dashboard (0.6, not 0.45) so a 64×64 policy sees it over the table.
 */
export const ROLE_LOOKS: Readonly<Record<SceneShape['role'], { readonly rgb: readonly [number, number, number]; readonly alpha: number }>> = {
  robot: { rgb: [0xf2 / 255, 0x8c / 255, 0x28 / 255], alpha: 1 },
  object: { rgb: [0x3a / 255, 0x6f / 255, 0xd8 / 255], alpha: 1 },
  fixture: { rgb: [0xaa / 255, 0xb2 / 255, 0xc0 / 255], alpha: 1 },
  target: { rgb: [0x2c / 255, 0xa0 / 255, 0x2c / 255], alpha: 0.6 },
  'keep-out': { rgb: [0xd6 / 255, 0x27 / 255, 0x28 / 255], alpha: 0.3 },
};

// Layout of the per-camera scratch (Float64Array `cam`).
const POS = 0; // camera position (world)
const RIGHT = 3; // image x axis (world)
const UP = 6; // image y axis, up (world)
const FWD = 9; // optical axis (world)
const LIGHT = 12; // unit vector towards the light (world)

// Layout of a shadow caster in `casters`: centre (world), bounding radius, rotation (row-major),
// opacity, shape index, the direction to the light in the shape's frame.
const CASTER = 18;
/** Where a shadow ray starts beyond the lit point (m), past the rounding of the depth buffer. */
const SHADOW_NEAR = 1e-4;

/**
 * A simulated pinhole camera over a {@link SceneState}: for every pixel in each shape's
 * projected bounding box, the exact ray–primitive hit, z-buffered, Lambert-shaded (one
 * directional light + ambient). Square pixels, vertical field of view `fovDeg`; pixel (i, j)
 * looks through its centre, so a point at camera coordinates (x right, y up, z forward) lands at
 * column `W/2 + f·x/z - 0.5`, row `H/2 - f·y/z - 0.5` (both from 0), with f = (H/2)/tan(fov/2).
 *
 * The image depends only on the shapes and poses, not their order or the engine that produced
 * them (Rapier and MuJoCo list the same Panda in different orders). Mesh shapes (an MJCF
 * model's meshes on MuJoCo) are rasterised instead, with the same depth and shading.
 *
 * With `shadows: true`, each solid pixel lit by the light is tested for a shape between it and
 * the light (the exact hit again, in the blocking shape's frame; bounding spheres first) and keeps
 * only its ambient term where one is (a see-through marker lets 1 − its opacity through). A shape
 * never shadows itself: exact for the primitives, which are convex; a mesh's own folds stay lit.
 * See-through markers are drawn over the shadows and receive none.
 *
 * Per frame no arrays or objects are allocated once the scratch has grown to the scene's
 * shape count (and, with colour jitter, once per shape name per randomisation sample); V8 still
 * boxes a few numbers, ~0.2 KB per frame (docs/benchmarks.md, Simulated cameras).
 */
export class Camera {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Focal length in pixels. */
  readonly focal: number;
  private readonly cam = new Float64Array(15);
  /** Pose jitter: offset (world, 3) then a rotation matrix (row-major, 9). */
  private readonly jitter = new Float64Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  /** Light after randomisation: direction (world, unit, 3), intensity, ambient. */
  private readonly light = new Float64Array(5);
  private readonly lightRotation = new Float64Array(9);
  /** A shape's image-plane bounds: x min, x max, y min, y max (x, y over z). */
  private readonly rect = new Float64Array(4);
  private colorSalt = 0;
  private colorJitter = 0;
  private readonly colorFactors = new Map<string, Float64Array>();
  private readonly zbuf: Float64Array;
  private readonly color: Float32Array;
  private readonly bytes: Uint8ClampedArray;
  private translucent = new Int32Array(8);
  private translucentDist = new Float64Array(8);
  private readonly attachedName: string;
  /** A mesh's vertices in camera coordinates (grown to the largest mesh drawn). */
  private meshVerts = new Float64Array(0);
  /** A see-through mesh's nearest face per pixel: depth (Infinity: none) and colour; allocated on first use. */
  private layerDepth = new Float64Array(0);
  private layerColor = new Float32Array(0);
  /** With shadows: the solid shape seen at each pixel (−1: none) and its directional light term. */
  private readonly owner: Int32Array;
  private readonly lit: Float32Array;
  /** The shape being drawn (its index in the scene), for {@link owner}. */
  private drawing = -1;
  /** This frame's shadow casters, {@link CASTER} numbers each (grown to the scene's shape count). */
  private casters = new Float64Array(0);
  /** A mesh caster's triangles binned along the light (built the first time a ray needs it in a frame; reused storage). */
  private readonly grids: MeshShadowGrid[] = [];
  /** The frame each caster's grid was built for. */
  private gridFrame = new Int32Array(0);
  private frameNo = 0;

  constructor(readonly config: CameraConfig) {
    this.name = config.name;
    this.width = config.width;
    this.height = config.height;
    this.focal = config.height / 2 / Math.tan((config.fovDeg * Math.PI) / 360);
    this.zbuf = new Float64Array(this.width * this.height);
    this.color = new Float32Array(this.width * this.height * 3);
    this.bytes = new Uint8ClampedArray(this.width * this.height * 3);
    this.owner = new Int32Array(config.shadows ? this.width * this.height : 0);
    this.lit = new Float32Array(config.shadows ? this.width * this.height : 0);
    this.attachedName = config.pose.kind === 'attached' ? `${config.pose.link}#0` : '';
    this.resetRandomization();
  }

  /** A frame of this camera's size (rgb, and depth when configured). */
  createFrame(): CameraFrame {
    const n = this.width * this.height;
    return { name: this.name, width: this.width, height: this.height, rgb: new Uint8Array(n * 3), depth: this.config.depth ? new Float32Array(n) : null };
  }

  /** Back to the configured look: no pose jitter, the configured light, no colour jitter. */
  resetRandomization(): void {
    this.jitter.set([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const d = this.config.light.direction;
    const n = Math.hypot(d[0], d[1], d[2]) || 1;
    this.light.set([d[0] / n, d[1] / n, d[2] / n, this.config.light.intensity, this.config.light.ambient]);
    this.colorSalt = 0;
    this.colorJitter = 0;
    this.colorFactors.clear();
  }

  /**
   * Draws a new domain-randomisation sample from `rng` (camera pose, light, colours) within the
   * config's `randomize` ranges; call at an episode's start. Without `randomize` nothing is drawn,
   * so the rng's stream is untouched.
   */
  randomize(rng: Rng): void {
    const r = this.config.randomize;
    this.resetRandomization();
    if (!r) return;
    for (let k = 0; k < 3; k++) this.jitter[k] = rng.uniform(-r.positionM, r.positionM);
    axisAngleMatrix(this.jitter, 3, rng, (rng.uniform(-r.rotationDeg, r.rotationDeg) * Math.PI) / 180);
    const m = this.lightRotation;
    axisAngleMatrix(m, 0, rng, (rng.uniform(0, r.lightDirectionDeg) * Math.PI) / 180);
    const [lx = 0, ly = 0, lz = 0] = this.light;
    for (let k = 0; k < 3; k++) this.light[k] = (m[3 * k] ?? 0) * lx + (m[3 * k + 1] ?? 0) * ly + (m[3 * k + 2] ?? 0) * lz;
    this.light[3] = (this.light[3] ?? 0) * rng.uniform(r.lightIntensity[0], r.lightIntensity[1]);
    this.colorSalt = rng.nextUint32();
    this.colorJitter = r.colorJitter;
  }

  /** Renders `scene` into `out` (a frame from {@link createFrame}). See {@link renderCamera}. */
  render(scene: SceneState, out: CameraFrame): void {
    if (out.width !== this.width || out.height !== this.height || out.rgb.length !== this.width * this.height * 3) {
      throw new RangeError(`camera "${this.name}": the frame is ${out.width}×${out.height}, the camera ${this.width}×${this.height} (use camera.createFrame())`);
    }
    const { shapes, poses } = scene;
    if (poses.length < 7 * shapes.length) throw new RangeError(`camera "${this.name}": the scene has ${shapes.length} shapes but ${poses.length} pose numbers (want ${7 * shapes.length})`);
    this.place(scene);
    const bg = this.config.background;
    const bgR = bg[0] / 255;
    const bgG = bg[1] / 255;
    const bgB = bg[2] / 255;
    const n = this.width * this.height;
    const far = this.config.far;
    this.zbuf.fill(far);
    for (let k = 0; k < n; k++) {
      this.color[3 * k] = bgR;
      this.color[3 * k + 1] = bgG;
      this.color[3 * k + 2] = bgB;
    }
    // Solid shapes in any order (z-buffered), their shadows, then the see-through markers farthest first.
    this.owner.fill(-1);
    let nTranslucent = 0;
    for (let s = 0; s < shapes.length; s++) {
      const shape = shapes[s];
      if (!shape) continue;
      if (ROLE_LOOKS[shape.role].alpha < 1) {
        nTranslucent = this.pushTranslucent(nTranslucent, s, poses);
        continue;
      }
      this.drawing = s;
      this.drawShape(shape, poses, 7 * s);
    }
    if (this.config.shadows) this.shadow(shapes, poses);
    this.sortTranslucent(nTranslucent, shapes);
    for (let k = 0; k < nTranslucent; k++) {
      const s = this.translucent[k] ?? 0;
      const shape = shapes[s];
      if (shape) this.drawShape(shape, poses, 7 * s);
    }
    // A clamped array rounds and clamps on store, faster than doing it by hand.
    const bytes = this.bytes;
    for (let k = 0; k < 3 * n; k++) bytes[k] = (this.color[k] ?? 0) * 255;
    out.rgb.set(bytes);
    if (out.depth) for (let k = 0; k < n; k++) out.depth[k] = this.zbuf[k] ?? far;
  }

  /**
   * Where a world point lands: column and row (fractional, pixel centres at integers) and depth
   * along the optical axis, for the camera placed in `scene` (attached cameras follow their link).
   * `null` behind the camera.
   */
  project(scene: SceneState, point: readonly [number, number, number]): { col: number; row: number; depth: number } | null {
    this.place(scene);
    const c = this.cam;
    const px = point[0] - (c[POS] ?? 0);
    const py = point[1] - (c[POS + 1] ?? 0);
    const pz = point[2] - (c[POS + 2] ?? 0);
    const x = px * (c[RIGHT] ?? 0) + py * (c[RIGHT + 1] ?? 0) + pz * (c[RIGHT + 2] ?? 0);
    const y = px * (c[UP] ?? 0) + py * (c[UP + 1] ?? 0) + pz * (c[UP + 2] ?? 0);
    const z = px * (c[FWD] ?? 0) + py * (c[FWD + 1] ?? 0) + pz * (c[FWD + 2] ?? 0);
    if (z <= 0) return null;
    return { col: this.width / 2 + (this.focal * x) / z - 0.5, row: this.height / 2 - (this.focal * y) / z - 0.5, depth: z };
  }

  /** Camera position and axes (world) for this scene: the config's pose, the link's, the jitter. */
  private place(scene: SceneState): void {
    const pose = this.config.pose;
    const c = this.cam;
    let px = pose.position[0];
    let py = pose.position[1];
    let pz = pose.position[2];
    let fx = pose.lookAt[0] - px;
    let fy = pose.lookAt[1] - py;
    let fz = pose.lookAt[2] - pz;
    let ux = pose.up[0];
    let uy = pose.up[1];
    let uz = pose.up[2];
    if (pose.kind === 'attached') {
      const k = this.findLink(scene);
      const p = scene.poses;
      const o = 7 * k;
      const m = quatMatrix(p, o + 3);
      const m00 = m[0] ?? 1, m01 = m[1] ?? 0, m02 = m[2] ?? 0, m10 = m[3] ?? 0, m11 = m[4] ?? 1, m12 = m[5] ?? 0, m20 = m[6] ?? 0, m21 = m[7] ?? 0, m22 = m[8] ?? 1;
      const bx = p[o] ?? 0;
      const by = p[o + 1] ?? 0;
      const bz = p[o + 2] ?? 0;
      const qx = m00 * px + m01 * py + m02 * pz + bx;
      const qy = m10 * px + m11 * py + m12 * pz + by;
      const qz = m20 * px + m21 * py + m22 * pz + bz;
      ((px = qx), (py = qy), (pz = qz));
      const gx = m00 * fx + m01 * fy + m02 * fz;
      const gy = m10 * fx + m11 * fy + m12 * fz;
      const gz = m20 * fx + m21 * fy + m22 * fz;
      ((fx = gx), (fy = gy), (fz = gz));
      const vx = m00 * ux + m01 * uy + m02 * uz;
      const vy = m10 * ux + m11 * uy + m12 * uz;
      const vz = m20 * ux + m21 * uy + m22 * uz;
      ((ux = vx), (uy = vy), (uz = vz));
    }
    // Pose jitter: offset, then rotate the view and up directions about the camera.
    const j = this.jitter;
    px += j[0] ?? 0;
    py += j[1] ?? 0;
    pz += j[2] ?? 0;
    const jf0 = (j[3] ?? 1) * fx + (j[4] ?? 0) * fy + (j[5] ?? 0) * fz;
    const jf1 = (j[6] ?? 0) * fx + (j[7] ?? 1) * fy + (j[8] ?? 0) * fz;
    const jf2 = (j[9] ?? 0) * fx + (j[10] ?? 0) * fy + (j[11] ?? 1) * fz;
    const ju0 = (j[3] ?? 1) * ux + (j[4] ?? 0) * uy + (j[5] ?? 0) * uz;
    const ju1 = (j[6] ?? 0) * ux + (j[7] ?? 1) * uy + (j[8] ?? 0) * uz;
    const ju2 = (j[9] ?? 0) * ux + (j[10] ?? 0) * uy + (j[11] ?? 1) * uz;
    const fn = 1 / Math.sqrt(jf0 * jf0 + jf1 * jf1 + jf2 * jf2); // (Math.hypot allocates per call in V8)
    fx = jf0 * fn;
    fy = jf1 * fn;
    fz = jf2 * fn;
    // right = forward × up; image up = right × forward.
    let rx = fy * ju2 - fz * ju1;
    let ry = fz * ju0 - fx * ju2;
    let rz = fx * ju1 - fy * ju0;
    const rn = 1 / Math.sqrt(rx * rx + ry * ry + rz * rz);
    ((rx *= rn), (ry *= rn), (rz *= rn));
    c[POS] = px;
    c[POS + 1] = py;
    c[POS + 2] = pz;
    c[RIGHT] = rx;
    c[RIGHT + 1] = ry;
    c[RIGHT + 2] = rz;
    c[UP] = ry * fz - rz * fy;
    c[UP + 1] = rz * fx - rx * fz;
    c[UP + 2] = rx * fy - ry * fx;
    c[FWD] = fx;
    c[FWD + 1] = fy;
    c[FWD + 2] = fz;
    c[LIGHT] = this.light[0] ?? 0;
    c[LIGHT + 1] = this.light[1] ?? 0;
    c[LIGHT + 2] = this.light[2] ?? 0;
  }

  /** Index of the shape carrying an attached camera: `<link>` exactly, else `<link>#0`. */
  private findLink(scene: SceneState): number {
    const pose = this.config.pose;
    if (pose.kind !== 'attached') return -1;
    let found = -1;
    for (let k = 0; k < scene.shapes.length; k++) {
      const name = scene.shapes[k]?.name;
      if (name === pose.link) return k;
      if (found < 0 && name === this.attachedName) found = k;
    }
    if (found < 0) throw new RangeError(`camera "${this.name}": the scene has no link "${pose.link}" (looked for shapes "${pose.link}" and "${this.attachedName}")`);
    return found;
  }

  private pushTranslucent(n: number, s: number, poses: readonly number[]): number {
    if (n === this.translucent.length) {
      const grown = new Int32Array(2 * n);
      grown.set(this.translucent);
      this.translucent = grown;
      const d = new Float64Array(2 * n);
      d.set(this.translucentDist);
      this.translucentDist = d;
    }
    const c = this.cam;
    const o = 7 * s;
    this.translucent[n] = s;
    const dx = (poses[o] ?? 0) - (c[POS] ?? 0);
    const dy = (poses[o + 1] ?? 0) - (c[POS + 1] ?? 0);
    const dz = (poses[o + 2] ?? 0) - (c[POS + 2] ?? 0);
    this.translucentDist[n] = Math.sqrt(dx * dx + dy * dy + dz * dz);
    return n + 1;
  }

  /** Farthest first; equal distances by name, so the order never depends on the engine's. */
  private sortTranslucent(n: number, shapes: readonly SceneShape[]): void {
    const idx = this.translucent;
    const dist = this.translucentDist;
    for (let a = 1; a < n; a++) {
      const s = idx[a] ?? 0;
      const d = dist[a] ?? 0;
      const name = shapes[s]?.name ?? '';
      let b = a - 1;
      while (b >= 0) {
        const db = dist[b] ?? 0;
        if (db > d || (db === d && (shapes[idx[b] ?? 0]?.name ?? '') <= name)) break;
        idx[b + 1] = idx[b] ?? 0;
        dist[b + 1] = db;
        b--;
      }
      idx[b + 1] = s;
      dist[b + 1] = d;
    }
  }

  /**
   * A shape's colour factors for this randomisation sample, keyed by its name, not its index,
   * so the colours do not depend on the scene's order; computed on first sight of the name.
   */
  private jitterOf(name: string): Float64Array {
    let k = this.colorFactors.get(name);
    if (k) return k;
    k = new Float64Array(3);
    let h = hashName(name, this.colorSalt);
    for (let c = 0; c < 3; c++) {
      h = mix32((h + 0x9e3779b9) >>> 0);
      k[c] = 1 + this.colorJitter * ((h / 4294967296) * 2 - 1);
    }
    this.colorFactors.set(name, k);
    return k;
  }

  /** Every pixel in the shape's projected bounding box: hit, depth test, shade. Meshes are rasterised. */
  private drawShape(shape: SceneShape, poses: readonly number[], o: number): void {
    if (shape.kind === 'mesh') {
      this.drawMesh(shape, poses, o);
      return;
    }
    const c = this.cam;
    const kind = shape.kind;
    const s0 = shape.size[0] ?? 0;
    const s1 = shape.size[1] ?? 0;
    const s2 = shape.size[2] ?? 0;
    if (!(s0 > 0) || (kind !== 'sphere' && !(s1 >= 0)) || (kind === 'box' && !(s2 > 0))) return; // degenerate: nothing to see
    const wx = (poses[o] ?? 0) - (c[POS] ?? 0);
    const wy = (poses[o + 1] ?? 0) - (c[POS + 1] ?? 0);
    const wz = (poses[o + 2] ?? 0) - (c[POS + 2] ?? 0);
    if (!Number.isFinite(wx + wy + wz)) return;
    const rX = c[RIGHT] ?? 0, rY = c[RIGHT + 1] ?? 0, rZ = c[RIGHT + 2] ?? 0;
    const uX = c[UP] ?? 0, uY = c[UP + 1] ?? 0, uZ = c[UP + 2] ?? 0;
    const fX = c[FWD] ?? 0, fY = c[FWD + 1] ?? 0, fZ = c[FWD + 2] ?? 0;
    // Shape rotation R (columns: the shape's axes in world), from its quaternion.
    const m = quatMatrix(poses, o + 3);
    const m00 = m[0] ?? 1, m01 = m[1] ?? 0, m02 = m[2] ?? 0, m10 = m[3] ?? 0, m11 = m[4] ?? 1, m12 = m[5] ?? 0, m20 = m[6] ?? 0, m21 = m[7] ?? 0, m22 = m[8] ?? 1;
    if (!Number.isFinite(m00 + m11 + m22)) return;
    // The pixels to test: the projection of the shape's oriented bounding box, clipped to the
    // near plane (a wrist camera sits inside the bounding sphere of the hand it rides on).
    const e = extents;
    e[0] = s0;
    e[1] = kind === 'box' ? s1 : kind === 'sphere' ? s0 : kind === 'capsule' ? s1 + s0 : s1;
    e[2] = kind === 'box' ? s2 : s0;
    if (!this.boundsOnScreen(poses, o)) return;
    const near = this.config.near;
    const W = this.width;
    const H = this.height;
    const f = this.focal;
    const rect = this.rect;
    const i0 = Math.max(0, Math.floor(W / 2 + f * (rect[0] ?? 0) - 0.5));
    const i1 = Math.min(W - 1, Math.ceil(W / 2 + f * (rect[1] ?? 0) - 0.5));
    const j0 = Math.max(0, Math.floor(H / 2 - f * (rect[3] ?? 0) - 0.5));
    const j1 = Math.min(H - 1, Math.ceil(H / 2 - f * (rect[2] ?? 0) - 0.5));
    if (i0 > i1 || j0 > j1) return;
    // Ray in the shape's frame: origin Rᵀ(cam − p), direction Rᵀ(x·right + y·up + forward)
    // with x, y the pixel's image-plane coordinates.
    const ox = -(m00 * wx + m10 * wy + m20 * wz);
    const oy = -(m01 * wx + m11 * wy + m21 * wz);
    const oz = -(m02 * wx + m12 * wy + m22 * wz);
    const inv = 1 / f;
    const arx = (m00 * rX + m10 * rY + m20 * rZ) * inv, ary = (m01 * rX + m11 * rY + m21 * rZ) * inv, arz = (m02 * rX + m12 * rY + m22 * rZ) * inv;
    const aux = (m00 * uX + m10 * uY + m20 * uZ) * inv, auy = (m01 * uX + m11 * uY + m21 * uZ) * inv, auz = (m02 * uX + m12 * uY + m22 * uZ) * inv;
    const afx = m00 * fX + m10 * fY + m20 * fZ, afy = m01 * fX + m11 * fY + m21 * fZ, afz = m02 * fX + m12 * fY + m22 * fZ;
    const lX = c[LIGHT] ?? 0, lY = c[LIGHT + 1] ?? 0, lZ = c[LIGHT + 2] ?? 0;
    const llx = m00 * lX + m10 * lY + m20 * lZ, lly = m01 * lX + m11 * lY + m21 * lZ, llz = m02 * lX + m12 * lY + m22 * lZ;
    const intensity = this.light[3] ?? 0;
    const ambient = this.light[4] ?? 0;
    const look = ROLE_LOOKS[shape.role];
    const alpha = look.alpha;
    let baseR = look.rgb[0];
    let baseG = look.rgb[1];
    let baseB = look.rgb[2];
    if (this.colorJitter > 0) {
      const k = this.jitterOf(shape.name);
      baseR *= k[0] ?? 1;
      baseG *= k[1] ?? 1;
      baseB *= k[2] ?? 1;
    }
    const zbuf = this.zbuf;
    const color = this.color;
    const owner = this.owner;
    const lit = this.lit;
    ray[0] = ox;
    ray[1] = oy;
    ray[2] = oz;
    ray[6] = s0;
    ray[7] = s1;
    ray[8] = s2;
    ray[9] = near;
    const test = hitTestOf(kind);
    for (let j = j0; j <= j1; j++) {
      const yv = H / 2 - 0.5 - j; // f·(image y) of this row's pixel centres
      const bx = afx + yv * aux + (0.5 - W / 2) * arx;
      const by = afy + yv * auy + (0.5 - W / 2) * ary;
      const bz = afz + yv * auz + (0.5 - W / 2) * arz;
      for (let i = i0; i <= i1; i++) {
        ray[3] = bx + i * arx;
        ray[4] = by + i * ary;
        ray[5] = bz + i * arz;
        if (!test()) continue;
        const t = hit[0] ?? Infinity;
        const p = j * W + i;
        if (t >= (zbuf[p] ?? 0)) continue;
        const lambert = (hit[1] ?? 0) * llx + (hit[2] ?? 0) * lly + (hit[3] ?? 0) * llz;
        const shade = ambient + intensity * (lambert > 0 ? lambert : 0);
        if (alpha >= 1) {
          zbuf[p] = t;
          if (owner.length > 0) {
            owner[p] = this.drawing;
            lit[p] = shade - ambient;
          }
          color[3 * p] = baseR * shade;
          color[3 * p + 1] = baseG * shade;
          color[3 * p + 2] = baseB * shade;
        } else {
          color[3 * p] = (color[3 * p] ?? 0) * (1 - alpha) + baseR * shade * alpha;
          color[3 * p + 1] = (color[3 * p + 1] ?? 0) * (1 - alpha) + baseG * shade * alpha;
          color[3 * p + 2] = (color[3 * p + 2] ?? 0) * (1 - alpha) + baseB * shade * alpha;
        }
      }
    }
  }

  /**
   * A triangle mesh, rasterised: its vertices into camera coordinates, each triangle clipped to
   * the near plane, then every pixel centre inside it depth-tested at its perspective-correct
   * depth and flat-shaded by the face's normal (turned towards the camera, so open meshes show
   * both sides). The same depth (along the optical axis) and, seen from outside, the same shading
   * as the primitives' ray hits; from inside, a primitive is shaded by its outward normal and a
   * mesh face by the normal turned towards the camera.
   */
  private drawMesh(shape: SceneShape, poses: readonly number[], o: number): void {
    const mesh = shape.mesh;
    if (!mesh) return;
    extents[0] = shape.size[0] ?? 0;
    extents[1] = shape.size[1] ?? 0;
    extents[2] = shape.size[2] ?? 0;
    if (!this.boundsOnScreen(poses, o)) return;
    const c = this.cam;
    const wx = (poses[o] ?? 0) - (c[POS] ?? 0);
    const wy = (poses[o + 1] ?? 0) - (c[POS + 1] ?? 0);
    const wz = (poses[o + 2] ?? 0) - (c[POS + 2] ?? 0);
    const rX = c[RIGHT] ?? 0, rY = c[RIGHT + 1] ?? 0, rZ = c[RIGHT + 2] ?? 0;
    const uX = c[UP] ?? 0, uY = c[UP + 1] ?? 0, uZ = c[UP + 2] ?? 0;
    const fX = c[FWD] ?? 0, fY = c[FWD + 1] ?? 0, fZ = c[FWD + 2] ?? 0;
    const m = quatMatrix(poses, o + 3);
    const m00 = m[0] ?? 1, m01 = m[1] ?? 0, m02 = m[2] ?? 0, m10 = m[3] ?? 0, m11 = m[4] ?? 1, m12 = m[5] ?? 0, m20 = m[6] ?? 0, m21 = m[7] ?? 0, m22 = m[8] ?? 1;
    // Camera coordinates of the shape's axes and origin: v_cam = A·v + t.
    const a00 = rX * m00 + rY * m10 + rZ * m20, a01 = rX * m01 + rY * m11 + rZ * m21, a02 = rX * m02 + rY * m12 + rZ * m22;
    const a10 = uX * m00 + uY * m10 + uZ * m20, a11 = uX * m01 + uY * m11 + uZ * m21, a12 = uX * m02 + uY * m12 + uZ * m22;
    const a20 = fX * m00 + fY * m10 + fZ * m20, a21 = fX * m01 + fY * m11 + fZ * m21, a22 = fX * m02 + fY * m12 + fZ * m22;
    const tx = wx * rX + wy * rY + wz * rZ;
    const ty = wx * uX + wy * uY + wz * uZ;
    const tz = wx * fX + wy * fY + wz * fZ;
    const verts = mesh.vertices;
    const nv = Math.floor(verts.length / 3);
    if (this.meshVerts.length < 3 * nv) this.meshVerts = new Float64Array(3 * nv);
    const cv = this.meshVerts;
    for (let v = 0; v < nv; v++) {
      const x = verts[3 * v] ?? 0, y = verts[3 * v + 1] ?? 0, z = verts[3 * v + 2] ?? 0;
      cv[3 * v] = a00 * x + a01 * y + a02 * z + tx;
      cv[3 * v + 1] = a10 * x + a11 * y + a12 * z + ty;
      cv[3 * v + 2] = a20 * x + a21 * y + a22 * z + tz;
    }
    const lX = c[LIGHT] ?? 0, lY = c[LIGHT + 1] ?? 0, lZ = c[LIGHT + 2] ?? 0;
    const look = this.lookOf(shape);
    const lc = meshLight;
    lc[0] = lX * rX + lY * rY + lZ * rZ;
    lc[1] = lX * uX + lY * uY + lZ * uZ;
    lc[2] = lX * fX + lY * fY + lZ * fZ;
    const near = this.config.near;
    const faces = mesh.faces;
    const poly = meshPoly;
    // See-through (a marker): each pixel takes only the mesh's nearest face, blended once after.
    const translucent = (look[4] ?? 1) < 1;
    if (translucent) {
      if (this.layerDepth.length !== this.width * this.height) {
        this.layerDepth = new Float64Array(this.width * this.height);
        this.layerColor = new Float32Array(3 * this.width * this.height);
      }
      this.layerDepth.fill(Infinity);
    }
    for (let k = 0; k + 2 < faces.length; k += 3) {
      const ia = faces[k] ?? 0, ib = faces[k + 1] ?? 0, ic = faces[k + 2] ?? 0;
      if (ia >= nv || ib >= nv || ic >= nv || ia < 0 || ib < 0 || ic < 0) continue;
      const za = cv[3 * ia + 2] ?? 0, zb = cv[3 * ib + 2] ?? 0, zc = cv[3 * ic + 2] ?? 0;
      if (za < near && zb < near && zc < near) continue;
      // Face normal (camera coordinates), turned towards the camera; Lambert against the light.
      const ex = (cv[3 * ib] ?? 0) - (cv[3 * ia] ?? 0), ey = (cv[3 * ib + 1] ?? 0) - (cv[3 * ia + 1] ?? 0), ez = zb - za;
      const gx = (cv[3 * ic] ?? 0) - (cv[3 * ia] ?? 0), gy = (cv[3 * ic + 1] ?? 0) - (cv[3 * ia + 1] ?? 0), gz = zc - za;
      let nx = ey * gz - ez * gy, ny = ez * gx - ex * gz, nz = ex * gy - ey * gx;
      const nn = Math.sqrt(nx * nx + ny * ny + nz * nz);
      if (!(nn > 0)) continue; // degenerate
      if (nx * (cv[3 * ia] ?? 0) + ny * (cv[3 * ia + 1] ?? 0) + nz * za > 0) ((nx = -nx), (ny = -ny), (nz = -nz));
      const lambert = (nx * (lc[0] ?? 0) + ny * (lc[1] ?? 0) + nz * (lc[2] ?? 0)) / nn;
      look[3] = (this.light[4] ?? 0) + (this.light[3] ?? 0) * (lambert > 0 ? lambert : 0);
      // Clip to z ≥ near (Sutherland–Hodgman against one plane): at most four corners.
      let n = 0;
      for (let e = 0; e < 3; e++) {
        const p = e === 0 ? ia : e === 1 ? ib : ic;
        const q = e === 0 ? ib : e === 1 ? ic : ia;
        const zp = cv[3 * p + 2] ?? 0, zq = cv[3 * q + 2] ?? 0;
        if (zp >= near) {
          poly[3 * n] = cv[3 * p] ?? 0;
          poly[3 * n + 1] = cv[3 * p + 1] ?? 0;
          poly[3 * n + 2] = zp;
          n++;
        }
        if (zp >= near !== zq >= near) {
          const t = (near - zp) / (zq - zp);
          poly[3 * n] = (cv[3 * p] ?? 0) + t * ((cv[3 * q] ?? 0) - (cv[3 * p] ?? 0));
          poly[3 * n + 1] = (cv[3 * p + 1] ?? 0) + t * ((cv[3 * q + 1] ?? 0) - (cv[3 * p + 1] ?? 0));
          poly[3 * n + 2] = near;
          n++;
        }
      }
      for (let t = 1; t + 1 < n; t++) this.fillTriangle(0, t, t + 1, look);
    }
    if (translucent) this.blendLayer(look[4] ?? 1);
  }

  /** A see-through mesh's nearest faces (in {@link layerDepth}/{@link layerColor}) blended over the image once per pixel. */
  private blendLayer(alpha: number): void {
    const depth = this.layerDepth;
    const layer = this.layerColor;
    const color = this.color;
    for (let p = 0; p < depth.length; p++) {
      if (depth[p] === Infinity) continue;
      for (let a = 0; a < 3; a++) color[3 * p + a] = (color[3 * p + a] ?? 0) * (1 - alpha) + (layer[3 * p + a] ?? 0) * alpha;
    }
  }

  /**
   * Fills triangle (a, b, c) of {@link meshPoly} (camera coordinates, z ≥ near): each pixel centre
   * inside it (edges included) that is nearer than the z-buffer, at depth 1/z interpolated in the
   * image (perspective-correct), in colour look[0..2] × shade look[3] with the role's opacity.
   */
  private fillTriangle(a: number, b: number, c: number, look: Float64Array): void {
    const P = meshPoly;
    const W = this.width;
    const H = this.height;
    const f = this.focal;
    const za = P[3 * a + 2] ?? 1, zb = P[3 * b + 2] ?? 1, zc = P[3 * c + 2] ?? 1;
    const xa = W / 2 + (f * (P[3 * a] ?? 0)) / za - 0.5, ya = H / 2 - (f * (P[3 * a + 1] ?? 0)) / za - 0.5;
    const xb = W / 2 + (f * (P[3 * b] ?? 0)) / zb - 0.5, yb = H / 2 - (f * (P[3 * b + 1] ?? 0)) / zb - 0.5;
    const xc = W / 2 + (f * (P[3 * c] ?? 0)) / zc - 0.5, yc = H / 2 - (f * (P[3 * c + 1] ?? 0)) / zc - 0.5;
    const area = (xb - xa) * (yc - ya) - (yb - ya) * (xc - xa);
    if (!(Math.abs(area) > 1e-12)) return;
    const i0 = Math.max(0, Math.ceil(Math.min(xa, xb, xc)));
    const i1 = Math.min(W - 1, Math.floor(Math.max(xa, xb, xc)));
    const j0 = Math.max(0, Math.ceil(Math.min(ya, yb, yc)));
    const j1 = Math.min(H - 1, Math.floor(Math.max(ya, yb, yc)));
    if (i0 > i1 || j0 > j1) return;
    const inv = 1 / area;
    if (!Number.isFinite(inv)) return; // (vertices so far apart that the area overflowed)
    const qa = 1 / za, qb = 1 / zb, qc = 1 / zc;
    const translucent = (look[4] ?? 1) < 1;
    const shade = look[3] ?? 0;
    const r = (look[0] ?? 0) * shade, g = (look[1] ?? 0) * shade, bl = (look[2] ?? 0) * shade;
    const zbuf = this.zbuf;
    const color = translucent ? this.layerColor : this.color;
    const layer = this.layerDepth;
    const owner = this.owner;
    const lit = this.lit;
    const ambient = this.light[4] ?? 0;
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        // Barycentric weights of the pixel centre (i, j), each ≥ 0 inside whichever way round
        // (written so that a NaN weight fails too).
        const wa = ((xb - i) * (yc - j) - (yb - j) * (xc - i)) * inv;
        const wb = ((xc - i) * (ya - j) - (yc - j) * (xa - i)) * inv;
        const wc = 1 - wa - wb;
        if (!(wa >= 0 && wb >= 0 && wc >= 0)) continue;
        const t = 1 / (wa * qa + wb * qb + wc * qc);
        const p = j * W + i;
        if (!(t < (zbuf[p] ?? 0))) continue;
        if (translucent) {
          if (!(t < (layer[p] ?? 0))) continue;
          layer[p] = t;
        } else {
          zbuf[p] = t;
          if (owner.length > 0) {
            owner[p] = this.drawing;
            lit[p] = shade - ambient;
          }
        }
        color[3 * p] = r;
        color[3 * p + 1] = g;
        color[3 * p + 2] = bl;
      }
    }
  }

  /**
   * The shadow pass (`shadows: true`), after the solid shapes: for every pixel a solid shape lit
   * by the light, the ray from its surface point towards the light against every other shape —
   * bounding sphere, then the exact hit in that shape's frame — and the pixel's directional term
   * scaled by the light that gets through.
   */
  private shadow(shapes: readonly SceneShape[], poses: readonly number[]): void {
    if (this.casters.length < CASTER * shapes.length) this.casters = new Float64Array(CASTER * shapes.length);
    if (this.gridFrame.length < shapes.length) this.gridFrame = new Int32Array(shapes.length);
    this.frameNo = (this.frameNo + 1) | 0 || 1; // (0 is "never built")
    const cs = this.casters;
    let n = 0;
    for (let s = 0; s < shapes.length; s++) {
      const shape = shapes[s];
      if (!shape) continue;
      const radius = boundingRadius(shape);
      const o = 7 * s;
      const x = poses[o] ?? 0, y = poses[o + 1] ?? 0, z = poses[o + 2] ?? 0;
      // (Squares too: a pose or size so large that they overflow is drawn as nothing, and casts nothing.)
      if (!(radius > 0) || !Number.isFinite(x * x + y * y + z * z + radius * radius)) continue;
      const m = quatMatrix(poses, o + 3);
      if (!Number.isFinite((m[0] ?? 0) + (m[4] ?? 0) + (m[8] ?? 0))) continue;
      const b = CASTER * n++;
      cs[b] = x;
      cs[b + 1] = y;
      cs[b + 2] = z;
      cs[b + 3] = radius;
      for (let k = 0; k < 9; k++) cs[b + 4 + k] = m[k] ?? 0;
      cs[b + 13] = ROLE_LOOKS[shape.role].alpha;
      cs[b + 14] = s;
      // Rᵀ·light, once a frame: every shadow ray runs this way.
      const lx = this.cam[LIGHT] ?? 0, ly = this.cam[LIGHT + 1] ?? 0, lz = this.cam[LIGHT + 2] ?? 0;
      cs[b + 15] = (m[0] ?? 0) * lx + (m[3] ?? 0) * ly + (m[6] ?? 0) * lz;
      cs[b + 16] = (m[1] ?? 0) * lx + (m[4] ?? 0) * ly + (m[7] ?? 0) * lz;
      cs[b + 17] = (m[2] ?? 0) * lx + (m[5] ?? 0) * ly + (m[8] ?? 0) * lz;
    }
    const c = this.cam;
    const cx = c[POS] ?? 0, cy = c[POS + 1] ?? 0, cz = c[POS + 2] ?? 0;
    const rX = c[RIGHT] ?? 0, rY = c[RIGHT + 1] ?? 0, rZ = c[RIGHT + 2] ?? 0;
    const uX = c[UP] ?? 0, uY = c[UP + 1] ?? 0, uZ = c[UP + 2] ?? 0;
    const fX = c[FWD] ?? 0, fY = c[FWD + 1] ?? 0, fZ = c[FWD + 2] ?? 0;
    const lX = c[LIGHT] ?? 0, lY = c[LIGHT + 1] ?? 0, lZ = c[LIGHT + 2] ?? 0;
    const ambient = this.light[4] ?? 0;
    const W = this.width;
    const H = this.height;
    const inv = 1 / this.focal;
    const owner = this.owner;
    const lit = this.lit;
    const zbuf = this.zbuf;
    const color = this.color;
    for (let j = 0; j < H; j++) {
      const yv = (H / 2 - 0.5 - j) * inv;
      for (let i = 0; i < W; i++) {
        const p = j * W + i;
        const self = owner[p] ?? -1;
        const direct = lit[p] ?? 0;
        if (self < 0 || !(direct > 0)) continue;
        // The lit point: along the pixel's ray to the depth the z-buffer holds.
        const t = zbuf[p] ?? 0;
        const xv = (i + 0.5 - W / 2) * inv;
        const px = cx + t * (fX + xv * rX + yv * uX);
        const py = cy + t * (fY + xv * rY + yv * uY);
        const pz = cz + t * (fZ + xv * rZ + yv * uZ);
        const sp = shadowPoint;
        sp[0] = px;
        sp[1] = py;
        sp[2] = pz;
        let through = 1;
        for (let k = 0; k < n; k++) {
          const b = CASTER * k;
          if (cs[b + 14] === self) continue;
          const vx = (cs[b] ?? 0) - px, vy = (cs[b + 1] ?? 0) - py, vz = (cs[b + 2] ?? 0) - pz;
          const r = cs[b + 3] ?? 0;
          const along = vx * lX + vy * lY + vz * lZ;
          if (!(along >= -r && vx * vx + vy * vy + vz * vz - along * along <= r * r)) continue; // (NaN: no)
          const shape = shapes[cs[b + 14] ?? 0];
          if (!shape || !this.blocks(shape, k)) continue;
          through *= 1 - (cs[b + 13] ?? 1);
          if (through <= 0) break;
        }
        if (through >= 1) continue;
        const k = (ambient + through * direct) / (ambient + direct);
        color[3 * p] = (color[3 * p] ?? 0) * k;
        color[3 * p + 1] = (color[3 * p + 1] ?? 0) * k;
        color[3 * p + 2] = (color[3 * p + 2] ?? 0) * k;
      }
    }
  }

  /**
   * Whether the ray from world point {@link shadowPoint} towards the light meets caster k (see
   * CASTER) beyond {@link SHADOW_NEAR}: the ray into the shape's frame, then the camera's own
   * primitive tests, or the mesh's triangles binned along the light ({@link MeshShadowGrid}).
   * (The point comes in through scratch: V8 boxes the floating-point arguments of a call it does
   * not inline, garbage on every call of the per-pixel loop.)
   */
  private blocks(shape: SceneShape, k: number): boolean {
    const cs = this.casters;
    const b = CASTER * k;
    const wx = (shadowPoint[0] ?? 0) - (cs[b] ?? 0), wy = (shadowPoint[1] ?? 0) - (cs[b + 1] ?? 0), wz = (shadowPoint[2] ?? 0) - (cs[b + 2] ?? 0);
    const m00 = cs[b + 4] ?? 1, m01 = cs[b + 5] ?? 0, m02 = cs[b + 6] ?? 0;
    const m10 = cs[b + 7] ?? 0, m11 = cs[b + 8] ?? 1, m12 = cs[b + 9] ?? 0;
    const m20 = cs[b + 10] ?? 0, m21 = cs[b + 11] ?? 0, m22 = cs[b + 12] ?? 1;
    const ox = m00 * wx + m10 * wy + m20 * wz;
    const oy = m01 * wx + m11 * wy + m21 * wz;
    const oz = m02 * wx + m12 * wy + m22 * wz;
    const dx = cs[b + 15] ?? 0, dy = cs[b + 16] ?? 0, dz = cs[b + 17] ?? 0;
    if (shape.kind === 'mesh') {
      if (!shape.mesh) return false;
      let grid = this.grids[k];
      if (!grid) grid = this.grids[k] = new MeshShadowGrid();
      if (this.gridFrame[k] !== this.frameNo) {
        grid.build(shape.mesh, dx, dy, dz, cs[b + 3] ?? 0);
        this.gridFrame[k] = this.frameNo;
      }
      shadowPoint[0] = ox;
      shadowPoint[1] = oy;
      shadowPoint[2] = oz;
      return grid.meets(shadowPoint, SHADOW_NEAR);
    }
    ray[0] = ox;
    ray[1] = oy;
    ray[2] = oz;
    ray[3] = dx;
    ray[4] = dy;
    ray[5] = dz;
    ray[6] = shape.size[0] ?? 0;
    ray[7] = shape.size[1] ?? 0;
    ray[8] = shape.size[2] ?? 0;
    ray[9] = SHADOW_NEAR;
    return hitTestOf(shape.kind)();
  }

  /** A shape's colour (role, colour jitter) into look[0..2] and its opacity into look[4] (scratch). */
  private lookOf(shape: SceneShape): Float64Array {
    const role = ROLE_LOOKS[shape.role];
    const look = meshLook;
    look[0] = role.rgb[0];
    look[1] = role.rgb[1];
    look[2] = role.rgb[2];
    look[4] = role.alpha;
    if (this.colorJitter > 0) {
      const k = this.jitterOf(shape.name);
      for (let a = 0; a < 3; a++) look[a] = (look[a] ?? 0) * (k[a] ?? 1);
    }
    return look;
  }

  /**
   * Whether any of the box of half extents {@link extents} about the shape's pose (at `o` in
   * `poses`) is on screen, its image-plane bounds then in `rect` (see {@link boxOnScreen}). False
   * for a pose that is not finite. Primitives and meshes both pass their pixels through here.
   */
  private boundsOnScreen(poses: readonly number[], o: number): boolean {
    const c = this.cam;
    const wx = (poses[o] ?? 0) - (c[POS] ?? 0);
    const wy = (poses[o + 1] ?? 0) - (c[POS + 1] ?? 0);
    const wz = (poses[o + 2] ?? 0) - (c[POS + 2] ?? 0);
    if (!Number.isFinite(wx + wy + wz)) return false;
    const m = quatMatrix(poses, o + 3);
    if (!Number.isFinite((m[0] ?? 0) + (m[4] ?? 0) + (m[8] ?? 0))) return false;
    const ex = extents[0] ?? 0, ey = extents[1] ?? 0, ez = extents[2] ?? 0;
    const b = obb;
    for (let r = 0; r < 3; r++) {
      const axis = r === 0 ? RIGHT : r === 1 ? UP : FWD;
      const ax = c[axis] ?? 0, ay = c[axis + 1] ?? 0, az = c[axis + 2] ?? 0;
      b[r] = wx * ax + wy * ay + wz * az;
      b[3 + r] = ex * (ax * (m[0] ?? 0) + ay * (m[3] ?? 0) + az * (m[6] ?? 0));
      b[6 + r] = ey * (ax * (m[1] ?? 0) + ay * (m[4] ?? 0) + az * (m[7] ?? 0));
      b[9 + r] = ez * (ax * (m[2] ?? 0) + ay * (m[5] ?? 0) + az * (m[8] ?? 0));
    }
    b[12] = this.config.near;
    b[13] = this.config.far;
    return boxOnScreen(this.rect);
  }
}

/**
 * The renderer's version, written into camera demo files (`source.frames.renderer`): bump it
 * whenever the image of a scene changes — the rasteriser, shading, colours, or what a scene
 * draws — so demos drawn before are refused by name instead of mixed with frames that look
 * otherwise. 1: as of 7b3e2c0 (MJCF floors drawn); files recorded before carry no version.
 */
export const RENDERER_VERSION = 1;

/**
 * Renders `scene` through `camera` into `out` (allocated by `camera.createFrame()`): RGB always,
 * depth when the camera has `depth: true`. Throws a RangeError naming the camera when an
 * attached camera's link is missing from the scene or `out` is the wrong size.
 */
export function renderCamera(scene: SceneState, camera: Camera, out: CameraFrame): void {
  camera.render(scene, out);
}

/**
 * Image-plane bounds (x/z and y/z; min x, max x, min y, max y into `rect`) of the box in
 * {@link obb} (centre c, half-axes a, b, e in camera coordinates; near; far), clipped to
 * z ≥ near: the corners in front of the near plane and the points where edges cross it. False
 * when nothing of it is between near and far.
 */
function boxOnScreen(rect: Float64Array): boolean {
  const o = obb;
  const cx = o[0] ?? 0, cy = o[1] ?? 0, cz = o[2] ?? 0;
  const ax = o[3] ?? 0, ay = o[4] ?? 0, az = o[5] ?? 0;
  const bx = o[6] ?? 0, by = o[7] ?? 0, bz = o[8] ?? 0;
  const ex = o[9] ?? 0, ey = o[10] ?? 0, ez = o[11] ?? 0;
  const near = o[12] ?? 0, far = o[13] ?? 0;
  const k = corners;
  let minZ = Infinity;
  for (let i = 0; i < 8; i++) {
    const sa = i & 1 ? 1 : -1;
    const sb = i & 2 ? 1 : -1;
    const se = i & 4 ? 1 : -1;
    k[3 * i] = cx + sa * ax + sb * bx + se * ex;
    k[3 * i + 1] = cy + sa * ay + sb * by + se * ey;
    const z = cz + sa * az + sb * bz + se * ez;
    k[3 * i + 2] = z;
    if (z < minZ) minZ = z;
  }
  if (minZ > far) return false;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < 8; i++) {
    const z = k[3 * i + 2] ?? 0;
    if (z >= near) {
      const x = (k[3 * i] ?? 0) / z;
      const y = (k[3 * i + 1] ?? 0) / z;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    // Edges from this corner to the corners that differ in one more sign.
    for (let bit = 1; bit < 8; bit <<= 1) {
      if (i & bit) continue;
      const j = i | bit;
      const zj = k[3 * j + 2] ?? 0;
      if (z >= near === zj >= near) continue;
      const t = (near - z) / (zj - z);
      const x = ((k[3 * i] ?? 0) + t * ((k[3 * j] ?? 0) - (k[3 * i] ?? 0))) / near;
      const y = ((k[3 * i + 1] ?? 0) + t * ((k[3 * j + 1] ?? 0) - (k[3 * i + 1] ?? 0))) / near;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x0 > x1) return false; // wholly behind the near plane
  rect[0] = x0;
  rect[1] = x1;
  rect[2] = y0;
  rect[3] = y1;
  return true;
}
const corners = new Float64Array(24);
/** Half extents (shape frame) of the box {@link Camera.boundsOnScreen} projects. */
const extents = new Float64Array(3);
/** A mesh triangle clipped to the near plane: up to four corners, camera coordinates. */
const meshPoly = new Float64Array(12);
/** The light direction in camera coordinates, for a mesh's faces. */
const meshLight = new Float64Array(3);
/** A mesh's colour r g b, the face's shade, the opacity. */
const meshLook = new Float64Array(5);
/** In to {@link boxOnScreen}: cx cy cz, ax ay az, bx by bz, ex ey ez, near, far. */
const obb = new Float64Array(14);

/**
 * Rotation matrix (row-major, shared scratch) of the quaternion x y z w at `q[at..at+4]`,
 * normalised first (poses are rounded); a zero or NaN quaternion reads as the identity (a NaN
 * position still leaves the shape undrawn).
 */
const qm = new Float64Array(9);
function quatMatrix(q: ArrayLike<number>, at: number): Float64Array {
  let x = q[at] ?? 0, y = q[at + 1] ?? 0, z = q[at + 2] ?? 0, w = q[at + 3] ?? 1;
  const n = Math.sqrt(x * x + y * y + z * z + w * w);
  if (n > 0) ((x /= n), (y /= n), (z /= n), (w /= n));
  else ((x = 0), (y = 0), (z = 0), (w = 1));
  qm[0] = 1 - 2 * (y * y + z * z);
  qm[1] = 2 * (x * y - z * w);
  qm[2] = 2 * (x * z + y * w);
  qm[3] = 2 * (x * y + z * w);
  qm[4] = 1 - 2 * (x * x + z * z);
  qm[5] = 2 * (y * z - x * w);
  qm[6] = 2 * (x * z - y * w);
  qm[7] = 2 * (y * z + x * w);
  qm[8] = 1 - 2 * (x * x + y * y);
  return qm;
}

/** Writes the rotation by `angle` about a uniformly random axis into m[at..at+9] (row-major). */
function axisAngleMatrix(m: Float64Array, at: number, rng: Rng, angle: number): void {
  let ax = rng.normal();
  let ay = rng.normal();
  let az = rng.normal();
  const n = Math.hypot(ax, ay, az) || 1;
  ((ax /= n), (ay /= n), (az /= n));
  const s = Math.sin(angle / 2);
  const r = quatMatrix([ax * s, ay * s, az * s, Math.cos(angle / 2)], 0);
  for (let k = 0; k < 9; k++) m[at + k] = r[k] ?? 0;
}

function hashName(name: string, salt: number): number {
  let h = (salt ^ 0x811c9dc5) >>> 0;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193) >>> 0;
  return h;
}

/** 32-bit finaliser (murmur3's fmix32). */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** In to {@link Camera.blocks}: the lit point (world); in to a mesh grid: the ray's origin (mesh frame). */
const shadowPoint = new Float64Array(3);

/** A mesh's farthest vertex from its origin, by mesh (computed once: scenes keep their mesh objects). */
const meshRadii = new WeakMap<object, number>();
function meshRadius(mesh: NonNullable<SceneShape['mesh']>): number {
  let r = meshRadii.get(mesh);
  if (r !== undefined) return r;
  let r2 = 0;
  const v = mesh.vertices;
  for (let i = 0; i + 2 < v.length; i += 3) {
    const x = v[i] ?? 0, y = v[i + 1] ?? 0, z = v[i + 2] ?? 0;
    const d = x * x + y * y + z * z;
    if (d > r2) r2 = d; // (NaN never is)
  }
  r = Math.sqrt(r2);
  meshRadii.set(mesh, r);
  return r;
}

/**
 * Radius of a sphere about the shape's origin that holds it (0: a degenerate shape, drawn as
 * nothing). A mesh's from its vertices, not its `size` (which bounds them in a valid scene).
 */
function boundingRadius(shape: SceneShape): number {
  const a = shape.size[0] ?? 0, b = shape.size[1] ?? 0, c = shape.size[2] ?? 0;
  switch (shape.kind) {
    case 'sphere':
      return a > 0 ? a : 0;
    case 'capsule':
      return a > 0 && b >= 0 ? a + b : 0;
    case 'cylinder':
      return a > 0 && b >= 0 ? Math.sqrt(a * a + b * b) : 0;
    case 'box':
      return a > 0 && b >= 0 && c > 0 ? Math.sqrt(a * a + b * b + c * c) : 0;
    case 'mesh':
      return shape.mesh ? meshRadius(shape.mesh) : 0;
  }
}

