/**
 * What each Rapier change of issue 21 item 4 buys on the Panda tasks, and the tasks against an
 * older checkout, both measured so a loaded, shared machine hits every variant alike: variants
 * interleaved in one process in chunks of 50 control steps, CPU time (process.cpuUsage) per step.
 *
 *   npx tsx bench/rapier-speed.ts                 # physics only, one row per change
 *   npx tsx bench/rapier-speed.ts /tmp/old872     # + the tasks against that checkout's (git archive 872df7e)
 *   npx tsx bench/rapier-speed.ts /tmp/r021       # + against this tree on Rapier 0.21's plain build (docs/benchmarks.md)
 *
 * ROUNDS (default 30) sets the chunks per variant; WARMUP (default 3000) the control steps each
 * env of a checkout comparison runs untimed first; CHECKOUT_TASKS (default PandaReach-v0,PandaPush-v0)
 * the tasks compared with the checkout. Prints JSON lines.
 *
 * The checkout comparison runs first and warms both trees alike: when the physics rows ran first
 * (stepping this tree's Rapier module only; each tree loads its own), this tree read ~1.2× faster
 * than an identical copy of itself — most likely V8's tiering, which compiles wasm fast first and
 * optimises a function once it has run enough (measured 2026-12-05; with the warm-up, 0.96–1.04×).
 */
import { existsSync } from 'node:fs';
import { Rng } from '../control/rng.js';
import { envChunks, interleaved } from './interleave.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { isSyncEnv, type Env, type SyncEnv } from '../control/env.js';
import { RapierPhysics } from '../sim/rapier-physics.js';
import { loadRapier } from '../sim/rapier.js';
import type { Physics, PhysicsModel, PhysicsOptions } from '../sim/physics.js';
import { PANDA_READY } from '../tasks/panda.js';
import { PandaPush } from '../tasks/panda-push.js';
import { PandaReach } from '../tasks/panda-reach.js';
import { make } from '../tasks/registry.js';

const ROUNDS = Number(process.env['ROUNDS'] ?? 30);
const WARMUP = Number(process.env['WARMUP'] ?? 3000);
const TASKS = ['PandaReach-v0', 'PandaPush-v0'] as const;

/** The physics changes, cumulative, then settings tried and not taken. */
const VARIANTS: { name: string; weldFingers: boolean; timing: Partial<PhysicsOptions> }[] = [
  { name: 'before: fingers servoed, 10 world steps of 4 x 8 iterations', weldFingers: false, timing: { mergeSteps: 1, solverIterations: 4, pgsIterations: 8 } },
  { name: '+ fingers welded', weldFingers: true, timing: { mergeSteps: 1, solverIterations: 4, pgsIterations: 8 } },
  { name: '+ one world step per control period', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 4, pgsIterations: 8 } },
  { name: '+ 4 x 5 iterations (shipped)', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 4, pgsIterations: 5 } },
  { name: 'not taken: 4 x 4', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 4, pgsIterations: 4 } },
  { name: 'not taken: 3 x 6', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 3, pgsIterations: 6 } },
  { name: 'not taken: 2 x 8', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 2, pgsIterations: 8 } },
  // The first setting at 2x against 872df7e on reach, and cheaper ones: each fails fidelity tests (docs/benchmarks.md).
  { name: 'not taken: 4 x 3', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 4, pgsIterations: 3 } },
  { name: 'not taken: 4 x 2', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 4, pgsIterations: 2 } },
  // More substeps with fewer sweeps cost more: a substep's fixed work outweighs a sweep.
  { name: 'not taken: 6 x 2', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 6, pgsIterations: 2 } },
  { name: 'not taken: 8 x 1', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 8, pgsIterations: 1 } },
  { name: 'not taken: 10 x 1', weldFingers: true, timing: { mergeSteps: 10, solverIterations: 10, pgsIterations: 1 } },
];

function physicsRows(task: (typeof TASKS)[number]): void {
  let model: PhysicsModel | null = null;
  const grab = (m: PhysicsModel): Physics => {
    model = m;
    return new RapierPhysics(m);
  };
  (task === 'PandaPush-v0' ? new PandaPush({ engine: grab }) : new PandaReach({ engine: grab })).close();
  if (!model) throw new Error(`${task} built no physics`);
  const base: PhysicsModel = model;
  const physics = VARIANTS.map((v) => new RapierPhysics({ ...base, actuation: { ...base.actuation, weldFingers: v.weldFingers }, timing: { ...base.timing, ...v.timing } }));
  const rng = new Rng(1);
  const q = new Float64Array(7);
  const qd = new Float64Array(7);
  const us = interleaved(physics.length, 50, ROUNDS, (i) => {
    const p = physics[i] as RapierPhysics;
    p.restore();
    p.setJointState(PANDA_READY);
    for (let t = 0; t < 50; t++) {
      p.readJointState(q, qd);
      p.command(Array.from(q, (v) => v + 0.08 * rng.uniform(-1, 1)));
      p.step();
    }
  });
  VARIANTS.forEach((v, i) => console.log(JSON.stringify({ task, variant: v.name, physicsCpuUs: Math.round(us[i] as number), speedup: +((us[0] as number) / (us[i] as number)).toFixed(2) })));
  for (const p of physics) p.close();
}

/** Control steps of the task here and in the checkout at `oldRoot` (its registry at tasks/registry.ts, or sim/registry.ts as at 872df7e). */
async function againstCheckout(task: string, oldRoot: string): Promise<void> {
  const registry = existsSync(`${oldRoot}/tasks/registry.ts`) ? `${oldRoot}/tasks/registry.ts` : `${oldRoot}/sim/registry.ts`;
  const old: { make(id: string): Promise<Env>; unwrap(env: Env): Env } = {
    make: ((await import(registry)) as { make(id: string): Promise<Env> }).make,
    unwrap: ((await import(`${oldRoot}/control/wrappers/wrapper.ts`)) as { unwrap(env: Env): Env }).unwrap,
  };
  const envs = [old.unwrap(await old.make(task)), unwrap(await make(task, { options: { engine: 'rapier' } }))];
  const sync = envs.map((e) => {
    if (!isSyncEnv(e)) throw new Error(`${task} has no synchronous fast path`);
    return e;
  }) as [SyncEnv, SyncEnv];
  const rng = new Rng(7);
  const space = sync[1].spec.actionSpace;
  if (space.kind !== 'box') throw new Error(`${task}: a continuous action space expected`);
  const dim = space.shape[0] as number;
  const actions = Array.from({ length: 512 }, () => Float32Array.from({ length: dim }, () => rng.uniform(-1, 1)));
  // Both envs see the same actions and resets, in 50-step chunks.
  const run = envChunks(sync, actions);
  for (let w = 0; w < WARMUP; w += 50) for (const i of [0, 1]) run(i);
  const us = interleaved(2, 50, ROUNDS, run);
  console.log(JSON.stringify({ task, oldCpuUsPerStep: Math.round(us[0] as number), newCpuUsPerStep: Math.round(us[1] as number), ratio: +((us[0] as number) / (us[1] as number)).toFixed(2), steps: 50 * ROUNDS }));
  await Promise.all(envs.map((e) => e.close()));
}

await loadRapier();
const oldRoot = process.argv[2];
if (oldRoot) for (const task of (process.env['CHECKOUT_TASKS'] ?? TASKS.join(',')).split(',')) await againstCheckout(task, oldRoot);
for (const task of TASKS) physicsRows(task);
