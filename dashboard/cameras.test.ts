import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { SceneRecorder, type SceneShape, type SceneState } from '../control/scene.js';
import { Camera } from '../sim/camera/camera.js';
import { parseCamera } from '../sim/camera/config.js';
import { make } from '../tasks/registry.js';
import { writeArm } from '../test/mjcf-arm.js';
import { CHROMIUM, launchChromium, makeRun, openDashboard, type Closers } from './test-fixtures.js';

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const FILE = 'eval-000000300.scene.jsonl';
const STEPS = 12;

/**
 * A camera run as train writes it (issue 23): config.yaml with env.options.cameras (the front
 * preset and a 32×24 wrist camera) and a real recording of PandaReach-v0 whose arm moves.
 */
async function cameraRun(root: string): Promise<string> {
  const dir = makeRun(root, 'pix', 0, [-40, -30, -25]);
  writeFileSync(join(dir, 'config.yaml'), 'name: pix\nenv:\n  id: PandaReach-v0\n  options:\n    state: proprio\n    cameras:\n      - front\n      - { name: wrist, width: 32, height: 24, fovDeg: 70, pose: { kind: attached, link: panda_hand, position: [0.06, 0, 0], lookAt: [0, 0, 0.18], up: [1, 0, 0] } }\nseed: 0\nalgo: { kind: sac }\ntrain: { steps: 300 }\n');
  const env = new SceneRecorder(await make('PandaReach-v0'));
  closers.push(() => env.close());
  env.recordNext(join(dir, 'scenes', FILE), 1);
  await env.reset({ seed: 3 });
  for (let i = 0; i < STEPS; i++) await env.step(Float32Array.of(1, 0.8, 0, -0.8, 0, 1, 0));
  return dir;
}

/** The dashboard's address for `path` with its token, and the token itself. */
function address(url: string, path: string): string {
  const u = new URL(url);
  return `http://${u.host}${path}${path.includes('?') ? '&' : '?'}token=${u.searchParams.get('token')}`;
}

