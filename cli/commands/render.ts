import { writeFileSync } from 'node:fs';
import { findSceneSource } from '../../control/scene.js';
import { Camera } from '../../sim/camera/camera.js';
import { CameraConfigError, parseCamera } from '../../sim/camera/config.js';
import { encodePng } from '../../sim/camera/png.js';
import { PANDA_FRONT_CAMERA, PANDA_WRIST_CAMERA } from '../../sim/camera/presets.js';
import { envEntry, make } from '../../tasks/registry.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';

const PRESETS = { front: PANDA_FRONT_CAMERA, wrist: PANDA_WRIST_CAMERA } as const;

/**
 * `roborl render <env-id> [--camera front|wrist] [--out frame.png] ...`: one simulated camera
 * frame as a PNG (and depth as greyscale, near = white), to see what a pixel policy sees.
 */
export async function renderCommand(args: Args): Promise<void> {
  allowFlags(args, 'render', ['camera', 'out', 'depth', 'engine', 'seed', 'steps', 'size']);
  const envId = args.positionals[0];
  if (!envId) throw new UsageError(USAGE.render);
  const name = stringFlag(args, 'camera') ?? 'front';
  if (name !== 'front' && name !== 'wrist') throw new UsageError(`Expected --camera to be front or wrist, got \`${name}\``);
  const size = intFlag(args, 'size', 64, 1, 4096);
  const outPath = stringFlag(args, 'out') ?? 'frame.png';
  const depthPath = stringFlag(args, 'depth');
  const engine = stringFlag(args, 'engine');
  const seed = seedFlag(args, 0);
  const steps = intFlag(args, 'steps', 0, 0);
  let camera: Camera;
  try {
    camera = new Camera(parseCamera({ ...PRESETS[name], width: size, height: size, depth: depthPath !== undefined }, `--camera ${name}`));
  } catch (err) {
    if (err instanceof CameraConfigError) throw new UsageError(err.message);
    throw err;
  }
  const env = await make(envId, { options: engine ? { engine } : {} });
  try {
    const source = findSceneSource(env);
    if (!source) throw new UsageError(`${envId} does not describe its scene (only simulated tasks do): nothing to render`);
    let { obs } = await env.reset({ seed });
    const expert = envEntry(envId).scripted?.();
    if (steps > 0 && !expert) throw new UsageError(`${envId} has no scripted expert to run --steps with`);
    for (let t = 0; t < steps && expert; t++) {
      const r = await env.step(expert(obs));
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    const frame = camera.createFrame();
    camera.render(source.scene(), frame);
    writeFileSync(outPath, encodePng(frame.rgb, frame.width, frame.height));
    process.stdout.write(`wrote ${outPath} (${frame.width}×${frame.height}, camera ${name})\n`);
    if (depthPath !== undefined && frame.depth) {
      const far = camera.config.far;
      let lo = far;
      let hi = 0;
      for (const d of frame.depth) if (d < far) ((lo = Math.min(lo, d)), (hi = Math.max(hi, d)));
      const grey = new Uint8Array(frame.rgb.length);
      frame.depth.forEach((d, k) => grey.fill(d >= far ? 0 : Math.round(255 * (1 - (d - lo) / Math.max(1e-3, hi - lo))), 3 * k, 3 * k + 3));
      writeFileSync(depthPath, encodePng(grey, frame.width, frame.height));
      process.stdout.write(`wrote ${depthPath} (depth ${lo.toFixed(3)}–${hi.toFixed(3)} m)\n`);
    }
  } finally {
    await env.close();
  }
}
