import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { SceneShape, SceneState } from '../control/scene.js';
import { CameraRig } from '../sim/camera/rig.js';
import { parseCameras, type CameraConfig } from '../sim/camera/config.js';
import { encodePng } from '../sim/camera/png.js';
import { PANDA_FRONT_CAMERA, PANDA_WRIST_CAMERA } from '../sim/camera/presets.js';
import { SceneFrames, type Frame } from './page/frames.js';
import { field } from './protocol.js';
import { SCENE_FILE } from './run-index.js';
import { readSmallFile } from './tail.js';

/**
 * Camera frames for the scene tab (issue 23). A run whose env has cameras (`env.options.cameras`
 * in its config.yaml) shows, beside the 3D view, what each camera sees at the frame the view
 * draws: the frame is rendered afresh from the recording (its shapes and that step's poses) by the
 * simulator's CPU renderer — the picture the policy was given at that step in simulation, live
 * while an evaluation is being recorded and the same for a finished run, whatever the engine.
 * (Domain randomisation is not replayed: frames use the cameras' nominal looks. A robot run's
 * recording shows the simulated camera of the measured arm, not the robot's own images.)
 */

/** One camera as the page lists it. */
export interface CameraInfo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
}

/** A camera request, validated: which frame of which recording, seen by which camera. */
export interface CameraQuery {
  readonly run: string;
  readonly file: string;
  readonly episode: number;
  readonly t: number;
  readonly camera: string;
}

/** An answer the server sends as it is: a PNG, JSON, or an error with its status. */
export type CameraAnswer = { readonly png: Buffer } | { readonly json: unknown } | { readonly status: 404 | 422; readonly message: string };

/** config.yaml is small (train writes ~1 KB); recordings are bounded by the page's frame cap. */
const MAX_CONFIG_BYTES = 64 * 1024;
const MAX_RECORDING_BYTES = 64 * 2 ** 20;
/** Lines parsed between yields to the event loop (the teleop relay shares it). */
const LINES_PER_YIELD = 500;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ROLES: readonly SceneShape['role'][] = ['robot', 'object', 'fixture', 'target', 'keep-out'];
/** The camera presets a config may name (tasks/cameras.ts CAMERA_PRESETS; tasks/ pulls in the engines, so not imported here). */
const PRESETS: Readonly<Record<string, unknown>> = { front: PANDA_FRONT_CAMERA, wrist: PANDA_WRIST_CAMERA };

/**
 * Checks `/api/camera`'s query: `run`, `file` (a recording's name), `episode` and `t` (whole
 * numbers, the frame's episode and step), `camera` (a camera name). Returns why it is malformed.
 */
export function parseCameraQuery(params: URLSearchParams): CameraQuery | string {
  const one = (k: string): string | null => (params.getAll(k).length === 1 ? params.get(k) : null);
  const run = one('run');
  const file = one('file');
  const camera = one('camera');
  const episode = wholeNumber(one('episode'));
  const t = wholeNumber(one('t'));
  if (run === null || run.length === 0 || run.length > 512) return 'run: expected one run id';
  if (file === null || !SCENE_FILE.test(file)) return 'file: expected one recording name (NAME.scene.jsonl)';
  if (episode === null) return 'episode: expected a whole number';
  if (t === null) return 't: expected a whole number';
  if (camera === null || !NAME.test(camera)) return 'camera: expected a camera name (letters, digits, _ and -)';
  return { run, file, episode, t, camera };
}

function wholeNumber(s: string | null): number | null {
  if (s === null || !/^\d{1,9}$/.test(s)) return null;
  return Number(s);
}

interface ParsedRecording {
  readonly size: number;
  readonly mtimeMs: number;
  /** Frames by `episode:t`. */
  readonly frames: ReadonlyMap<string, Frame>;
}

/** Renders recorded frames through a run's cameras; caches the last few configs and recordings. */
export class SceneCameras {
  private readonly rigs = new Map<string, { readonly text: string; readonly cameras: readonly CameraConfig[]; readonly rig: CameraRig }>();
  private readonly recordings = new Map<string, ParsedRecording>();

  /** The cameras of the run in `dir` (none for a run without cameras). */
  async list(dir: string): Promise<CameraAnswer> {
    const r = await this.camerasOf(dir);
    if ('status' in r) return r;
    return { json: { cameras: r.cameras.map((c): CameraInfo => ({ name: c.name, width: c.width, height: c.height })) } };
  }