async function pixels(png: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

describe("the dashboard's camera frames (issue 23)", () => {
  it('lists a run\'s cameras and serves each frame as a PNG rendered from the recording; malformed queries get 400 and the server goes on', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-cam-'));
    await cameraRun(root);
    makeRun(root, 'plain', 0, [-10]);
    const d = await openDashboard(closers, root);
    expect(new URL(d.url).hostname).toBe('127.0.0.1');
    const list = await fetch(address(d.url, '/api/cameras?run=pix-0'));
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ cameras: [{ name: 'front', width: 64, height: 64 }, { name: 'wrist', width: 32, height: 24 }] });
    expect(await (await fetch(address(d.url, '/api/cameras?run=plain-0'))).json()).toEqual({ cameras: [] });

    const frame = async (t: number, camera = 'front'): Promise<Buffer> => {
      const res = await fetch(address(d.url, `/api/camera?run=pix-0&file=${FILE}&episode=0&t=${t}&camera=${camera}`));
      expect(res.status, await res.clone().text()).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      return Buffer.from(await res.arrayBuffer());
    };
    const first = await pixels(await frame(0));
    expect([first.width, first.height]).toEqual([64, 64]);
    const colours = new Set<number>();
    for (let i = 0; i < first.data.length; i += 3) colours.add((first.data[i]! << 16) | (first.data[i + 1]! << 8) | first.data[i + 2]!);
    expect(colours.size).toBeGreaterThan(10); // the arm, the table, the goal: not a blank frame
    const last = await pixels(await frame(STEPS));
    let changed = 0;
    for (let i = 0; i < first.data.length; i++) if (first.data[i] !== last.data[i]) changed++;
    expect(changed).toBeGreaterThan(100); // the arm moved between the two steps
    expect((await pixels(await frame(STEPS, 'wrist'))).width).toBe(32);

    const status = async (path: string): Promise<number> => (await fetch(address(d.url, path))).status;
    for (const bad of [
      `/api/camera?run=pix-0&file=${FILE}&episode=0&t=-1&camera=front`,
      `/api/camera?run=pix-0&file=${FILE}&episode=0&t=1e3&camera=front`,
      `/api/camera?run=pix-0&file=${FILE}&episode=x&t=1&camera=front`,
      `/api/camera?run=pix-0&file=${FILE}&episode=0&camera=front`,
      `/api/camera?run=pix-0&file=..%2F..%2Fetc%2Fpasswd&episode=0&t=1&camera=front`,
      `/api/camera?run=pix-0&file=${FILE}&episode=0&t=1&camera=%3Cimg%20src%3Dx%3E`,
      `/api/camera?run=pix-0&run=plain-0&file=${FILE}&episode=0&t=1&camera=front`,
      `/api/camera?run=pix-0&file=${FILE}&episode=0&t=99999999999&camera=front`,
      '/api/cameras',
    ])
      expect({ bad, status: await status(bad) }).toEqual({ bad, status: 400 });
    expect(await status(`/api/camera?run=pix-0&file=${FILE}&episode=0&t=${STEPS + 1}&camera=front`)).toBe(404); // no such step
    expect(await status(`/api/camera?run=pix-0&file=${FILE}&episode=0&t=1&camera=side`)).toBe(404); // no such camera
    expect(await status(`/api/camera?run=plain-0&file=${FILE}&episode=0&t=1&camera=front`)).toBe(404); // a run without cameras
    expect(await status(`/api/camera?run=nope&file=${FILE}&episode=0&t=1&camera=front`)).toBe(404);
    expect((await fetch(`${address(d.url, '/api/cameras?run=pix-0').replace(/token=.*/, 'token=nope')}`)).status).toBe(401);
    expect(d.stats.badRequests).toBe(9);
    expect((await d.listRuns()).length).toBe(2); // still serving
  }, 120_000);

  it('an MJCF model\'s meshes (MuJoCo engine) are in its camera frames: the PNG is the camera\'s render of the recorded scene, meshes and all', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-cam-'));
    const dir = makeRun(root, 'arm', 0, [-40]);
    const model = writeArm(join(root, 'arm-model'));
    const side = { name: 'side', width: 64, height: 64, fovDeg: 60, pose: { kind: 'fixed' as const, position: [0, -0.8, 0.35] as [number, number, number], lookAt: [0, 0, 0.35] as [number, number, number] } };
    writeFileSync(join(dir, 'config.yaml'), `name: arm\nenv:\n  id: UrdfReach-v0\n  options:\n    engine: mujoco\n    mjcf: ${model}\n    tip: tool\n    cameras:\n      - ${JSON.stringify(side)}\nseed: 0\nalgo: { kind: sac }\ntrain: { steps: 300 }\n`);
    const env = new SceneRecorder(await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: model, tip: 'tool' } }));
    closers.push(() => env.close());
    env.recordNext(join(dir, 'scenes', FILE), 1);
    await env.reset({ seed: 1 });
    for (let t = 0; t < 3; t++) await env.step(Float32Array.of(0.5, -0.5));
    const d = await openDashboard(closers, root);
    const res = await fetch(address(d.url, `/api/camera?run=arm-0&file=${FILE}&episode=0&t=2&camera=side`));
    expect(res.status, await res.clone().text()).toBe(200);
    const served = await pixels(Buffer.from(await res.arrayBuffer()));
    // The same camera over the recorded frame, here: with its meshes, and without them.
    const lines = readFileSync(join(dir, 'scenes', FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; t?: number; shapes?: SceneShape[]; poses?: number[] });
    const shapes = lines[0]!.shapes!;
    const poses = lines.find((l) => l.type === 'frame' && l.t === 2)!.poses!;
    const camera = new Camera(parseCamera(side));
    const draw = (scene: SceneState): Uint8Array => {
      const out = camera.createFrame();
      camera.render(scene, out);
      return out.rgb;
    };
    const withMeshes = draw({ shapes, poses });
    const keep = shapes.map((x) => x.kind !== 'mesh');
    const without = draw({ shapes: shapes.filter((_, i) => keep[i]), poses: poses.filter((_, i) => keep[Math.floor(i / 7)]) });
    expect(Buffer.from(served.data).equals(Buffer.from(withMeshes))).toBe(true);
    let meshPixels = 0;
    for (let k = 0; k < withMeshes.length; k += 3) if (withMeshes[k] !== without[k]) meshPixels++;
    expect(meshPixels).toBeGreaterThan(80);
  }, 120_000);

  it('the scene tab shows each camera beside the 3D view in Chromium: frames that are not blank and change with the scene', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`this test needs Debian's chromium at ${CHROMIUM}`);
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-cam-'));
    await cameraRun(root);
    const d = await openDashboard(closers, root);
    const b = await launchChromium(closers);
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url);
    await page.locator('#link', { hasText: 'live' }).waitFor();
    await page.click('button[data-tab=scene]');
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-frames'), { timeout: 60_000 }).toBe(String(STEPS + 1));
    await page.click('#play'); // pause, then scrub
    const front = page.locator('#scene-cameras canvas[data-camera=front]');
    const wrist = page.locator('#scene-cameras canvas[data-camera=wrist]');
    const read = (camera: string): Promise<number[]> =>
      page.evaluate((name) => {
        const c = document.querySelector(`#scene-cameras canvas[data-camera=${name}]`);
        if (!(c instanceof HTMLCanvasElement)) return [];
        return Array.from(c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? []);
      }, camera);
    await page.locator('#scrub').fill('0');
    await expect.poll(() => front.getAttribute('data-frame'), { timeout: 30_000 }).toBe('0:0');
    await expect.poll(() => wrist.getAttribute('data-frame'), { timeout: 30_000 }).toBe('0:0');
    const atStart = await read('front');
    expect(atStart.length).toBe(64 * 64 * 4);
    const colours = new Set<number>();
    for (let i = 0; i < atStart.length; i += 4) colours.add((atStart[i]! << 16) | (atStart[i + 1]! << 8) | atStart[i + 2]!);
    expect(colours.size).toBeGreaterThan(10); // not blank
    await page.locator('#scrub').fill(String(STEPS));
    await expect.poll(() => front.getAttribute('data-frame'), { timeout: 30_000 }).toBe(`0:${STEPS}`);
    const atEnd = await read('front');
    let changed = 0;
    for (let i = 0; i < atEnd.length; i++) if (atEnd[i] !== atStart[i]) changed++;
    expect(changed).toBeGreaterThan(100); // the arm moved, and the camera saw it
    await expect.poll(() => wrist.getAttribute('data-frame'), { timeout: 30_000 }).toBe(`0:${STEPS}`);
    await page.screenshot({ path: join(root, 'scene-cameras.png') });
    expect(errors).toEqual([]);
  }, 180_000);
});
