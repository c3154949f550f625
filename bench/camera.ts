/**
 * Robot camera frames (issue 23 item 2): what it costs to take a camera frame off rosbridge —
 * JSON parse, base64, decode, resize to the policy's 64×64 — and which decoder to use.
 * `npm run bench -- camera --json`. The frames are the simulator's Panda front camera
 * (sim/camera) at 640×480 and 64×64, JPEG quality 85.
 *
 * sharp (libvips, the chosen decoder) is always measured. To compare the pure-JS and wasm
 * decoders, install them somewhere else (not in the shared tree) and point at it:
 * `npm install --prefix /tmp/dec jpeg-js @jsquash/jpeg` then
 * `CAMERA_BENCH_MODULES=/tmp/dec/node_modules npm run bench -- camera`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { make } from '../tasks/registry.js';
import { findSceneSource } from '../control/scene.js';
import { Camera } from '../sim/camera/camera.js';
import { parseCamera } from '../sim/camera/config.js';
import { PANDA_FRONT_CAMERA } from '../sim/camera/presets.js';
import { decodeToRgb, encodeJpeg } from '../robots/camera-decode.js';
import { parseImageMessage } from '../robots/ros/camera-messages.js';

/** One decoder on one frame size. */
export interface CameraDecodeResult {
  readonly decoder: string;
  /** Source frame, e.g. 640x480. */
  readonly source: string;
  readonly jpegBytes: number;
  /** Wall time per frame, one frame at a time, ms (median). */
  readonly wallMs: number;
  /**
   * Event loop blocked per frame, ms (median): all of the wall time for the JS and wasm decoders
   * (@jsquash's promise only defers the decode to a microtask, on the same thread); for sharp,
   * the call's synchronous part, building the pipeline (the decode runs on libuv's pool).
   * What a control loop on the same thread loses.
   */
  readonly blockingMs: number;
  /** Process CPU time per frame, ms (all threads: for sharp, the pool's decode too). On a loaded machine, the figure to compare. */
  readonly cpuMs: number;
  /** Frames per second, one at a time. */
  readonly framesPerSec: number;
}

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 2);

async function render(width: number, height: number): Promise<Uint8Array> {
  const env = await make('PandaReach-v0');
  await env.reset({ seed: 0 });
  const source = findSceneSource(env);
  if (!source) throw new Error('PandaReach-v0 has no scene');
  const cam = new Camera(parseCamera({ ...PANDA_FRONT_CAMERA, width, height }));
  const frame = cam.createFrame();
  cam.render(source.scene(), frame);
  await env.close();
  return Uint8Array.from(frame.rgb);
}

/** Times `fn` for about SECONDS: median wall ms and median synchronous (blocking) ms per call. */
async function time(fn: () => Promise<unknown> | unknown): Promise<{ wallMs: number; blockingMs: number; cpuMs: number; perSec: number }> {
  for (let i = 0; i < 5; i++) await fn();
  const walls: number[] = [];
  const syncs: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const a = performance.now();
    const p = fn();
    syncs.push(performance.now() - a);
    await p;
    walls.push(performance.now() - a);
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1] as number;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: median(walls), blockingMs: median(syncs), cpuMs: (cpu.user + cpu.system) / 1000 / walls.length, perSec: walls.length / ((performance.now() - t0) / 1000) };
}

