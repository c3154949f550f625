import { isSyncEnv, type Env } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { envChunks, interleaved } from './interleave.js';
import { sample } from '../control/spaces.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { PhysicsTask } from '../sim/physics-task.js';
import { MujocoPhysics } from '../sim/mujoco/physics.js';
import { loadMujoco } from '../sim/mujoco/module.js';
import { envEntry, listEnvs, make } from '../tasks/registry.js';
import { PANDA_READY } from '../tasks/panda.js';
import { VectorEnv } from '../sim/vector-env.js';
import { findSceneSource, type SceneShape, type SceneState } from '../control/scene.js';
import { Camera } from '../sim/camera/camera.js';
import { parseCamera } from '../sim/camera/config.js';
import { PANDA_FRONT_CAMERA, PANDA_WRIST_CAMERA } from '../sim/camera/presets.js';

export interface SimTaskResult {
  readonly task: string;
  /** Physics engine (`rapier`, `mujoco`), `-` for analytic tasks, or `mujoco-raw`: the Panda model stepped directly, no env. */
  readonly engine: string;
  /** Env steps/s of one env through the public async API (`make(id)`: time limit included). */
  readonly stepsPerSec: number;
  /** Env steps/s summed over a VectorEnv of 8 (async API, autoreset). */
  readonly vecStepsPerSec: number;
  /** µs per control step of the raw env's synchronous step (physics + task work). */
  readonly controlStepUs: number;
  /** µs of the engine's physics steps per control step on the same world; null for analytic tasks. */
  readonly physicsUs: number | null;
  /**
   * (env − physics) / physics, in %, from process CPU time per step (`controlStepCpuUs`,
   * `physicsCpuUs`): on a loaded shared machine the wall-clock figures include time spent
   * waiting for a core. Null for analytic tasks.
   */
  readonly overheadPct: number | null;
  /** Process CPU µs per control step of the env's step, measured alongside `controlStepUs`. */
  readonly controlStepCpuUs?: number;
  /** Process CPU µs of the physics steps per control step, alongside `physicsUs`; null for analytic tasks. */
  readonly physicsCpuUs?: number | null;
  /**
   * MuJoCo: µs per control step of the same model (a second copy of the task's own compiled
   * model and data) stepped directly with `mj_step`, no env — timed in the same loop as the env
   * steps, so a loaded machine slows both alike. Null on other engines.
   */
  readonly rawUs?: number | null;
  /** Process CPU µs per control step of the raw model, alongside `rawUs`. */
  readonly rawCpuUs?: number | null;
  /** (env − raw) / raw from CPU time, in % (issue 21's aim: ≤ 15%); null without `rawUs`. */
  readonly overRawPct?: number | null;
  /** µs per seeded reset (Rapier tasks rebuild their world). */
  readonly resetUs: number;
}

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 1.5);

/** Runs `fn` repeatedly for about `seconds`, returning calls per second. */
async function rate(seconds: number, fn: () => Promise<number>): Promise<number> {
  let count = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline) count += await fn();
  return count / ((performance.now() - t0) / 1000);
}

function actionPool(env: Env, n = 4096): Float32Array[] {
  const rng = new Rng(0);
  return Array.from({ length: n }, () => sample(env.spec.actionSpace, rng));
}

async function singleEnvRate(id: string, options: Record<string, unknown>): Promise<number> {
  const env = await make(id, { options });
  const actions = actionPool(env);
  await env.reset({ seed: 0 });
  let i = 0;
  const result = await rate(SECONDS, async () => {
    for (let k = 0; k < 256; k++) {
      const r = await env.step(actions[i++ & 4095] as Float32Array);
      if (r.terminated || r.truncated) await env.reset();
    }
    return 256;
  });
  await env.close();
  return result;
}

async function vectorRate(id: string, options: Record<string, unknown>, n = 8): Promise<number> {
  const vec = await VectorEnv.create(n, () => make(id, { options }));
  const single = actionPool(await make(id, { options }), 512);
  const batch = Array.from({ length: 64 }, (_, b) => {
    const out = new Float32Array(n * (single[0] as Float32Array).length);
    for (let i = 0; i < n; i++) out.set(single[(b * n + i) % 512] as Float32Array, i * (single[0] as Float32Array).length);
    return out;
  });
  await vec.reset({ seed: 0 });
  let i = 0;
  const result = await rate(SECONDS, async () => {
    for (let k = 0; k < 16; k++) await vec.step(batch[i++ & 63] as Float32Array);
    return 16 * n;
  });
  await vec.close();
  return result;
}

