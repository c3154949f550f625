/**
 * What each change to the MuJoCo model of a URDF robot buys (issue 21; docs/benchmarks.md,
 * "MuJoCo's model of the Panda made cheaper"): the task's model as shipped and with one change
 * undone at a time, each compiled and stepped directly (`mj_step`, one control period of fresh
 * joint targets q + 0.08·U(−1, 1)), interleaved in chunks of 50 control periods with the order
 * flipped each round, each chunk from the tasks' ready pose; CPU time per control period.
 *
 *   npx tsx bench/mujoco-model.ts                 # PandaReach-v0 and PandaPush-v0
 *   ROUNDS=40 TASKS=PandaReach-v0 npx tsx bench/mujoco-model.ts
 *
 * Prints JSON lines `{ task, variant, rawCpuUs, shippedSpeedup }` (shippedSpeedup: the variant's
 * time over the shipped model's; > 1 means the change pays).
 */
import type { MjData, MjModel } from '@mujoco/mujoco';
import { Rng } from '../control/rng.js';
import { interleaved } from './interleave.js';
import { loadMujoco } from '../sim/mujoco/module.js';
import { MujocoPhysics } from '../sim/mujoco/physics.js';
import type { Physics, PhysicsModel } from '../sim/physics.js';
import { PANDA_READY } from '../tasks/panda.js';
import { PandaPush } from '../tasks/panda-push.js';
import { PandaReach } from '../tasks/panda-reach.js';

const ROUNDS = Number(process.env['ROUNDS'] ?? 30);
const TASKS = (process.env['TASKS'] ?? 'PandaReach-v0,PandaPush-v0').split(',');

/** The task's physics model, as its constructor hands it to the engine. */
function modelOf(task: string): PhysicsModel {
  let model: PhysicsModel | null = null;
  const grab = (m: PhysicsModel): Physics => {
    model = m;
    return new MujocoPhysics(m);
  };
  if (task === 'PandaPush-v0') new PandaPush({ engine: grab }).close();
  else if (task === 'PandaReach-v0') new PandaReach({ engine: grab }).close();
  else throw new Error(`${task}: PandaReach-v0 or PandaPush-v0`);
  if (!model) throw new Error(`${task} built no physics`);
  return model;
}

/**
 * The shipped model and each change undone. The table and clearOf rows undo their change on the
 * model with broadphase contacts (what they were measured against before the listed pairs).
 */
function variants(model: PhysicsModel): [string, string][] {
  const shipped = MujocoPhysics.mjcf(model);
  const broadphase = MujocoPhysics.mjcf(model, { contactPairs: false });
  const flags = /<flag [^>]*\/>/;
  const table = /<body name="table#fixture"([^>]*)>(<geom [^>]*\/>)<\/body>/;
  if (!flags.test(shipped) || !table.test(broadphase) || !shipped.includes('<pair ')) throw new Error('the model no longer has the shape this bench undoes');
  return [
    ['shipped', shipped],
    ['undo: contacts listed as pairs, the arm meeting the table top as a plane (broadphase contacts, the table a box to the arm)', broadphase],
    ['undo: fixed links ride their parent body (a body per link)', MujocoPhysics.mjcf(model, { fuse: false })],
    ['undo: islands and midphase off', shipped.replace(flags, '<flag/>')],
    ['undo: clearOf exclusions (on broadphase contacts)', broadphase.replace(/ {2}<contact>[\s\S]*<\/contact>\n/, '')],
    ['undo: the table a static body (a world geom + an inert midphase geom, as before; on broadphase contacts)', broadphase.replace(table, (_, pose: string, geom: string) => `${geom.replace('/>', `${pose}/>`)}<geom name="world#midphase" type="sphere" size="0.001"${pose} contype="0" conaffinity="0" rgba="0 0 0 0"/>`).replaceAll('<exclude body1="table#fixture"', '<exclude body1="world"')],
    ['undo: servo kv as joint damping under Euler (actuator kv under implicitfast)', MujocoPhysics.mjcf(model, { servoDampingOnJoints: false })],
    ['undo: fingers welded', MujocoPhysics.mjcf({ ...model, actuation: { ...model.actuation, weldFingers: false } })],
  ];
}

const mj = await loadMujoco();
for (const task of TASKS) {
  const model = modelOf(task);
  const sims = variants(model).map(([name, xml]) => {
    const m = mj.MjModel.from_xml_string(xml) as MjModel;
    return { name, m, d: new mj.MjData(m) as MjData };
  });
  const rng = new Rng(3);
  const cpu = interleaved(
    sims.length,
    50,
    ROUNDS,
    (i) => {
      const { m, d } = sims[i] as (typeof sims)[number];
      for (let t = 0; t < 50; t++) {
        const ctrl = d.ctrl as Float64Array;
        const qpos = d.qpos as Float64Array;
        for (let k = 0; k < 7; k++) ctrl[k] = (qpos[k] as number) + 0.08 * rng.uniform(-1, 1);
        for (let k = 0; k < model.timing.substeps; k++) mj.mj_step(m, d);
      }
    },
    (i) => {
      // Each chunk from the tasks' ready pose (qpos 0 has joint 4 outside its range), untimed.
      const { m, d } = sims[i] as (typeof sims)[number];
      mj.mj_resetData(m, d);
      (d.qpos as Float64Array).set(PANDA_READY);
      (d.ctrl as Float64Array).set(PANDA_READY);
      mj.mj_forward(m, d);
    },
  );
  sims.forEach((s, i) => console.log(JSON.stringify({ task, variant: s.name, rawCpuUs: +(cpu[i] as number).toFixed(1), shippedSpeedup: +((cpu[i] as number) / (cpu[0] as number)).toFixed(2) })));
  for (const s of sims) {
    s.d.delete();
    s.m.delete();
  }
}
