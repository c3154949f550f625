import { afterAll, describe, expect, it } from 'vitest';
import type { Env } from '../../control/env.js';
import { findSceneSource, type SceneState } from '../../control/scene.js';
import { envEntry, make } from '../../tasks/registry.js';
import { Camera, type CameraFrame } from './camera.js';
import { parseCamera } from './config.js';
import { PANDA_FRONT_CAMERA, PANDA_WRIST_CAMERA } from './presets.js';

// The Panda tasks' real scenes (Rapier and MuJoCo), through the preset front and wrist cameras.

const isRobot = (r: number, g: number, b: number): boolean => r > g + 40 && g > b + 20;
const isGoal = (r: number, g: number, b: number): boolean => g > r + 25 && g > b + 25;

function mask(f: CameraFrame, test: (r: number, g: number, b: number) => boolean): Uint8Array {
  const m = new Uint8Array(f.width * f.height);
  for (let k = 0; k < m.length; k++) m[k] = test(f.rgb[3 * k] ?? 0, f.rgb[3 * k + 1] ?? 0, f.rgb[3 * k + 2] ?? 0) ? 1 : 0;
  return m;
}
const count = (m: Uint8Array): number => m.reduce((a, v) => a + v, 0);
function iou(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  let either = 0;
  a.forEach((v, k) => ((both += v & (b[k] ?? 0)), (either += v | (b[k] ?? 0))));
  return both / Math.max(1, either);
}

function shot(camera: Camera, scene: SceneState): CameraFrame {
  const f = camera.createFrame();
  camera.render(scene, f);
  return f;
}

const envs: Env[] = [];
async function sceneOf(id: string, engine: 'rapier' | 'mujoco', seed: number): Promise<{ env: Env; scene: () => SceneState }> {
  const env = await make(id, { options: { engine } });
  envs.push(env);
  await env.reset({ seed });
  const source = findSceneSource(env);
  if (!source) throw new Error(`${id} has no scene`);
  return { env, scene: () => source.scene() };
}
afterAll(async () => {
  for (const e of envs) await e.close();
});

describe('simulated cameras on the Panda scenes', () => {
  const front = new Camera(parseCamera(PANDA_FRONT_CAMERA));
  const wrist = new Camera(parseCamera(PANDA_WRIST_CAMERA));

  it('the front camera shows the arm and the goal where it is (PandaReach-v0, 64×64)', async () => {
    for (const seed of [0, 1, 2]) {
      const { scene } = await sceneOf('PandaReach-v0', 'rapier', seed);
      const s = scene();
      const f = shot(front, s);
      expect(count(mask(f, isRobot))).toBeGreaterThan(200);
      const g = s.shapes.findIndex((x) => x.name === 'goal');
      const at = front.project(s, [s.poses[7 * g] ?? 0, s.poses[7 * g + 1] ?? 0, s.poses[7 * g + 2] ?? 0]);
      expect(at).not.toBeNull();
      const goal = mask(f, isGoal);
      let near = 0;
      goal.forEach((v, k) => {
        if (v && at && Math.hypot((k % f.width) - at.col, Math.floor(k / f.width) - at.row) <= (front.focal * 0.05) / at.depth + 1.5) near++;
      });
      expect(near).toBeGreaterThanOrEqual(12); // a 5 cm sphere ~1.3 m away: ~3 px radius
      expect(near).toBe(count(goal)); // and no goal colour anywhere else
    }
  });

  it('the same frame on Rapier and MuJoCo (the scene, not the engine, is drawn)', async () => {
    for (const id of ['PandaReach-v0', 'PandaPush-v0']) {
      const a = shot(front, (await sceneOf(id, 'rapier', 3)).scene());
      const b = shot(front, (await sceneOf(id, 'mujoco', 3)).scene());
      let differ = 0;
      for (let k = 0; k < a.rgb.length; k += 3) if (Math.abs((a.rgb[k] ?? 0) - (b.rgb[k] ?? 0)) + Math.abs((a.rgb[k + 1] ?? 0) - (b.rgb[k + 1] ?? 0)) + Math.abs((a.rgb[k + 2] ?? 0) - (b.rgb[k + 2] ?? 0)) > 6) differ++;
      expect(differ).toBeLessThanOrEqual(Math.ceil(0.005 * a.width * a.height));
    }
  });

  it('the wrist camera rides on panda_hand: its fingers stay put in the frame while the arm moves', async () => {
    const { env, scene } = await sceneOf('PandaReach-v0', 'rapier', 4);
    const expert = envEntry('PandaReach-v0').scripted?.();
    if (!expert) throw new Error('PandaReach-v0 has no expert');
    const s0 = scene();
    const hand = (s: SceneState): number[] => {
      const k = s.shapes.findIndex((x) => x.name === 'panda_hand#0');
      return s.poses.slice(7 * k, 7 * k + 3);
    };
    const w0 = shot(wrist, s0);
    const f0 = shot(front, s0);
    let { obs } = await env.reset({ seed: 4 });
    for (let t = 0; t < 20; t++) obs = (await env.step(expert(obs))).obs;
    const s1 = scene();
    const [x0 = 0, y0 = 0, z0 = 0] = hand(s0);
    const [x1 = 0, y1 = 0, z1 = 0] = hand(s1);
    expect(Math.hypot(x1 - x0, y1 - y0, z1 - z0)).toBeGreaterThan(0.05);
    const w1 = shot(wrist, s1);
    const f1 = shot(front, s1);
    // The hand and its fingers alone: rigid with the camera, so drawn where they were.
    const handOnly = (s: SceneState): SceneState => {
      const isHand = (name: string): boolean => name.startsWith('panda_hand#');
      return { shapes: s.shapes.filter((x) => isHand(x.name)), poses: s.shapes.flatMap((x, k) => (isHand(x.name) ? s.poses.slice(7 * k, 7 * k + 7) : [])) };
    };
    const h0 = mask(shot(wrist, handOnly(s0)), isRobot);
    const h1 = mask(shot(wrist, handOnly(s1)), isRobot);
    expect(count(h0)).toBeGreaterThan(100); // the fingers and the hand fill the bottom of the frame
    expect(iou(h0, h1)).toBeGreaterThan(0.97);
    expect(iou(mask(f0, isRobot), mask(f1, isRobot))).toBeLessThan(0.8); // seen from the front, the arm moved
    expect(Buffer.from(w1.rgb).equals(Buffer.from(w0.rgb))).toBe(false); // and the world moved past the wrist camera
  });
});