/**
 * Interleaves timed env steps and timed raw-physics control periods on the same world, and on
 * MuJoCo the same model stepped directly on a twin of the task ({@link rawTwin}).
 */
async function envVsPhysics(id: string, options: Record<string, unknown>): Promise<{ envStepUs: number; physicsStepUs: number | null; rawUs: number | null; cpu: { env: number; physics: number | null; raw: number | null } }> {
  const env = unwrap(await make(id, { options }));
  if (!isSyncEnv(env)) throw new Error(`${id} has no synchronous fast path`);
  const actions = actionPool(env);
  const physics = env instanceof PhysicsTask ? env : null;
  const raw = physics?.engine === 'mujoco' ? await rawTwin(id, options) : null;
  env.resetSync({ seed: 0 });
  // Wall-clock (ns) and process CPU time (µs; one ~1–2 µs cpuUsage call inside each part alike).
  const wall = { env: 0, physics: 0, raw: 0 };
  const cpu = { env: 0, physics: 0, raw: 0 };
  const cpuNow = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let n = 0;
  const deadline = performance.now() + SECONDS * 1000;
  let t = 0;
  while (performance.now() < deadline) {
    for (let k = 0; k < 64; k++) {
      const c0 = cpuNow();
      const t0 = process.hrtime.bigint();
      const r = env.stepSync(actions[n & 4095] as Float32Array);
      const t1 = process.hrtime.bigint();
      const c1 = cpuNow();
      wall.env += Number(t1 - t0);
      cpu.env += c1 - c0;
      if (physics) {
        const t2 = process.hrtime.bigint();
        physics.physicsOnly();
        wall.physics += Number(process.hrtime.bigint() - t2);
        const c2 = cpuNow();
        cpu.physics += c2 - c1;
        if (raw) {
          const t3 = process.hrtime.bigint();
          raw.controlStep();
          wall.raw += Number(process.hrtime.bigint() - t3);
          cpu.raw += cpuNow() - c2;
          raw.endOfPeriod();
        }
      }
      n++;
      t++;
      const limit = env.spec.maxEpisodeSteps ?? Infinity;
      if (r.terminated || t >= limit) {
        env.resetSync();
        t = 0;
      }
    }
  }
  await env.close();
  await raw?.close();
  return {
    envStepUs: wall.env / n / 1000,
    physicsStepUs: physics ? wall.physics / n / 1000 : null,
    rawUs: raw ? wall.raw / n / 1000 : null,
    cpu: { env: cpu.env / n, physics: physics ? cpu.physics / n : null, raw: raw ? cpu.raw / n : null },
  };
}

/**
 * A second copy of a MuJoCo task whose compiled model and data are stepped directly: each
 * control step writes fresh joint targets (q + 0.08·U(−1, 1) within the joint ranges, as a
 * random joint-delta action)
 * and advances one control period of `mj_step`s; every 50 control steps the twin resets (a seeded episode
 * start, as the env's), untimed: `endOfPeriod` runs outside the timed `controlStep`.
 */
