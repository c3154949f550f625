import { execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StepResult } from '../control/env.js';
import { SceneRecorder } from '../control/scene.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { announceTeleop } from '../experiment/teleop.js';
import { Intervention } from '../hil/intervention.js';
import { make } from '../tasks/registry.js';
import { waitFor } from '../test/wait-for.js';
import { writeArm } from '../test/mjcf-arm.js';
import { webTeleopEnv } from '../test/web-teleop-env.js';
import type { Dashboard, DashboardOptions } from './server.js';
import { JsonlTail } from './tail.js';
import { CHROMIUM, launchChromium, makeRun, openDashboard, type Closers } from './test-fixtures.js';

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const open = (runsDir: string, extra: Partial<DashboardOptions> = {}): Promise<Dashboard> => openDashboard(closers, runsDir, extra);

/** A page's socket: every message it got. */
async function client(d: Dashboard): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> {
  const url = new URL(d.url);
  const ws = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get('token')}`);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (m) => messages.push(JSON.parse(m.toString()) as Record<string, unknown>));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  closers.push(() => ws.close());
  return { ws, messages };
}

const records = (ms: Record<string, unknown>[], run: string): Record<string, unknown>[] => ms.filter((m) => m['op'] === 'records' && m['run'] === run).flatMap((m) => m['records'] as Record<string, unknown>[]);
const problems = (ms: Record<string, unknown>[]): string[] => ms.filter((m) => m['op'] === 'problem').map((m) => String(m['message']));

describe('JsonlTail', () => {
  it('returns whole lines as they are appended; a torn line waits for its newline; a shrunk file starts over; a giant line is skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-tail-'));
    const path = join(dir, 'm.jsonl');
    const tail = new JsonlTail(path, { maxLineBytes: 100 });
    expect((await tail.read()).missing).toBe(true);
    writeFileSync(path, 'a\nb\nhalf');
    expect((await tail.read()).lines).toEqual(['a', 'b']);
    appendFileSync(path, '-line\n');
    expect((await tail.read()).lines).toEqual(['half-line']);
    appendFileSync(path, `${'x'.repeat(300)}\nc\n`);
    const r = await tail.read();
    expect(r.lines).toEqual(['c']);
    expect(r.problems.join()).toMatch(/a line of .* skipped/);
    truncateSync(path, 2);
    const again = await tail.read();
    expect(again.reset).toBe(true);
    expect(again.lines).toEqual(['a']);
  });

  it('a huge file is shown from its end, read in bounded slices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-tail-'));
    const path = join(dir, 'm.jsonl');
    writeFileSync(path, Array.from({ length: 20_000 }, (_, i) => `{"type":"eval","step":${i}}`).join('\n') + '\n');
    const tail = new JsonlTail(path, { maxInitialBytes: 100_000, maxReadBytes: 30_000 });
    const first = await tail.read();
    expect(first.problems[0]).toMatch(/showing its last/);
    expect(first.more).toBe(true);
    const lines = [...first.lines];
    for (let r = await tail.read(); ; r = await tail.read()) {
      lines.push(...r.lines);
      if (!r.more) break;
    }
    expect(lines.at(-1)).toBe('{"type":"eval","step":19999}');
    expect(lines.length).toBeGreaterThan(3000);
    expect(lines.length).toBeLessThan(5000);
    expect(lines.every((l) => l.startsWith('{"type"'))).toBe(true); // no torn first line
  });
});

describe('roborl dashboard server', () => {
  it('refuses every route without the token; the run list shows config, state, steps, last and best evaluation', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    makeRun(root, 'sac', 0, [-50, -20, -30]);
    makeRun(root, 'sac', 1, [-40], 'running', 2 ** 22 + 12345); // a pid that does not exist: killed
    const d = await open(root);
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
    const base = d.url.replace(/\?token=.*/, '');
    for (const path of ['', 'app.js', 'api/runs', 'uplot.css', 'teleop/sac-0/']) {
      expect((await fetch(`${base}${path}`)).status).toBe(401);
      expect((await fetch(`${base}${path}?token=wrong`)).status).toBe(401);
    }
    const ws = new WebSocket(`${base.replace('http', 'ws')}ws?token=wrong`);
    const refused = await new Promise<string>((r) => ws.once('unexpected-response', (_q, res) => r(String(res.statusCode))).once('open', () => r('open')));
    expect(refused).toBe('401');
    expect(d.stats.refused).toBeGreaterThanOrEqual(11);

    const token = new URL(d.url).searchParams.get('token');
    expect((await fetch(`${base}app.js?token=${token}`)).status).toBe(200);
    const { runs } = (await (await fetch(`${base}api/runs?token=${token}`)).json()) as { runs: { id: string; name: string; env: string; state: string; step: number; steps: number; lastEval: { returnMean: number }; bestEval: { returnMean: number; step: number } }[] };
    expect(runs.map((r) => [r.id, r.name, r.env, r.state, r.step, r.steps])).toEqual([
      ['sac-0', 'sac', 'PandaReach-v0', 'finished', 300, 300],
      ['sac-1', 'sac', 'PandaReach-v0', 'killed', 100, 100],
    ]);
    expect(runs[0]?.lastEval.returnMean).toBe(-30);
    expect(runs[0]?.bestEval).toMatchObject({ returnMean: -20, step: 200 });
  });

  it('streams metrics as the file grows; a corrupt line, a huge file, a bad message and a deleted run folder are problems in the page, and the server goes on', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const a = makeRun(root, 'sac', 0, [-50, -20]);
    const big = makeRun(root, 'big', 0, []);
    writeFileSync(join(big, 'metrics.jsonl'), Array.from({ length: 40_000 }, (_, i) => JSON.stringify({ type: 'episode', step: i, return: -i })).join('\n') + '\n');
    const d = await open(root, { tail: { maxInitialBytes: 200_000 } });
    const c = await client(d);
    c.ws.send(JSON.stringify({ op: 'watch', runs: ['sac-0', 'big-0', 'nope'] }));
    await waitFor('first records', () => records(c.messages, 'sac-0').length === 2, 10_000);
    expect(problems(c.messages).join('\n')).toMatch(/no run nope/);
    await waitFor('huge file', () => problems(c.messages).some((p) => /showing its last/.test(p)), 10_000);
    await waitFor('the huge file read to its end', () => records(c.messages, 'big-0').at(-1)?.['step'] === 39_999, 10_000);

    appendFileSync(join(a, 'metrics.jsonl'), `${JSON.stringify({ type: 'eval', step: 300, returnMean: -5, successRate: 1 })}\n{"type":"eval","ste\n`);
    await waitFor('the appended record', () => records(c.messages, 'sac-0').length === 3, 10_000);
    await waitFor('the corrupt line reported', () => problems(c.messages).some((p) => /line skipped: not JSON/.test(p)), 10_000);

    c.ws.send('not json');
    c.ws.send(JSON.stringify({ op: 'scene', run: 'sac-0', file: '../../etc/passwd' }));
    await waitFor('bad messages answered', () => problems(c.messages).filter((p) => /refused a message|no recording/.test(p)).length === 2, 10_000);

    rmSync(a, { recursive: true });
    await waitFor('the deleted run reported', () => problems(c.messages).some((p) => /metrics.jsonl is gone/.test(p)), 10_000);
    // Still serving: a new page gets the run list and the other run's records.
    const token = new URL(d.url).searchParams.get('token');
    const res = await fetch(`${d.url.replace(/\?token=.*/, '')}api/runs?token=${token}`);
    expect(((await res.json()) as { runs: { id: string }[] }).runs.map((r) => r.id)).toEqual(['big-0']);
    const c2 = await client(d);
    c2.ws.send(JSON.stringify({ op: 'watch', runs: ['big-0'] }));
    await waitFor('records on a new page', () => records(c2.messages, 'big-0').length > 0, 10_000);
  });
});

