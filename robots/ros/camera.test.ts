import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { decode as decodeCbor } from 'cbor2';
import { cleanup, until } from '../../test/robot-fixtures.js';
import { SimulatedRobot } from '../emulator/sim-robot.js';
import { SimCamera, type SimCameraOptions } from '../emulator/sim-camera.js';
import { encodeJpeg, encodePng } from '../camera-decode.js';
import type { CameraConfig } from '../camera.js';
import { RobotConfigSchema } from '../config.js';
import { robotTask } from '../task.js';
import { rosTime } from './messages.js';
import { uint8Field } from './camera-messages.js';
import { RosbridgeServer } from './rosbridge-server.js';
import { RosRobotEnv } from './ros-env.js';

const COMMAND = { topic: '/joint_group_position_controller/command', type: 'std_msgs/Float64MultiArray' } as const;

/** The simulated arm behind rosbridge, free-running, with the given cameras publishing on their own timers. */
async function servedWithCameras(cams: SimCameraOptions[]): Promise<{ robot: SimulatedRobot; server: RosbridgeServer; cameras: SimCamera[] }> {
  const robot = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz: 100 });
  void robot.run();
  const cameras = cams.map((c) => new SimCamera(robot, c));
  const server = await RosbridgeServer.start(robot, { port: 0, cameras });
  cleanup.push(async () => {
    await server.close();
    await robot.close();
  });
  return { robot, server, cameras };
}

async function connect(url: string, cameras: CameraConfig[], extra: { connectTimeoutMs?: number; log?: (l: string) => void } = {}): Promise<RosRobotEnv> {
  const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url, jointStateTopic: '/joint_states', command: COMMAND, reconnectMinMs: 50, cameras, connectTimeoutMs: extra.connectTimeoutMs ?? 10_000 }, { log: extra.log });
  cleanup.push(() => env.close());
  return env;
}

/** Mean absolute difference of two byte images. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (b[i] as number));
  return s / a.length;
}

/** Box-filter downsampling by a whole factor (what an area resize gives). */
function boxDown(rgb: Uint8Array, w: number, h: number, f: number): Uint8Array {
  const [W, H] = [w / f, h / f];
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += rgb[3 * ((y * f + dy) * w + x * f + dx) + c] as number;
        out[3 * (y * W + x) + c] = Math.round(s / (f * f));
      }
  return out;
}

// Generous maxAgeMs where staleness is not what a test is about: the tests run with both cores busy.
const FRONT: CameraConfig = { name: 'front', topic: '/camera/image_raw/compressed', type: 'compressed', width: 64, height: 64, maxAgeMs: 2000 };
const SIDE: CameraConfig = { name: 'side', topic: '/side/image_raw', type: 'raw', width: 32, height: 24, maxAgeMs: 2000 };