async function rawTwin(id: string, options: Record<string, unknown>): Promise<{ controlStep(): void; endOfPeriod(): void; close(): Promise<void> }> {
  const mj = await loadMujoco();
  const twin = unwrap(await make(id, { options }));
  const physics = twin instanceof PhysicsTask ? twin.simulation : null;
  if (!(physics instanceof MujocoPhysics) || !isSyncEnv(twin)) throw new Error(`${id} on mujoco has no MuJoCo physics`);
  const { model: m, data: d } = physics.compiled;
  const ids = physics.joints.map((j) => mj.mj_name2id(m, mj.mjtObj.mjOBJ_JOINT.value, j.name));
  const adr = Int32Array.from(ids, (j) => m.jnt_qposadr[j] as number);
  // Targets within the joint ranges, as the tasks clip theirs: one past a stop keeps a limit
  // constraint in MuJoCo's solver every step, work the env never asks for.
  const lower = Float64Array.from(physics.joints, (j) => j.limit?.lower ?? -Infinity);
  const upper = Float64Array.from(physics.joints, (j) => j.limit?.upper ?? Infinity);
  const rng = new Rng(0);
  let t = 0;
  // MuJoCo steps per control period: a physics step may be split in several (`mujocoSplit`: 2 ms on the grasp tasks).
  const steps = physics.substeps * physics.split;
  twin.resetSync({ seed: 0 });
  return {
    controlStep(): void {
      const qpos = d.qpos;
      const ctrl = d.ctrl;
      for (let k = 0; k < adr.length; k++) {
        const target = (qpos[adr[k] as number] as number) + 0.08 * rng.uniform(-1, 1);
        ctrl[k] = Math.min(Math.max(target, lower[k] as number), upper[k] as number);
      }
      for (let s = 0; s < steps; s++) mj.mj_step(m, d);
    },
    endOfPeriod(): void {
      if (++t % 50 === 0) twin.resetSync();
    },
    close: () => twin.close(),
  };
}

async function resetTime(id: string, options: Record<string, unknown>): Promise<number> {
  const env = unwrap(await make(id, { options }));
  if (!isSyncEnv(env)) throw new Error(`${id} has no synchronous fast path`);
  for (let i = 0; i < 50; i++) env.resetSync({ seed: i });
  const perSec = await rate(SECONDS / 2, async () => {
    for (let i = 0; i < 20; i++) env.resetSync({ seed: i });
    return 20;
  });
  await env.close();
  return 1e6 / perSec;
}

/**
 * The Panda of the Panda tasks on MuJoCo, stepped directly (no env, no task): the model and data
 * `PandaReach-v0` compiles, 10 physics steps per 25 Hz control step with fresh joint targets
 * each period.
 */
async function rawMujocoPanda(): Promise<SimTaskResult> {
  const mj = await loadMujoco();
  const task = unwrap(await make('PandaReach-v0', { options: { engine: 'mujoco' } }));
  const physics = task instanceof PhysicsTask ? task.simulation : null;
  if (!(physics instanceof MujocoPhysics)) throw new Error('PandaReach-v0 on mujoco has no MuJoCo physics');
  const { model: m, data: d } = physics.compiled;
  try {
    const reset = (): void => {
      physics.restore(); // mj_resetData, the objects' weights, mj_forward
      d.qpos.set(PANDA_READY);
      d.ctrl.set(PANDA_READY);
      mj.mj_forward(m, d);
    };
    reset();
    const rng = new Rng(0);
    let n = 0;
    const controlSteps = await rate(SECONDS, async () => {
      for (let k = 0; k < 64; k++) {
        const ctrl = d.ctrl;
        const qpos = d.qpos;
        for (let i = 0; i < 7; i++) ctrl[i] = (qpos[i] as number) + 0.08 * rng.uniform(-1, 1);
        for (let s = 0; s < 10; s++) mj.mj_step(m, d);
        if (++n % 50 === 0) reset();
      }
      return 64;
    });
    const resets = await rate(SECONDS / 2, async () => {
      for (let i = 0; i < 20; i++) reset();
      return 20;
    });
    const us = 1e6 / controlSteps;
    return { task: 'Panda (raw)', engine: 'mujoco-raw', stepsPerSec: controlSteps, vecStepsPerSec: controlSteps, controlStepUs: us, physicsUs: us, overheadPct: 0, resetUs: 1e6 / resets };
  } finally {
    await task.close();
  }
}

/** A task's control step on Rapier against MuJoCo, interleaved (issue 21's "MuJoCo ≥ 5× Rapier", as a ratio that load hits alike). */
export interface EngineRatio {
  readonly task: string;
  /** Process CPU µs per control step (episode resets included, one per 50 steps or at success), over `steps` steps each. */
  readonly rapierCpuUs: number;
  readonly mujocoCpuUs: number;
  /** rapierCpuUs / mujocoCpuUs: how many times MuJoCo's control-step rate is Rapier's. */
  readonly ratio: number;
  readonly steps: number;
}

