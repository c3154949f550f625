import { meshExtents, meshProblem } from '../../control/scene-mesh.js';
import { field } from '../protocol.js';

/** Frames kept of a recording being followed live; past this, the oldest are dropped. */
export const MAX_FRAMES = 20_000;

const KINDS = ['box', 'sphere', 'capsule', 'cylinder', 'mesh'] as const;

export interface Shape {
  readonly name: string;
  readonly kind: (typeof KINDS)[number];
  readonly size: readonly number[];
  readonly role: string;
  /** A mesh's triangles (kind `mesh`): vertices x y z …, faces i j k …, checked by {@link meshProblem}. */
  readonly mesh?: { readonly vertices: readonly number[]; readonly faces: readonly number[] };
}

export interface Frame {
  readonly episode: number;
  readonly t: number;
  /** Per shape: x y z qx qy qz qw. */
  readonly poses: readonly number[];
  readonly reward?: number;
  readonly success: boolean;
  /** The shapes of the episode this frame belongs to. */
  readonly shapes: readonly Shape[];
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const numbers = (x: unknown): x is number[] => Array.isArray(x) && x.every(finite);

function parseShape(v: unknown): Shape | null {
  const name = field(v, 'name');
  const kind = KINDS.find((k) => k === field(v, 'kind'));
  const size = field(v, 'size');
  const role = field(v, 'role');
  if (typeof name !== 'string' || !kind || typeof role !== 'string') return null;
  if (kind === 'mesh') {
    // The bounds come from the vertices, not the line: a size that understated them would cull the mesh.
    const mesh = field(v, 'mesh');
    if (meshProblem(mesh) !== null) return null;
    const { vertices, faces } = mesh as { vertices: number[]; faces: number[] };
    return { name, kind, size: meshExtents(vertices), role, mesh: { vertices, faces } };
  }
  if (!numbers(size) || size.length < (kind === 'box' ? 3 : kind === 'sphere' ? 1 : 2) || !size.every((s) => s > 0 && s < 100)) return null;
  return { name, kind, size, role };
}

/**
 * The frames of the recording the page shows (`*.scene.jsonl` lines: a `scene` line with the
 * shapes, then `frame` lines), each line checked: shapes of a known kind with positive sizes
 * (meshes with finite vertices and faces that index them),
 * poses of 7 finite numbers per shape. Bounded: at most {@link MAX_FRAMES}, the oldest dropped.
 */
export class SceneFrames {
  readonly frames: Frame[] = [];
  hz = 25;
  private shapes: readonly Shape[] | null = null;

  clear(): void {
    this.frames.length = 0;
    this.shapes = null;
  }

  /** Adds lines; returns how many were malformed and how many old frames were dropped. */
  add(lines: readonly unknown[]): { bad: number; dropped: number } {
    let bad = 0;
    for (const l of lines) {
      const type = field(l, 'type');
      if (type === 'scene') {
        const raw = field(l, 'shapes');
        const shapes = Array.isArray(raw) ? raw.map(parseShape) : null;
        if (!shapes || shapes.some((s) => s === null)) {
          bad++;
          this.shapes = null; // its frames cannot be drawn
          continue;
        }
        this.shapes = shapes.filter((s) => s !== null);
        const hz = field(l, 'hz');
        if (finite(hz) && hz > 0 && hz <= 1000) this.hz = hz;
      } else if (type === 'frame') {
        const episode = field(l, 'episode');
        const t = field(l, 't');
        const poses = field(l, 'poses');
        const reward = field(l, 'reward');
        if (!this.shapes || !finite(episode) || !finite(t) || !numbers(poses) || poses.length !== 7 * this.shapes.length) {
          bad++;
          continue;
        }
        this.frames.push({ episode, t, poses, ...(finite(reward) ? { reward } : {}), success: field(l, 'success') === true, shapes: this.shapes });
      } else bad++;
    }
    let dropped = 0;
    if (this.frames.length > MAX_FRAMES) {
      dropped = this.frames.length - MAX_FRAMES + MAX_FRAMES / 10; // in slices, not one per line
      this.frames.splice(0, dropped);
    }
    return { bad, dropped };
  }
}