  /** The PNG of camera `q.camera` at frame (`q.episode`, `q.t`) of recording `q.file` of the run in `dir`. */
  async render(dir: string, q: CameraQuery): Promise<CameraAnswer> {
    const r = await this.camerasOf(dir);
    if ('status' in r) return r;
    if (!r.cameras.some((c) => c.name === q.camera)) return { status: 404, message: `run ${q.run} has no camera "${q.camera}" (cameras: ${r.cameras.map((c) => c.name).join(', ') || 'none'})` };
    const rec = await this.recording(join(dir, 'scenes', q.file));
    if ('status' in rec) return rec;
    const frame = rec.frames.get(`${q.episode}:${q.t}`);
    if (!frame) return { status: 404, message: `${q.file} has no frame at episode ${q.episode}, step ${q.t}` };
    const scene = sceneOf(frame);
    if (typeof scene === 'string') return { status: 422, message: `${q.file}: ${scene}` };
    const out = r.rig.renderOne(scene, q.camera);
    return { png: encodePng(out.rgb, out.width, out.height) };
  }

  private async camerasOf(dir: string): Promise<{ cameras: readonly CameraConfig[]; rig: CameraRig } | { status: 404 | 422; message: string }> {
    const file = await readSmallFile(join(dir, 'config.yaml'), MAX_CONFIG_BYTES);
    if (file === null) return { status: 404, message: 'the run has no config.yaml' };
    if ('problem' in file) return { status: 422, message: `config.yaml: ${file.problem}` };
    const cached = this.rigs.get(dir);
    if (cached?.text === file.text) return cached;
    let cameras: readonly CameraConfig[];
    try {
      cameras = camerasOfConfig(parse(file.text));
    } catch (err) {
      return { status: 422, message: `config.yaml: ${(err as Error).message}` };
    }
    const entry = { text: file.text, cameras, rig: new CameraRig(cameras, 0) };
    remember(this.rigs, dir, entry, 16);
    return entry;
  }

  private async recording(path: string): Promise<ParsedRecording | { status: 404 | 422; message: string }> {
    const st = await stat(path).catch(() => null);
    if (!st) return { status: 404, message: 'no such recording' };
    const cached = this.recordings.get(path);
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached;
    const file = await readSmallFile(path, MAX_RECORDING_BYTES);
    if (file === null) return { status: 404, message: 'no such recording' };
    if ('problem' in file) return { status: 422, message: file.problem };
    const lines = file.text.split('\n');
    const frames = new SceneFrames();
    for (let i = 0; i < lines.length; i += LINES_PER_YIELD) {
      const parsed: unknown[] = [];
      for (const l of lines.slice(i, i + LINES_PER_YIELD)) {
        if (l.trim() === '') continue;
        try {
          parsed.push(JSON.parse(l));
        } catch {
          // a torn last line (still being written) or a corrupt one: the page is told by the live tail
        }
      }
      frames.add(parsed);
      await new Promise((r) => setImmediate(r));
    }
    const parsed: ParsedRecording = { size: st.size, mtimeMs: st.mtimeMs, frames: new Map(frames.frames.map((f) => [`${f.episode}:${f.t}`, f])) };
    remember(this.recordings, path, parsed, 4);
    return parsed;
  }
}

/** The cameras of a parsed config.yaml (`env.options.cameras`: camera configs or preset names); none without. */
export function camerasOfConfig(config: unknown): readonly CameraConfig[] {
  const raw = field(field(field(config, 'env'), 'options'), 'cameras');
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new Error('env.options.cameras: expected a list');
  const expanded = raw.map((c: unknown, i) => {
    if (typeof c !== 'string') return c;
    const preset = PRESETS[c];
    if (!preset) throw new Error(`env.options.cameras.${i}: unknown camera preset "${c}"`);
    return preset;
  });
  return parseCameras(expanded, 'env.options.cameras');
}

/** A recorded frame as the renderer takes it; shapes of an unknown role are refused. */
function sceneOf(f: Frame): SceneState | string {
  const shapes: SceneShape[] = [];
  for (const s of f.shapes) {
    const role = ROLES.find((r) => r === s.role);
    if (!role) return `shape ${s.name} has an unknown role "${s.role}"`;
    shapes.push({ name: s.name, kind: s.kind, size: s.size, role, ...(s.mesh ? { mesh: s.mesh } : {}) });
  }
  return { shapes, poses: f.poses };
}

/** Keeps at most `max` entries, dropping the oldest. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