/**
 * Both engines' envs stepped in alternating chunks of 50 random actions (the order flips each
 * round), CPU time per chunk: on a shared machine the separate rows above swing ±20% between
 * runs; a ratio measured this way does not (`BENCH_ROUNDS`, default 40).
 */
async function engineRatio(id: string): Promise<EngineRatio> {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 40);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env['BENCH_ROUNDS']}`);
  const envs = [unwrap(await make(id, { options: { engine: 'rapier' } })), unwrap(await make(id, { options: { engine: 'mujoco' } }))];
  const sync = envs.map((e) => {
    if (!isSyncEnv(e)) throw new Error(`${id} has no synchronous fast path`);
    return e;
  });
  const cpu = interleaved(2, 50, rounds, envChunks(sync, actionPool(envs[0] as Env, 512)));
  await Promise.all(envs.map((e) => e.close()));
  return { task: id, rapierCpuUs: cpu[0] as number, mujocoCpuUs: cpu[1] as number, ratio: (cpu[0] as number) / (cpu[1] as number), steps: 50 * rounds };
}

/**
 * Every task on each of its engines (`BENCH_TASKS=PandaReach-v0,PandaPush-v0` and
 * `BENCH_ENGINES=mujoco` narrow it), then the raw MuJoCo Panda, the two engines
 * against each other interleaved, in one run, then the simulated
 * cameras on the Panda scenes (`BENCH_TASKS=cameras BENCH_ENGINES=none`: the cameras alone).
 */
export async function simBenchmark(json: boolean): Promise<{ tasks: SimTaskResult[]; engineRatios: EngineRatio[]; cameras: CameraBenchResult[] }> {
  const only = process.env['BENCH_TASKS']?.split(',');
  const engines = process.env['BENCH_ENGINES']?.split(',');
  const tasks: SimTaskResult[] = [];
  for (const id of listEnvs().filter((t) => !only || only.includes(t))) {
    const variants = envEntry(id).engines.length ? envEntry(id).engines.filter((e) => !engines || engines.includes(e)) : ['-'];
    for (const engine of variants) {
      process.stderr.write(`bench sim: ${id} (${engine})…\n`);
      const options = engine === '-' ? {} : { engine };
      const stepsPerSec = await singleEnvRate(id, options);
      const vecStepsPerSec = await vectorRate(id, options);
      const { envStepUs, physicsStepUs, rawUs, cpu } = await envVsPhysics(id, options);
      const resetUs = await resetTime(id, options);
      const overheadPct = cpu.physics === null ? null : (100 * (cpu.env - cpu.physics)) / cpu.physics;
      const overRawPct = cpu.raw === null ? null : (100 * (cpu.env - cpu.raw)) / cpu.raw;
      tasks.push({ task: id, engine, stepsPerSec, vecStepsPerSec, controlStepUs: envStepUs, physicsUs: physicsStepUs, overheadPct, controlStepCpuUs: cpu.env, physicsCpuUs: cpu.physics, rawUs, rawCpuUs: cpu.raw, overRawPct, resetUs });
    }
  }
  if (!engines || engines.includes('mujoco')) tasks.push(await rawMujocoPanda());
  const engineRatios: EngineRatio[] = [];
  if (!engines || (engines.includes('rapier') && engines.includes('mujoco'))) {
    for (const id of listEnvs().filter((t) => (!only || only.includes(t)) && envEntry(t).engines.includes('rapier') && envEntry(t).engines.includes('mujoco'))) {
      process.stderr.write(`bench sim: ${id} (rapier against mujoco, interleaved)…\n`);
      engineRatios.push(await engineRatio(id));
    }
  }
  const cameras: CameraBenchResult[] = [];
  for (const id of ['PandaReach-v0', 'PandaPush-v0'].filter((t) => !only || only.includes(t) || only.includes('cameras'))) cameras.push(...(await cameraRows(id)));
  if (!only || only.includes('cameras') || only.includes('meshes')) cameras.push(...(await meshCameraRows()));
  if (!json) {
    const rows = tasks.map((t) => [t.task, t.engine, t.stepsPerSec.toFixed(0), t.vecStepsPerSec.toFixed(0), t.controlStepUs.toFixed(2), t.physicsUs?.toFixed(2) ?? '-', t.overheadPct === null ? '-' : `${t.overheadPct.toFixed(1)}%`, t.controlStepCpuUs?.toFixed(1) ?? '-', t.rawUs?.toFixed(2) ?? '-', t.rawCpuUs?.toFixed(1) ?? '-', t.overRawPct == null ? '-' : `${t.overRawPct.toFixed(1)}%`, t.resetUs.toFixed(1)]);
    const header = ['task', 'engine', 'steps/s', 'vec8 steps/s', 'control µs', 'physics µs', 'overhead (CPU)', 'control CPU µs', 'raw µs', 'raw CPU µs', 'over raw (CPU)', 'reset µs'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
    for (const r of [header, ...rows]) process.stdout.write(`${r.map((cell, c) => cell.padStart(widths[c] as number)).join('  ')}\n`);
    for (const r of engineRatios) process.stdout.write(`${r.task}: Rapier ${r.rapierCpuUs.toFixed(0)} µs, MuJoCo ${r.mujocoCpuUs.toFixed(0)} µs CPU per control step, interleaved: MuJoCo ${r.ratio.toFixed(2)}× Rapier's rate\n`);
    for (const c of cameras) process.stdout.write(`camera ${c.camera} ${c.width}×${c.height}${c.depth ? ' +depth' : ''}${c.shadows ? ' +shadows' : ''} on ${c.task}: ${c.renderUs.toFixed(0)} µs per frame (p95 ${c.renderP95Us.toFixed(0)}, CPU ${c.renderCpuUs.toFixed(0)}), scene() ${c.sceneUs.toFixed(0)} µs\n`);
  }
  return { tasks, engineRatios, cameras };
}