const browser = (): ReturnType<typeof launchChromium> => launchChromium(closers);

describe('the dashboard in real headless Chromium', () => {
  beforeAll(() => {
    if (!existsSync(CHROMIUM)) throw new Error(`these tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium); .ci/run installs it`);
  });

  it('loads with the token and not without; a curve gains points when a line is appended; the 3D view draws the recorded Panda', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const run = makeRun(root, 'reach', 0, [-40, -30, -25]);
    // A real recording: PandaReach-v0 driven by a fixed action through the scene recorder.
    const env = new SceneRecorder(await make('PandaReach-v0'));
    closers.push(() => env.close());
    env.recordNext(join(run, 'scenes', 'eval-000000300.scene.jsonl'), 1);
    await env.reset({ seed: 3 });
    let frames = 1;
    for (let done = false; !done; frames++) {
      const r = await env.step(Float32Array.of(0.3, 0.2, 0, -0.2, 0, 0.3, 0));
      done = r.terminated || r.truncated || frames >= 50;
    }
    const d = await open(root);
    const b = await browser();
    const stranger = await b.newPage();
    expect((await stranger.goto(d.url.replace(/token=.*/, 'token=nope')))?.status()).toBe(401);

    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url);
    await page.locator('#link', { hasText: 'live' }).waitFor();
    const returnChart = page.locator('.chart[data-metric="eval.returnMean"]');
    await expect.poll(() => returnChart.getAttribute('data-points'), { timeout: 30_000 }).toBe('3');
    appendFileSync(join(run, 'metrics.jsonl'), `${JSON.stringify({ type: 'eval', step: 400, returnMean: -12, successRate: 1 })}\n`);
    await expect.poll(() => returnChart.getAttribute('data-points'), { timeout: 30_000 }).toBe('4');
    await page.screenshot({ path: join(root, 'curves.png') });

    await page.click('button[data-tab=scene]');
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-frames'), { timeout: 30_000 }).toBe(String(frames));
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-shapes')).toBe('13'); // 11 link shapes, the table, the goal
    // Scrub to the last frame, then look at the pixels.
    await page.locator('#scrub').fill(String(frames - 1));
    await page.waitForTimeout(300);
    const shot = await page.locator('#scene-canvas').screenshot();
    const { pixels, width } = await decodePng(page, shot);
    const colours = new Set<number>();
    for (let i = 0; i < pixels.length; i += 4 * 97) colours.add(((pixels[i] as number) << 16) | ((pixels[i + 1] as number) << 8) | (pixels[i + 2] as number));
    expect(colours.size).toBeGreaterThan(20); // not blank
    // Where three.js projects the forearm (link 4) and the hand, the pixels are the robot's orange.
    for (const link of ['panda_link4#0', 'panda_hand#0']) {
      const at = (await page.evaluate((n) => (window as unknown as { roborlScene: { project(n: string): { x: number; y: number } | null } }).roborlScene.project(n), link)) as { x: number; y: number };
      const i = 4 * (Math.round(at.y) * width + Math.round(at.x));
      const [r, g, bl] = [pixels[i] as number, pixels[i + 1] as number, pixels[i + 2] as number];
      expect({ link, orange: r > 120 && r > g + 30 && g > bl + 20 }).toEqual({ link, orange: true });
    }
    await page.screenshot({ path: join(root, 'scene.png') });
    expect(errors).toEqual([]);
  }, 180_000); // 82 s measured at load average 20 on 2 cores (SwiftShader draws the Panda)

  it('the 3D view draws an MJCF model\'s meshes (MuJoCo engine): its links are their triangles, in the robot\'s colour', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const run = makeRun(root, 'arm', 0, [-40]);
    const env = new SceneRecorder(await make('UrdfReach-v0', { options: { engine: 'mujoco', mjcf: writeArm(join(root, 'arm-model')), tip: 'tool' } }));
    closers.push(() => env.close());
    env.recordNext(join(run, 'scenes', 'eval-000000100.scene.jsonl'), 1);
    await env.reset({ seed: 1 });
    for (let t = 0; t < 3; t++) await env.step(Float32Array.of(0.5, -0.5));
    const d = await open(root);
    const page = await (await browser()).newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url);
    await page.click('button[data-tab=scene]');
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-frames'), { timeout: 30_000 }).toBe('4');
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-shapes')).toBe('4'); // base, the two mesh links, the cube
    await page.waitForTimeout(300);
    const { pixels, width } = await decodePng(page, await page.locator('#scene-canvas').screenshot());
    for (const link of ['upper#0', 'fore#0']) {
      const at = (await page.evaluate((n) => (window as unknown as { roborlScene: { project(n: string): { x: number; y: number } | null } }).roborlScene.project(n), link)) as { x: number; y: number };
      const i = 4 * (Math.round(at.y) * width + Math.round(at.x));
      const [r, g, bl] = [pixels[i] as number, pixels[i + 1] as number, pixels[i + 2] as number];
      expect({ link, orange: r > 120 && r > g + 30 && g > bl + 20 }).toEqual({ link, orange: true });
    }
    expect(errors).toEqual([]);
  }, 180_000);

  it('the teleop panel relays a person’s command to the env of a run started with --teleop web, and shows its arm live beside the controls', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const run = makeRun(root, 'hil', 0, [-40], 'running');
    const { env } = await webTeleopEnv('hil');
    closers.push(() => env.close());
    const unannounce = announceTeleop(env, run);
    expect(unannounce).not.toBeNull();
    const d = await open(root);
    const b = await browser();
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(d.url);
    await page.click('button[data-tab=teleop]');
    const frame = page.frameLocator('#teleop-frame');
    await frame.locator('#link', { hasText: 'connected' }).waitFor({ timeout: 30_000 });
    await env.reset({ seed: 1 });
    // The env steps at its own pace while the person takes over and holds "r" (joint 4 +).
    const steps: StepResult[] = [];
    let stepping = true;
    const loop = (async () => {
      while (stepping) {
        const r = await env.step(new Float32Array(7));
        steps.push(r);
        if (r.terminated || r.truncated) await env.reset();
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    await frame.locator('#takeover').click();
    await page.keyboard.down('r');
    await waitFor('a driven step', () => steps.some((s) => s.info.intervention?.engaged && (s.info.intervention.human?.[3] ?? 0) > 0), 15_000);
    await page.keyboard.up('r');
    // The panel shows the run's arm live, beside the person's controls.
    const canvas = frame.locator('#scene-canvas');
    await expect.poll(() => canvas.getAttribute('data-shapes'), { timeout: 30_000 }).toBe('13');
    const drawn = Number(await canvas.getAttribute('data-drawn'));
    await expect.poll(async () => Number(await canvas.getAttribute('data-drawn')), { timeout: 30_000 }).toBeGreaterThan(drawn + 3);
    const [view, controls] = [await canvas.boundingBox(), await frame.locator('#sliders').boundingBox()];
    expect(view && controls && view.x + view.width <= controls.x && view.y < controls.y + controls.height).toBe(true);
    stepping = false;
    await loop;
    const driven = steps.filter((s) => s.info.intervention?.engaged);
    expect(driven.length).toBeGreaterThan(0);
    expect(findWrapper(env, Intervention)?.device.name).toBe('web');
    expect(d.stats.relays).toBe(1);
    unannounce?.();
    expect(existsSync(join(run, 'teleop.json'))).toBe(false);
  }, 90_000);
});