describe('robot cameras over rosbridge', () => {
  it('frames arrive decoded at the configured size: a 64×64 JPEG as sent, a 128×96 rgb8 image area-resized to 32×24 with its colours in order', async () => {
    const { server, cameras } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }, { type: 'raw', topic: SIDE.topic, width: 128, height: 96, hz: 10 }]);
    const env = await connect(server.url, [FRONT, SIDE]);
    expect(env.cameras.map((c) => c.name)).toEqual(['front', 'side']);
    const front = env.cameraFrame('front');
    const side = env.cameraFrame('side');
    expect(front).not.toBeNull();
    expect(side).not.toBeNull();
    expect([front!.width, front!.height, front!.rgb.length]).toEqual([64, 64, 64 * 64 * 3]);
    expect([side!.width, side!.height, side!.rgb.length]).toEqual([32, 24, 32 * 24 * 3]);
    // The arm stands still before any command, so the rendered scene is the frame that was sent.
    expect(meanAbsDiff(front!.rgb, cameras[0]!.render())).toBeLessThan(6); // JPEG loss only
    expect(meanAbsDiff(side!.rgb, boxDown(cameras[1]!.render(), 128, 96, 4))).toBeLessThan(6);
    // Stamps: sensor time of a frame rendered just now, and newer frames keep coming.
    expect(Math.abs(front!.stampMs - Date.now())).toBeLessThan(2000);
    const seq = front!.seq;
    expect(await until(() => (env.cameraFrame('front')?.seq ?? 0) > seq + 2, 5000)).toBe(true);
    // A dropped link: roslib resubscribes after the reconnect and frames come again.
    server.dropClients();
    expect(await until(() => env.stats.reconnects === 1, 10_000)).toBe(true);
    const after = env.cameraFrame('front')!.seq;
    expect(await until(() => (env.cameraFrame('front')?.seq ?? 0) > after + 2, 10_000)).toBe(true);
    expect(() => env.cameraFrame('wrist')).toThrow(/no camera "wrist" \(this robot has front, side\)/);
    expect(env.stats.cameras?.['front']?.dropped).toBe(0);
  });

  it('with compression: cbor, frames come as rosbridge sends them — binary CBOR, the image a byte string — and decode the same', async () => {
    const { server } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }]);
    // A raw client: the wire as rosbridge's CBOR encoding has it.
    const ws = new WebSocket(server.url);
    cleanup.push(() => ws.close());
    await new Promise((r) => ws.once('open', r));
    const got = new Promise<{ data: Buffer; isBinary: boolean }>((r) => ws.once('message', (data: Buffer, isBinary: boolean) => r({ data, isBinary })));
    ws.send(JSON.stringify({ op: 'subscribe', topic: FRONT.topic, type: 'sensor_msgs/CompressedImage', compression: 'cbor' }));
    const { data, isBinary } = await got;
    expect(isBinary).toBe(true);
    const m: unknown = decodeCbor(new Uint8Array(data));
    expect(m).toMatchObject({ op: 'publish', topic: FRONT.topic, msg: { format: 'jpeg' } });
    const bytes = (m as { msg: { data: unknown } }).msg.data;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from((bytes as Uint8Array).subarray(0, 3))).toEqual([0xff, 0xd8, 0xff]);
    // roslib decodes CBOR itself; the env gets a Uint8Array and the same frames.
    const env = await connect(server.url, [{ ...FRONT, compression: 'cbor' }]);
    expect(env.cameraFrame('front')!.rgb.length).toBe(64 * 64 * 3);
    const seq = env.cameraFrame('front')!.seq;
    expect(await until(() => env.cameraFrame('front')!.seq > seq + 2, 5000)).toBe(true);
    expect(env.stats.cameras!['front']!.dropped).toBe(0);
  });

  it('a corrupt or truncated JPEG, a JPEG claiming 60000×60000 pixels, a PNG called jpeg, bad base64, an oversize frame, a wrong encoding, a wrong length and a step mismatch are counted and dropped; the link keeps working', async () => {
    const { server, cameras } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }, { type: 'raw', topic: SIDE.topic, width: 32, height: 24, hz: 20 }]);
    const logs: string[] = [];
    const env = await connect(server.url, [{ ...FRONT, maxBytes: 50_000 }, SIDE], { log: (l) => logs.push(l) });
    const rgb = cameras[0]!.render();
    const jpeg = await encodeJpeg(rgb, 64, 64);
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
    const header = (): unknown => ({ seq: 0, stamp: rosTime(Date.now()), frame_id: 'camera' });
    const garbage = Uint8Array.from({ length: 2000 }, (_, i) => (i * 7919) & 255);
    garbage.set([0xff, 0xd8, 0xff]);
    // A decompression bomb: the JPEG's frame header (SOF) claims 60000×60000 pixels.
    const bomb = Uint8Array.from(jpeg);
    const sof = bomb.findIndex((b, i) => b === 0xff && (bomb[i + 1] === 0xc0 || bomb[i + 1] === 0xc2));
    expect(sof).toBeGreaterThan(0);
    bomb.set([0xea, 0x60, 0xea, 0x60], sof + 5); // height, width (big-endian) after length and precision
    const badCompressed: unknown[] = [
      { header: header(), format: 'jpeg', data: b64(bomb) },
      { header: header(), format: 'jpeg', data: b64(jpeg.subarray(0, Math.floor(jpeg.length / 2))) }, // truncated
      { header: header(), format: 'jpeg', data: b64(garbage) }, // JPEG magic, then noise
      { header: header(), format: 'jpeg', data: b64(await encodePng(rgb, 64, 64)) }, // says jpeg, is PNG
      { header: header(), format: 'jpeg', data: 'not base64 at all!!!' },
      { header: header(), format: 'jpeg', data: b64(new Uint8Array(60_000)) }, // over maxBytes
      { header: header(), format: 'jpeg', data: null },
      'a string, not a message',
    ];
    const raw = (over: Record<string, unknown>): unknown => ({ header: header(), height: 24, width: 32, encoding: 'rgb8', is_bigendian: 0, step: 96, data: b64(new Uint8Array(96 * 24)), ...over });
    const badRaw: unknown[] = [
      raw({ encoding: 'yuv422' }),
      raw({ data: b64(new Uint8Array(96 * 24 - 5)) }), // length ≠ step × height
      raw({ step: 90, data: b64(new Uint8Array(90 * 24)) }), // step < width × 3
      raw({ width: 'wide' }),
    ];
    // One at a time, with the cameras paused: a frame arriving while another decodes waits, and
    // a newer one replaces it (counted as superseded) — the newest frame matters, not each one.
    for (const c of cameras) c.stop();
    await new Promise((r) => setTimeout(r, 200));
    const stats = env.stats.cameras!;
    const reasons: string[] = [];
    for (const [topic, name, msgs] of [[FRONT.topic, 'front', badCompressed], [SIDE.topic, 'side', badRaw]] as const)
      for (const m of msgs) {
        const n = stats[name]!.dropped;
        // Stamped as sent: a frame stamped when the list was made could arrive stale on a busy machine.
        server.publish(topic, m && typeof m === 'object' ? { ...m, header: header() } : m);
        expect(await until(() => stats[name]!.dropped === n + 1, 10_000), JSON.stringify(m).slice(0, 80)).toBe(true);
        reasons.push(stats[name]!.lastError);
      }
    expect([stats['front']!.dropped, stats['side']!.dropped]).toEqual([badCompressed.length, badRaw.length]);
    // The link keeps working: new frames are decoded and steps run (no camera went stale).
    const before = { front: env.cameraFrame('front')!.seq, side: env.cameraFrame('side')!.seq };
    for (const c of cameras) c.start();
    expect(await until(() => env.cameraFrame('front')!.seq > before.front + 3 && env.cameraFrame('side')!.seq > before.side + 3, 10_000)).toBe(true);
    await env.reset({ seed: 1 });
    for (let i = 0; i < 3; i++) {
      const r = await env.step(new Float32Array(env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 1));
      expect(r.truncated, String(r.info.linkError)).toBe(false);
    }
    // Each reason is reported (stats.lastError; the log is rate-limited, 5 lines a second per camera).
    const text = reasons.join('\n');
    expect(logs.join('\n')).toMatch(/camera front \(\/camera\/image_raw\/compressed\): dropped frame #1: does not decode: Input image exceeds pixel limit/);
    for (const why of [/premature end of JPEG|does not decode/, /format "jpeg" but the data is a PNG/, /not base64/, /over the 50000-byte cap/, /exceeds pixel limit/, /encoding "yuv422" is not supported/, /data has 2299 bytes, but step 96 × height 24 is 2304/, /step 90 is less than a row of 32 rgb8 pixels/]) expect(text).toMatch(why);
    expect(env.stats.cameras!['front']!.decoded).toBeGreaterThan(0);
  });

  it('a camera that stops publishing stops the robot: the step ends truncated with a safe stop (hold) naming the camera, and a reset fails until it is back', async () => {
    const { server, cameras, robot } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }]);
    const env = await connect(server.url, [{ ...FRONT, maxAgeMs: 1000 }]);
    await env.reset({ seed: 2 });
    const zero = new Float32Array(env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 1);
    for (let i = 0; i < 3; i++) expect((await env.step(zero)).truncated).toBe(false);
    const commands: Float64Array[] = [];
    robot.onCommand((t) => commands.push(t));
    cameras[0]!.stop();
    let r = await env.step(zero);
    for (let i = 0; i < 150 && !r.truncated; i++) r = await env.step(zero);
    expect(r.truncated).toBe(true);
    expect(String(r.info.linkError)).toMatch(/camera front \(\/camera\/image_raw\/compressed\): newest frame is \d+ ms old \(maxAgeMs 1000\)/);
    expect(env.stats.staleSteps).toBe(1);
    // The last command the arm got is the hold: where it is.
    const hold = commands.at(-1)!;
    const at = robot.state().position;
    expect(Math.max(...Array.from(hold, (v, i) => Math.abs(v - (at[i] as number))))).toBeLessThan(0.05);
    await expect(env.reset({ seed: 3 })).rejects.toThrow(/camera front .*newest frame is \d+ ms old/);
    cameras[0]!.start();
    await env.reset({ seed: 3 });
    expect((await env.step(zero)).truncated).toBe(false);
  });

  it('a caller that paused (a learner update: no frames read) makes neither the next reset nor the next step fail: both wait, bounded, for a fresh state and frame (default maxAgeMs 250)', async () => {
    const { server, cameras } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }]);
    const logs: string[] = [];
    const { maxAgeMs: _default, ...front } = FRONT;
    const env = await connect(server.url, [front], { log: (l) => logs.push(l) });
    const zero = new Float32Array(env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 1);
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    // The pause: nothing arrives while the caller is busy (the camera is quiet), and frames come again only a while after it ended.
    const pause = async (ms: number, backAfterMs: number): Promise<void> => {
      cameras[0]!.stop();
      await sleep(ms);
      setTimeout(() => cameras[0]!.start(), backAfterMs);
    };
    await env.reset({ seed: 1 });
    expect((await env.step(zero)).truncated).toBe(false);
    // (b) a step after a gap longer than the stale limit waits for a fresh state and frame first.
    for (let k = 0; k < 3; k++) {
      await pause(600, 0);
      const r = await env.step(zero);
      expect(r.truncated, String(r.info.linkError)).toBe(false);
      expect(performance.now() - env.cameraFrame('front')!.measuredAt).toBeLessThan(250 + 2000); // a frame from after the pause
    }
    // (a) a reset after a pause waits for a frame newer than its end (here one that comes 400 ms late).
    await pause(600, 400);
    const t0 = performance.now();
    await env.reset({ seed: 2 });
    expect(env.cameraFrame('front')!.measuredAt).toBeGreaterThan(t0);
    expect(env.stats.resetRetries).toBe(0);
    expect((await env.step(zero)).truncated).toBe(false);
    expect(env.stats.staleSteps).toBe(0);
    // Safety unchanged: a camera that does not come back within the bound is a safe stop.
    await pause(600, 60_000);
    const r = await env.step(zero);
    expect(r.truncated).toBe(true);
    expect(String(r.info.linkError)).toMatch(/camera front .*maxAgeMs 250/);
  });

  it('a frame stamped longer ago than maxAgeMs counts as stale and is not taken', async () => {
    const { server, cameras } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }]);
    const env = await connect(server.url, [FRONT]);
    cameras[0]!.stop();
    await new Promise((r) => setTimeout(r, 200)); // frames in flight land
    const seq = env.cameraFrame('front')!.seq;
    const data = Buffer.from(await encodeJpeg(cameras[0]!.render(), 64, 64)).toString('base64');
    const old = Date.now() - 10_000;
    server.publish(FRONT.topic, { header: { seq: 0, stamp: rosTime(old), frame_id: 'camera' }, format: 'jpeg', data });
    expect(await until(() => env.stats.cameras!['front']!.stale === 1, 5000)).toBe(true);
    expect(env.cameraFrame('front')!.stampMs).not.toBe(old);
    // A fresh one is taken.
    const fresh = Date.now();
    server.publish(FRONT.topic, { header: { seq: 1, stamp: rosTime(fresh), frame_id: 'camera' }, format: 'jpeg', data });
    expect(await until(() => env.cameraFrame('front')!.seq > seq && Math.abs(env.cameraFrame('front')!.stampMs - fresh) < 1, 5000)).toBe(true);
    expect(env.stats.cameras!['front']!.stale).toBe(1);
  });

  it('connect fails clearly for a camera topic nobody publishes and for a camera that sends no frame', async () => {
    const { server, cameras } = await servedWithCameras([{ width: 64, height: 64, hz: 20 }]);
    await expect(connect(server.url, [{ ...FRONT, topic: '/wrong/topic' }])).rejects.toThrow(/camera topic \/wrong\/topic is not published/);
    await expect(connect(server.url, [{ ...FRONT, type: 'raw' }])).rejects.toThrow(/topic \/camera\/image_raw\/compressed has type sensor_msgs\/CompressedImage, but the config says sensor_msgs\/Image/);
    cameras[0]!.stop();
    await new Promise((r) => setTimeout(r, 200));
    await expect(connect(server.url, [FRONT], { connectTimeoutMs: 1500 })).rejects.toThrow(/camera front: no usable frame on \/camera\/image_raw\/compressed within 1500 ms/);
  });
});