/** One simulated camera's render time on a task's scene (issue 23). */
export interface CameraBenchResult {
  readonly task: string;
  /** `front`, `wrist` (presets in sim/camera/presets.ts). */
  readonly camera: string;
  readonly width: number;
  readonly height: number;
  /** Mean µs per frame: `camera.render(scene, frame)` (RGB + depth when `depth`), the scene already read. */
  readonly renderUs: number;
  /** 95th percentile of the per-frame times. */
  readonly renderP95Us: number;
  /**
   * Mean process CPU µs per frame over the same loop (user + system): on a shared, loaded
   * machine the wall-clock figures include time spent waiting for a core; this does not.
   */
  readonly renderCpuUs: number;
  /** Median µs of the env's `scene()` (the shapes and poses the frame is drawn from). */
  readonly sceneUs: number;
  readonly depth: boolean;
  /** Shadows drawn (`shadows: true`: a ray towards the light from every lit solid pixel). */
  readonly shadows: boolean;
}

/**
 * Front and wrist cameras at 64×64, the front one at 128×128, with depth and with shadows, over 64
 * scenes of a random-action rollout on Rapier (the frame is the same on MuJoCo: it is drawn from
 * the scene, not the engine).
 */
async function cameraRows(id: string): Promise<CameraBenchResult[]> {
  process.stderr.write(`bench sim: cameras on ${id}…\n`);
  const env = await make(id, { options: { engine: 'rapier' } });
  const source = findSceneSource(env);
  if (!source) throw new Error(`${id} has no scene`);
  const actions = actionPool(env, 64);
  const scenes: SceneState[] = [];
  await env.reset({ seed: 0 });
  const sceneTimes: number[] = [];
  for (const a of actions) {
    const r = await env.step(a);
    if (r.terminated || r.truncated) await env.reset();
    const t0 = process.hrtime.bigint();
    scenes.push(source.scene());
    sceneTimes.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  await env.close();
  const sceneUs = sceneTimes.sort((a, b) => a - b)[sceneTimes.length >> 1] ?? 0; // the median: the first calls compile
  const variants = [
    { ...PANDA_FRONT_CAMERA },
    { ...PANDA_WRIST_CAMERA },
    { ...PANDA_FRONT_CAMERA, width: 128, height: 128 },
    { ...PANDA_FRONT_CAMERA, depth: true },
    { ...PANDA_FRONT_CAMERA, shadows: true },
  ];
  const rows: CameraBenchResult[] = [];
  for (const config of variants) rows.push(await timeCamera(id, new Camera(parseCamera(config)), scenes, sceneUs));
  return rows;
}

/** Mean, p95 and CPU µs per frame of `camera` over `scenes`, for about SECONDS / 2. */
async function timeCamera(task: string, camera: Camera, scenes: readonly SceneState[], sceneUs: number): Promise<CameraBenchResult> {
  const frame = camera.createFrame();
  for (let k = 0; k < 8; k++) for (const s of scenes) camera.render(s, frame); // warm up (JIT)
  const times: number[] = [];
  let cpuUs = 0;
  const deadline = performance.now() + (SECONDS * 1000) / 2;
  while (performance.now() < deadline) {
    const cpu0 = process.cpuUsage();
    for (const s of scenes) {
      const t0 = process.hrtime.bigint();
      camera.render(s, frame);
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    const cpu = process.cpuUsage(cpu0);
    cpuUs += cpu.user + cpu.system;
    await new Promise((r) => setImmediate(r));
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return { task, camera: camera.name, width: camera.width, height: camera.height, depth: camera.config.depth, shadows: camera.config.shadows, renderUs: mean, renderP95Us: times[Math.floor(0.95 * (times.length - 1))] ?? mean, renderCpuUs: cpuUs / times.length, sceneUs };
}

/**
 * Meshes (an MJCF model's, on MuJoCo): a UV sphere of radius 10 cm with 2n² triangles, 40 cm in
 * front of a 64×64 camera (45°), turning; beside it the primitive sphere of the same size.
 * Task `mesh-sphere-<triangles>` / `primitive-sphere`.
 */
async function meshCameraRows(): Promise<CameraBenchResult[]> {
  process.stderr.write('bench sim: mesh cameras…\n');
  const camera = (): Camera => new Camera(parseCamera({ name: 'front', fovDeg: 45, pose: { kind: 'fixed', position: [0, 0, 0], lookAt: [1, 0, 0] } }));
  const poses = (k: number): number[] => [0.4, 0, 0, 0, 0, Math.sin(k / 20), Math.cos(k / 20)];
  const rows = [await timeCamera('primitive-sphere', camera(), Array.from({ length: 16 }, (_, k) => ({ shapes: [{ name: 's', kind: 'sphere' as const, size: [0.1], role: 'robot' as const }], poses: poses(k) })), 0)];
  for (const n of [16, 64, 160]) {
    const vertices: number[] = [];
    const faces: number[] = [];
    for (let i = 0; i <= n; i++) {
      for (let j = 0; j <= n; j++) {
        const th = (Math.PI * i) / n;
        const ph = (2 * Math.PI * j) / n;
        vertices.push(0.1 * Math.sin(th) * Math.cos(ph), 0.1 * Math.sin(th) * Math.sin(ph), 0.1 * Math.cos(th));
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const a = i * (n + 1) + j;
        faces.push(a, a + n + 1, a + 1, a + 1, a + n + 1, a + n + 2);
      }
    }
    const shape: SceneShape = { name: 's', kind: 'mesh', size: [0.1, 0.1, 0.1], role: 'robot', mesh: { vertices, faces } };
    rows.push(await timeCamera(`mesh-sphere-${2 * n * n}`, camera(), Array.from({ length: 16 }, (_, k) => ({ shapes: [shape], poses: poses(k) })), 0));
    if (n === 16) continue;
    // Over a floor, without and with shadows (the mesh casts one onto the floor).
    const floor: SceneShape = { name: 'floor', kind: 'box', size: [1, 1, 0.02], role: 'fixture' };
    const onFloor = Array.from({ length: 16 }, (_, k) => ({ shapes: [floor, shape], poses: [0.4, 0, -0.17, 0, 0, 0, 1, ...poses(k)] }));
    for (const shadows of [false, true]) {
      const cam = new Camera(parseCamera({ name: 'front', fovDeg: 45, pose: { kind: 'fixed', position: [0, 0, 0], lookAt: [1, 0, -0.2] }, shadows }));
      rows.push(await timeCamera(`mesh-sphere-${2 * n * n}-over-floor`, cam, onFloor, 0));
    }
  }
  return rows;
}
