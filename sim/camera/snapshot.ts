/**
 * Saves a simulated camera's frame as a PNG, to see what a policy sees:
 *
 *   npx tsx sim/camera/snapshot.ts PandaReach-v0 --camera front --out frame.png
 *     [--engine rapier|mujoco] [--seed 0] [--steps 0] [--size 64] [--depth depth.png]
 *
 * `--camera` is a preset (front, wrist; see presets.ts); `--steps` runs the task's scripted
 * expert that many steps first; `--depth` also writes the depth image (near = white).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { findSceneSource } from '../../control/scene.js';
import { envEntry, make } from '../../tasks/registry.js';
import { Camera } from './camera.js';
import { parseCamera } from './config.js';
import { encodePng } from './png.js';
import { PANDA_FRONT_CAMERA, PANDA_WRIST_CAMERA } from './presets.js';

const PRESETS = { front: PANDA_FRONT_CAMERA, wrist: PANDA_WRIST_CAMERA } as const;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      camera: { type: 'string', default: 'front' },
      out: { type: 'string', default: 'frame.png' },
      depth: { type: 'string' },
      engine: { type: 'string' },
      seed: { type: 'string', default: '0' },
      steps: { type: 'string', default: '0' },
      size: { type: 'string', default: '64' },
    },
  });
  const id = positionals[0];
  if (!id) throw new Error('usage: snapshot.ts <env> [--camera front|wrist] [--out frame.png] [--engine rapier|mujoco] [--seed 0] [--steps 0] [--size 64] [--depth depth.png]');
  const name = values.camera;
  if (name !== 'front' && name !== 'wrist') throw new Error(`--camera: expected front or wrist, got "${name}"`);
  const size = Number(values.size);
  const camera = new Camera(parseCamera({ ...PRESETS[name], width: size, height: size, depth: values.depth !== undefined }, '--camera'));
  const env = await make(id, { options: values.engine ? { engine: values.engine } : {} });
  try {
    const source = findSceneSource(env);
    if (!source) throw new Error(`${id} does not describe its scene: nothing to render`);
    let { obs } = await env.reset({ seed: Number(values.seed) });
    const expert = envEntry(id).scripted?.();
    for (let t = 0; t < Number(values.steps) && expert; t++) {
      const r = await env.step(expert(obs));
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    const frame = camera.createFrame();
    camera.render(source.scene(), frame);
    writeFileSync(values.out, encodePng(frame.rgb, frame.width, frame.height));
    console.log(`wrote ${values.out} (${frame.width}×${frame.height}, camera ${name})`);
    if (values.depth && frame.depth) {
      const far = camera.config.far;
      let lo = far;
      let hi = 0;
      for (const d of frame.depth) if (d < far) ((lo = Math.min(lo, d)), (hi = Math.max(hi, d)));
      const grey = new Uint8Array(frame.rgb.length);
      frame.depth.forEach((d, k) => grey.fill(d >= far ? 0 : Math.round(255 * (1 - (d - lo) / Math.max(1e-9, hi - lo + 1e-3))), 3 * k, 3 * k + 3));
      writeFileSync(values.depth, encodePng(grey, frame.width, frame.height));
      console.log(`wrote ${values.depth} (depth ${lo.toFixed(3)}–${hi.toFixed(3)} m)`);
    }
  } finally {
    await env.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