describe('roborl serve ros publishes the simulated camera', () => {
  it('a robot config with a camera connects to the served arm and gets its rendered frames, resized; --camera-size is validated', async () => {
    const bin = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
    const child = spawn(process.execPath, [bin, 'serve', 'ros', '--env', 'PandaReach-v0', '--port', '0', '--camera-hz', '20', '--camera-size', '96x96'], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanup.push(() => void child.kill('SIGINT'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await until(() => /on ws:\/\/127\.0\.0\.1:\d+/.test(stderr), 60_000), stderr).toBe(true);
    expect(stderr).toMatch(/\/camera\/image_raw\/compressed \(sensor_msgs\/CompressedImage, 96×96, 20 Hz\)/);
    const url = /(ws:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
    const env = await connect(url, [{ ...FRONT, width: 48, height: 48 }]);
    const f = env.cameraFrame('front')!;
    expect([f.width, f.height, f.rgb.length]).toEqual([48, 48, 48 * 48 * 3]);
    // The renderer's picture, not a blank: the table, the arm and the background differ.
    const grey = new Set<number>();
    for (let i = 0; i < f.rgb.length; i += 3) grey.add(((f.rgb[i] as number) >> 4) * 256 + ((f.rgb[i + 1] as number) >> 4) * 16 + ((f.rgb[i + 2] as number) >> 4));
    expect(grey.size).toBeGreaterThan(5);
    await env.close();
    const bad = spawn(process.execPath, [bin, 'serve', 'ros', '--env', 'PandaReach-v0', '--port', '0', '--camera-size', '64'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let badErr = '';
    bad.stderr.on('data', (d: Buffer) => (badErr += d.toString()));
    expect(await new Promise((r) => bad.once('exit', r))).toBe(2);
    expect(badErr).toMatch(/--camera-size must be WIDTHxHEIGHT in pixels \(1–4096 each\), e\.g\. 64x64, got "64"/);
  }, 90_000);
});

describe('robot camera config and wire bytes', () => {
  const base = { kind: 'ros', task: 'PandaReach-v0', url: 'ws://127.0.0.1:9090', command: COMMAND };
  it('validates cameras with errors that name the field', () => {
    const ok = RobotConfigSchema.safeParse({ ...base, cameras: [{ name: 'front', topic: '/cam/compressed', type: 'compressed', width: 64, height: 64, maxAgeMs: 200 }] });
    expect(ok.success).toBe(true);
    const bad = (cameras: unknown): string => {
      const r = RobotConfigSchema.safeParse({ ...base, cameras });
      expect(r.success).toBe(false);
      return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    };
    expect(bad([{ name: 'front', topic: '/a', type: 'jpeg', width: 64, height: 64 }])).toMatch(/cameras\.0\.type/);
    expect(bad([{ name: 'front', topic: '/a', type: 'raw', width: 0, height: 64 }])).toMatch(/cameras\.0\.width/);
    expect(bad([{ name: 'front', topic: 'a', type: 'raw', width: 64, height: 64 }])).toMatch(/cameras\.0\.topic: a ROS topic name starting with "\/"/);
    expect(bad([{ name: 'front', topic: '/a', type: 'raw', width: 64, height: 64, maxAgeMs: -1 }])).toMatch(/cameras\.0\.maxAgeMs/);
    expect(bad([{ name: 'front', topic: '/a', type: 'raw', width: 64, height: 64, fps: 30 }])).toMatch(/cameras\.0: .*fps/);
    expect(bad([{ name: 'c', topic: '/a', type: 'raw', width: 8, height: 8 }, { name: 'c', topic: '/b', type: 'raw', width: 8, height: 8 }])).toMatch(/cameras\.1\.name: camera name "c" is used twice/);
  });

  it('takes uint8[] as rosbridge sends it: base64 in JSON, bytes in CBOR, a plain byte array; refuses anything else', () => {
    expect(Array.from(uint8Field(Buffer.from([1, 2, 250]).toString('base64'), 100) as Uint8Array)).toEqual([1, 2, 250]);
    expect(Array.from(uint8Field(new Uint8Array([7, 8]), 100) as Uint8Array)).toEqual([7, 8]);
    expect(Array.from(uint8Field([0, 255], 100) as Uint8Array)).toEqual([0, 255]);
    expect(uint8Field([0, 256], 100)).toEqual({ error: 'data[1] is not a byte' });
    expect(uint8Field('AAA', 100)).toMatchObject({ error: expect.stringMatching(/not base64/) });
    expect(uint8Field('AAAA'.repeat(100), 100)).toMatchObject({ error: expect.stringMatching(/300 bytes is over the 100-byte cap/) });
    expect(uint8Field(12, 100)).toMatchObject({ error: expect.stringMatching(/number, not base64/) });
  });
});
