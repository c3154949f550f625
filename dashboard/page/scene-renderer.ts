/// <reference lib="dom" />
import * as THREE from 'three';
import type { Frame, Shape } from './frames.js';

const ROLE_COLORS: Readonly<Record<string, { color: string; opacity: number }>> = {
  robot: { color: '#f28c28', opacity: 1 },
  object: { color: '#3a6fd8', opacity: 1 },
  fixture: { color: '#aab2c0', opacity: 1 },
  target: { color: '#2ca02c', opacity: 0.45 },
  'keep-out': { color: '#d62728', opacity: 0.25 },
};
const FIXTURE = { color: '#aab2c0', opacity: 1 };

/**
 * The three.js drawing of one scene frame on a canvas: meshes for the frame's shapes (rebuilt
 * when the shapes change), posed from its poses, seen from the front-left. Shared by the
 * dashboard's recorded scene ({@link SceneView}) and the teleop page's live view. Frames come
 * checked ({@link SceneFrames}). The canvas says what it drew: `data-shapes`, `data-drawn`
 * (frames drawn so far) and `data-t` (the step of the last one), for tests and scripts.
 */
export class SceneRenderer {
  private meshes: THREE.Mesh[] = [];
  private meshesFor: readonly Shape[] | null = null;
  private readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private readonly camera = new THREE.PerspectiveCamera(40, 1, 0.01, 50);
  private drawn = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.scene.background = new THREE.Color('#f3f5f9');
    this.camera.up.set(0, 0, 1);
    this.scene.add(new THREE.HemisphereLight('#ffffff', '#8890a0', 2.2));
    const sun = new THREE.DirectionalLight('#ffffff', 1.6);
    sun.position.set(2, -3, 4);
    this.scene.add(sun);
    const grid = new THREE.GridHelper(2, 20, '#b8bfcc', '#d6dbe4');
    grid.rotation.x = Math.PI / 2;
    this.scene.add(grid);
  }

  /** Poses the meshes as in `f` (building them first when its shapes are new) and renders. */
  draw(f: Frame): void {
    this.resize();
    if (this.meshesFor !== f.shapes) this.build(f);
    const p = f.poses;
    this.meshes.forEach((m, i) => {
      m.position.set(p[7 * i] ?? 0, p[7 * i + 1] ?? 0, p[7 * i + 2] ?? 0);
      m.quaternion.set(p[7 * i + 3] ?? 0, p[7 * i + 4] ?? 0, p[7 * i + 5] ?? 0, p[7 * i + 6] ?? 1);
    });
    this.renderer.render(this.scene, this.camera);
    this.canvas.dataset['drawn'] = String(++this.drawn);
    this.canvas.dataset['t'] = String(f.t);
  }

  /** Forget the meshes: the next frame builds them afresh (and frames the camera again). */
  forget(): void {
    this.meshesFor = null;
  }

  /** Where a shape's centre (its bounding box's: a mesh's origin may be its body's, at one end) is on the canvas (CSS px), or null when there is no such shape. */
  project(name: string): { x: number; y: number } | null {
    const m = this.meshes.find((x) => x.name === name);
    if (!m) return null;
    m.updateWorldMatrix(true, false);
    if (!m.geometry.boundingBox) m.geometry.computeBoundingBox();
    const v = m.localToWorld(m.geometry.boundingBox!.getCenter(new THREE.Vector3())).project(this.camera);
    return { x: ((v.x + 1) / 2) * this.canvas.clientWidth, y: ((1 - v.y) / 2) * this.canvas.clientHeight };
  }

  private build(f: Frame): void {
    for (const m of this.meshes) {
      this.scene.remove(m);
      m.geometry.dispose();
    }
    this.meshes = f.shapes.map((s) => {
      const [a = 0.01, b = 0.01, c = 0.01] = s.size;
      const geometry = s.kind === 'mesh' && s.mesh ? meshGeometry(s.mesh) : s.kind === 'box' || s.kind === 'mesh' ? new THREE.BoxGeometry(2 * a, 2 * b, 2 * c) : s.kind === 'sphere' ? new THREE.SphereGeometry(a, 24, 16) : s.kind === 'capsule' ? new THREE.CapsuleGeometry(a, 2 * b, 6, 16) : new THREE.CylinderGeometry(a, a, 2 * b, 24);
      const look = ROLE_COLORS[s.role] ?? FIXTURE;
      const material = new THREE.MeshStandardMaterial({ color: look.color, transparent: look.opacity < 1, opacity: look.opacity, roughness: 0.6, metalness: 0.1, depthWrite: look.opacity === 1, side: s.kind === 'mesh' ? THREE.DoubleSide : THREE.FrontSide });
      const mesh = new THREE.Mesh(geometry, material);
      mesh.name = s.name;
      this.scene.add(mesh);
      return mesh;
    });
    this.meshesFor = f.shapes;
    this.canvas.dataset['shapes'] = String(this.meshes.length);
    this.frameCamera(f);
  }

  /** Looks at the robot from the front-left, far enough to see all of it. */
  private frameCamera(f: Frame): void {
    const box = new THREE.Box3();
    f.shapes.forEach((s, i) => {
      if (s.role === 'fixture' && (s.size[0] ?? 0) > 0.5) return; // a table or floor would push the camera away
      box.expandByPoint(new THREE.Vector3(f.poses[7 * i], f.poses[7 * i + 1], f.poses[7 * i + 2]));
    });
    const center = box.getCenter(new THREE.Vector3());
    const size = Math.max(0.8, box.getSize(new THREE.Vector3()).length());
    this.camera.position.set(center.x + 1.1 * size, center.y - 1.5 * size, center.z + 0.8 * size);
    this.camera.lookAt(center);
  }

  private resize(): void {
    const w = this.canvas.clientWidth;
    const hgt = this.canvas.clientHeight;
    if (this.canvas.width !== w * devicePixelRatio || this.canvas.height !== hgt * devicePixelRatio) {
      this.renderer.setPixelRatio(devicePixelRatio);
      this.renderer.setSize(w, hgt, false);
      this.camera.aspect = w / Math.max(1, hgt);
      this.camera.updateProjectionMatrix();
    }
  }
}

/** A scene mesh's triangles as three.js geometry: flat-shaded faces (each face its own normal), as the simulated cameras shade them. */
function meshGeometry(mesh: NonNullable<Shape['mesh']>): THREE.BufferGeometry {
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.Float32BufferAttribute(mesh.vertices, 3));
  g.setIndex(Array.from(mesh.faces));
  const flat = g.toNonIndexed();
  g.dispose();
  flat.computeVertexNormals();
  return flat;
}