describe('the README path: train the quick start, then roborl dashboard', () => {
  it('shows the run\'s curves and the pendulum moving; Ctrl-C stops the dashboard', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-newcomer-'));
    const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
    // The quick start's config, shortened (its full run is measured by npm run bench -- quickstart).
    const config = readFileSync(fileURLToPath(new URL('../configs/pendulum-sac-quick.yaml', import.meta.url)), 'utf8').replace(/steps: 6000/, 'steps: 1200').replace(/evalEvery: 2000/, 'evalEvery: 600').replace(/evalEpisodes: 10/, 'evalEpisodes: 2').replace(/learningStarts: 500/, 'learningStarts: 200');
    writeFileSync(join(root, 'quick.yaml'), config);
    await promisify(execFile)(process.execPath, [bin, 'train', join(root, 'quick.yaml'), '--run-dir', join(root, 'runs', 'quick'), '--quiet'], { timeout: 120_000 });
    const server = spawn(process.execPath, [bin, 'dashboard', join(root, 'runs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => server.once('exit', r));
    closers.push(() => void server.kill('SIGKILL'));
    let printed = '';
    server.stdout.on('data', (d: Buffer) => (printed += d.toString()));
    await waitFor('the dashboard\'s address', () => /http:\/\/127\.0\.0\.1:\d+\/\?token=\w+/.test(printed), 60_000);
    const url = /http:\/\/\S+/.exec(printed)?.[0] as string;

    const b = await browser();
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await expect.poll(() => page.locator('.chart[data-metric="eval.returnMean"]').getAttribute('data-points'), { timeout: 30_000 }).toBe('2');
    await expect.poll(() => page.locator('.chart[data-metric="episode.return"]').getAttribute('data-points'), { timeout: 30_000 }).toBe('6');
    await page.click('button[data-tab=scene]');
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-frames'), { timeout: 30_000 }).toBe('201');
    // Playing: the rod moves on the canvas. (Without "follow live" a finished recording loops, so
    // a slow machine that reached its last frame before this look still sees it move.)
    await page.uncheck('#follow');
    const rod = async (): Promise<{ x: number; y: number }> => (await page.evaluate(() => (window as unknown as { roborlScene: { project(n: string): { x: number; y: number } | null } }).roborlScene.project('rod'))) as { x: number; y: number };
    const first = await rod();
    await expect.poll(async () => { const now = await rod(); return Math.hypot(now.x - first.x, now.y - first.y); }, { timeout: 30_000 }).toBeGreaterThan(5);
    server.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 180_000);
});

/** Decodes a PNG in the page itself (no image library here). */
async function decodePng(page: import('playwright-core').Page, png: Buffer): Promise<{ pixels: number[]; width: number }> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d') as CanvasRenderingContext2D;
    ctx.drawImage(img, 0, 0);
    return { pixels: Array.from(ctx.getImageData(0, 0, img.width, img.height).data), width: img.width };
  }, png.toString('base64'));
}