/** Optional decoders for the comparison, when installed (in CAMERA_BENCH_MODULES, or the project's node_modules). */
async function optionalDecoders(): Promise<{ name: string; decode: (jpeg: Uint8Array) => Promise<unknown> | unknown }[]> {
  const out: { name: string; decode: (jpeg: Uint8Array) => Promise<unknown> | unknown }[] = [];
  const extra = process.env['CAMERA_BENCH_MODULES'];
  const require = createRequire(extra ? join(extra, 'bench.js') : import.meta.url);
  try {
    const jpegJs: unknown = require('jpeg-js');
    const decode = jpegJs && typeof jpegJs === 'object' && 'decode' in jpegJs ? jpegJs.decode : null;
    if (typeof decode === 'function') out.push({ name: 'jpeg-js (pure JS)', decode: (b) => decode(b, { useTArray: true, formatAsRGBA: false }) });
  } catch {
    process.stderr.write('bench camera: jpeg-js not found (see CAMERA_BENCH_MODULES in bench/camera.ts to compare)\n');
  }
  try {
    const mod: unknown = await import(pathToFileURL(require.resolve('@jsquash/jpeg/decode.js')).href);
    const wasmPath = require.resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm');
    if (mod && typeof mod === 'object' && 'init' in mod && 'default' in mod && typeof mod.init === 'function' && typeof mod.default === 'function') {
      // The codec returns an ImageData, which Node lacks.
      (globalThis as Record<string, unknown>)['ImageData'] ??= class {
        constructor(
          readonly data: Uint8ClampedArray,
          readonly width: number,
          readonly height: number,
        ) {}
      };
      await mod.init(await WebAssembly.compile(readFileSync(wasmPath)));
      const decode = mod.default;
      out.push({ name: '@jsquash/jpeg (mozjpeg wasm)', decode: (b) => decode(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)) });
    }
  } catch {
    process.stderr.write('bench camera: @jsquash/jpeg not found (see CAMERA_BENCH_MODULES in bench/camera.ts to compare)\n');
  }
  return out;
}

export async function cameraBenchmark(json: boolean): Promise<{ decode: CameraDecodeResult[]; messageParseMs: Record<string, number> }> {
  const decode: CameraDecodeResult[] = [];
  const messageParseMs: Record<string, number> = {};
  const others = await optionalDecoders();
  for (const [w, h] of [[640, 480], [64, 64]] as const) {
    const source = `${w}x${h}`;
    const jpeg = await encodeJpeg(await render(w, h), w, h, 85);
    process.stderr.write(`bench camera: ${source} JPEG, ${jpeg.length} bytes…\n`);
    const row = (decoder: string, t: { wallMs: number; blockingMs: number; cpuMs: number; perSec: number }): void => void decode.push({ decoder, source, jpegBytes: jpeg.length, wallMs: t.wallMs, blockingMs: t.blockingMs, cpuMs: t.cpuMs, framesPerSec: t.perSec });
    row('sharp decode + resize to 64x64 (chosen)', await time(() => decodeToRgb({ kind: 'compressed', format: 'jpeg', bytes: jpeg }, 64, 64, { maxPixels: 1 << 24 })));
    for (const d of others) {
      const t = await time(() => d.decode(jpeg));
      row(`${d.name} decode only`, { ...t, blockingMs: t.wallMs });
    }
    // What the socket handler does before the decode: JSON.parse of the rosbridge message, base64.
    const text = JSON.stringify({ op: 'publish', topic: '/camera/image_raw/compressed', msg: { header: { seq: 1, stamp: { secs: 1, nsecs: 0 }, frame_id: 'camera' }, format: 'jpeg', data: Buffer.from(jpeg).toString('base64') } });
    messageParseMs[source] = (
      await time(() => {
        const m: unknown = JSON.parse(text);
        const msg = m && typeof m === 'object' && 'msg' in m ? m.msg : null;
        return parseImageMessage('sensor_msgs/CompressedImage', msg, 8 << 20);
      })
    ).wallMs;
  }
  if (!json) {
    for (const r of decode) process.stdout.write(`${r.source} (${r.jpegBytes} B)  ${r.decoder.padEnd(42)} wall ${r.wallMs.toFixed(3)} ms  event loop blocked ${r.blockingMs.toFixed(3)} ms  CPU ${r.cpuMs.toFixed(3)} ms  ${r.framesPerSec.toFixed(0)} frames/s\n`);
    for (const [s, ms] of Object.entries(messageParseMs)) process.stdout.write(`${s}: JSON.parse + base64 of the rosbridge message ${ms.toFixed(3)} ms\n`);
  }
  return { decode, messageParseMs };
}
