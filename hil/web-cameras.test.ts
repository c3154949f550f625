import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { validateConfig } from '../experiment/config.js';
import { makeTeleopEnv } from '../experiment/teleop.js';
import { SimCamera } from '../robots/emulator/sim-camera.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import { RosbridgeServer } from '../robots/ros/rosbridge-server.js';
import { waitFor } from '../test/wait-for.js';
import type { WebTeleop } from './devices/web.js';
import { Intervention } from './intervention.js';

const CHROMIUM = '/usr/bin/chromium';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of closers.splice(0).reverse()) await f();
});

/**
 * A person at the teleop page of a robot with a camera (issue 23): the simulated arm over
 * rosbridge on 127.0.0.1 publishing its front camera (JPEG 64×64, resized to 48×48 by the robot
 * YAML), the page as `train --robot … --teleop web` builds it.
 */
async function robotWithCameraPage(options: Record<string, unknown> = {}): Promise<{ device: WebTeleop; env: Awaited<ReturnType<typeof makeTeleopEnv>>['env'] }> {
  const robot = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz: 100 });
  void robot.run();
  const server = await RosbridgeServer.start(robot, { port: 0, cameras: [new SimCamera(robot, { width: 64, height: 64, hz: 20 })] });
  closers.push(async () => {
    await server.close();
    await robot.close();
  });
  const yaml = join(mkdtempSync(join(tmpdir(), 'roborl-web-cam-')), 'arm.yaml');
  writeFileSync(yaml, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\nstaleAfterMs: 2000\ncameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 48, height: 48, maxAgeMs: 5000 }\n`);
  const config = validateConfig({ name: 'web-cam', env: { id: 'PandaReach-v0', options }, algo: { kind: 'sac' }, train: { steps: 10 }, hil: { device: 'web', web: { port: 0 } } }, 'test');
  if (!config.hil) throw new Error('no hil section');
  const stderr = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write; // the page's address, not for the test output
  const made = await makeTeleopEnv(config, config.hil, yaml, () => {}).finally(() => (process.stderr.write = stderr));
  closers.push(() => made.env.close());
  const device = (findWrapper(made.env, Intervention) as Intervention).device as WebTeleop;
  return { device, env: made.env };
}

/** Steps the env in the background (the arm turning at its base) until the test ends. */
function keepStepping(env: Awaited<ReturnType<typeof makeTeleopEnv>>['env'], direction: { sign: number }): void {
  let stepping = true;
  const loop = (async () => {
    await env.reset({ seed: 2 });
    while (stepping) {
      const r = await env.step(Float32Array.of(direction.sign, 0, 0, 0, 0, 0, 0));
      if (r.terminated || r.truncated) await env.reset();
    }
  })();
  closers.push(async () => {
    stepping = false;
    await loop.catch(() => undefined);
  });
}

/** A client of the page: every message it sends, once its hello has come. */
async function pageMessages(device: WebTeleop): Promise<Record<string, unknown>[]> {
  const u = new URL(device.url);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  closers.push(async () => void ws.terminate());
  await waitFor('hello', () => messages.length > 0, 10_000, 10);
  return messages;
}

describe('the teleop page shows the robot\'s cameras (issue 23)', () => {
  it('hello names the robot\'s cameras; their newest frames follow as PNGs of the configured size', async () => {
    const { device, env } = await robotWithCameraPage();
    const messages = await pageMessages(device);
    expect(messages[0]).toMatchObject({ op: 'hello', cameras: [{ name: 'front', width: 48, height: 48 }] });
    keepStepping(env, { sign: 0.5 });
    await waitFor('camera frames', () => messages.filter((m) => m['op'] === 'camera').length >= 2, 60_000, 20);
    const frame = messages.find((m) => m['op'] === 'camera') as { name: string; png: string };
    expect(frame.name).toBe('front');
    const { data, info } = await sharp(Buffer.from(frame.png, 'base64')).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([48, 48]);
    expect(new Set(data).size).toBeGreaterThan(10); // a picture, not a blank frame
  }, 120_000);

  it('a camera config\'s person drives its state stack on the robot (proprio state, 7 joint deltas); the page still shows the robot\'s cameras', async () => {
    const { device, env } = await robotWithCameraPage({ state: 'proprio', cameras: ['front'] });
    expect(env.spec.observationSpace.kind).toBe('box');
    expect(env.spec.observationNames?.slice(0, 2)).toEqual(['q1', 'q2']);
    expect(env.spec.observationNames).not.toContain('goal x');
    const messages = await pageMessages(device);
    expect(messages[0]).toMatchObject({ op: 'hello', cameras: [{ name: 'front', width: 48, height: 48 }] });
  }, 60_000);

  it('in Chromium the camera is drawn beside the scene, not blank, and changes as the arm moves', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`this test needs Debian's chromium at ${CHROMIUM}`);
    const { device, env } = await robotWithCameraPage();
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    closers.push(() => browser.close());
    const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(device.url);
    await tab.locator('#link', { hasText: 'connected' }).waitFor({ timeout: 30_000 });
    const direction = { sign: 1 };
    keepStepping(env, direction);
    const camera = tab.locator('#cameras canvas[data-camera=front]');
    await expect.poll(() => camera.getAttribute('data-frame'), { timeout: 60_000 }).not.toBeNull();
    const read = (): Promise<number[]> =>
      tab.evaluate(() => {
        const c = document.querySelector('#cameras canvas[data-camera=front]');
        if (!(c instanceof HTMLCanvasElement)) return [];
        return Array.from(c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? []);
      });
    const first = await read();
    expect(first.length).toBe(48 * 48 * 4);
    const colours = new Set<number>();
    for (let i = 0; i < first.length; i += 4) colours.add((first[i]! << 16) | (first[i + 1]! << 8) | first[i + 2]!);
    expect(colours.size).toBeGreaterThan(10); // not blank
    // The arm keeps turning at its base: a later frame differs.
    await expect
      .poll(
        async () => {
          const now = await read();
          let changed = 0;
          for (let i = 0; i < now.length; i++) if (now[i] !== first[i]) changed++;
          return changed;
        },
        { timeout: 60_000 },
      )
      .toBeGreaterThan(100);
    await tab.screenshot({ path: join(tmpdir(), 'roborl-teleop-cameras.png') });
    expect(errors).toEqual([]);
  }, 180_000);
});
