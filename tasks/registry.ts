import type { Env } from '../control/env.js';
import type { Policy } from '../control/policy.js';
import { ExpressionConstraints } from '../control/safety/expressions.js';
import type { ShieldModel } from '../control/safety/shield.js';
import { TimeLimit } from '../control/wrappers/time-limit.js';
import { loadMujoco } from '../sim/mujoco/module.js';
import { checkEngine } from '../sim/physics-task.js';
import { ENGINES, type EngineName, type PhysicsFactory } from '../sim/physics.js';
import { loadRapier } from '../sim/rapier.js';
import { CartPole, cartPoleExpert } from './cartpole.js';
import { PandaPickCube, pandaPickExpert } from './panda-pick.js';
import { PandaPush, pandaPushExpert } from './panda-push.js';
import { PandaTask, pandaTcpOfAction, pandaTcpTeleop, type PandaActionMap } from './panda.js';
import { PandaReach, pandaReachExpert } from './panda-reach.js';
import { keepOutShieldModel, PandaKeepOut, pandaKeepOutExpert } from './panda-keep-out.js';
import { Pendulum, pendulumExpert } from './pendulum.js';
import { RapierPendulum } from './rapier-pendulum.js';
import { Reacher, reacherExpert } from './reacher.js';
import { UrdfReach } from './urdf-reach.js';

/** One registered environment. */
export interface EnvEntry {
  readonly id: string;
  /** One line for `roborl envs`. */
  readonly summary: string;
  /** Option names the constructor accepts (anything else is rejected by `make`). */
  readonly optionKeys: readonly string[];
  /**
   * Physics engines the task runs on (its `engine` option; the first is the default); empty for
   * analytic tasks.
   */
  readonly engines: readonly EngineName[];
  /** Builds the raw env (no wrappers). The chosen engine's wasm module is loaded when this runs. */
  create(options: Record<string, unknown>): Env;
  /**
   * A scripted expert for demos and `roborl run --policy scripted`, if the task has one. Given
   * the raw env it will act on, it acts in that env's action space (a Panda task's `action`
   * option); without, in the task's default one.
   */
  readonly scripted?: (env?: Env) => Policy;
  /** The task's analytic shield model (Tier 1), if it has one. */
  readonly shield?: () => ShieldModel;
  /**
   * Cartesian teleop, if the task has it: maps a TCP velocity command v ∈ [−1, 1]³ (x, y, z at
   * full scale) and the observation to the task's action (through its Jacobian / IK).
   */
  readonly tcpTeleop?: () => (obs: Float32Array, v: Float32Array) => Float32Array;
  /**
   * The inverse view, with `tcpTeleop`: a task action at an observation → the TCP command v (same
   * units) asking for the displacement it commands, so a person driving in the tool frame sees
   * the policy's proposal in that frame.
   */
  readonly tcpOfAction?: () => (obs: Float32Array, action: Float32Array) => Float32Array;
}

export interface MakeOptions {
  /**
   * Time limit: `true` (default) applies the spec's `maxEpisodeSteps`, a number overrides it,
   * `false` leaves episodes unbounded.
   */
  readonly timeLimit?: boolean | number;
  /** Task options (see each task's documentation), validated by name here and by value in the task. */
  readonly options?: Record<string, unknown>;
}

const registry = new Map<string, EnvEntry>();

/** Adds an env to the registry. Ids must be unique. */
export function register(entry: EnvEntry): void {
  if (registry.has(entry.id)) throw new Error(`Env id "${entry.id}" is already registered`);
  registry.set(entry.id, entry);
}

/** Registered ids, sorted. */
export function listEnvs(): string[] {
  return [...registry.keys()].sort();
}

export function envEntry(id: string): EnvEntry {
  const entry = registry.get(id);
  if (!entry) {
    const close = suggest(id, [...registry.keys()]);
    throw new Error(`Unknown env id "${id}".${close.length ? ` Did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : ''} Known ids: ${listEnvs().join(', ')}`);
  }
  return entry;
}

/** Creates an env by id, with a time limit (see {@link MakeOptions}). */
export async function make(id: string, makeOptions: MakeOptions = {}): Promise<Env> {
  const entry = envEntry(id);
  const options = makeOptions.options ?? {};
  for (const key of Object.keys(options)) {
    if (!entry.optionKeys.includes(key)) {
      throw new Error(`${id}: unknown option "${key}"${entry.optionKeys.length ? ` (accepted: ${entry.optionKeys.join(', ')})` : ' (this env takes no options)'}`);
    }
  }
  if (entry.engines.length) {
    const engine = options['engine'] ?? entry.engines[0];
    if (!entry.engines.includes(engine as EngineName)) throw new Error(`${id}: option \`engine\` must be one of ${entry.engines.join(', ')}, got \`${String(engine)}\``);
    await (engine === 'mujoco' ? loadMujoco() : loadRapier());
  }
  let env: Env;
  try {
    env = entry.create(options);
  } catch (err) {
    throw new Error(`${id}: ${(err as Error).message}`, { cause: err });
  }
  const limit = makeOptions.timeLimit ?? true;
  if (limit === false) return env;
  const steps = limit === true ? env.spec.maxEpisodeSteps : limit;
  return steps === null ? env : new TimeLimit(env, steps);
}

/** Ids within edit distance 3 (or sharing a case-insensitive prefix), closest first. */
function suggest(id: string, ids: string[]): string[] {
  const lower = id.toLowerCase();
  return ids
    .map((c) => ({ c, d: editDistance(lower, c.toLowerCase()) }))
    .filter(({ c, d }) => d <= 3 || c.toLowerCase().startsWith(lower.split('-')[0] ?? lower))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ c }) => c);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

const num = (o: Record<string, unknown>, k: string): number | undefined => {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`Expected option \`${k}\` to be a finite number, got \`${String(v)}\``);
  return v;
};

/**
 * The `engine` option, checked by `make` against the entry's engines; the tasks check it again
 * (`checkEngine`), and take a physics factory there — what the robot side passes, in code only.
 */
const engine = (o: Record<string, unknown>): EngineName | PhysicsFactory | undefined => {
  const e = o['engine'];
  if (e === undefined || typeof e === 'function') return e as PhysicsFactory | undefined;
  return checkEngine(e) as EngineName;
};

/** A Panda task's action map (its `action` option), for experts that act in its frame. */
const pandaActionsOf = (env?: Env): PandaActionMap | undefined => (env instanceof PandaTask ? env.actions : undefined);

const str = (o: Record<string, unknown>, k: string): string | undefined => {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new TypeError(`Expected option \`${k}\` to be a non-empty string, got \`${String(v)}\``);
  return v;
};

register({
  id: Pendulum.ID,
  summary: "Gymnasium's Pendulum-v1, analytic and exact (for comparing with published curves)",
  optionKeys: ['g', 'velocityLimit'],
  engines: [],
  create: (o) => new Pendulum({ g: num(o, 'g'), velocityLimit: num(o, 'velocityLimit') }),
  scripted: pendulumExpert,
});
register({
  id: RapierPendulum.ID,
  summary: 'Pendulum swing-up of a physical rod on a torque-controlled hinge',
  optionKeys: ['velocityLimit', 'engine'],
  engines: ENGINES,
  create: (o) => new RapierPendulum({ engine: engine(o), velocityLimit: num(o, 'velocityLimit') }),
  scripted: pendulumExpert,
});
register({
  id: CartPole.CONTINUOUS_ID,
  summary: 'Cart-pole balancing, continuous force',
  optionKeys: ['edgeMargin', 'engine'],
  engines: ENGINES,
  create: (o) => new CartPole({ engine: engine(o), actions: 'continuous', edgeMargin: num(o, 'edgeMargin') }),
  scripted: () => cartPoleExpert(false),
});
register({
  id: CartPole.DISCRETE_ID,
  summary: 'Cart-pole balancing, two discrete pushes',
  optionKeys: ['edgeMargin', 'engine'],
  engines: ENGINES,
  create: (o) => new CartPole({ engine: engine(o), actions: 'discrete', edgeMargin: num(o, 'edgeMargin') }),
  scripted: () => cartPoleExpert(true),
});
register({
  id: Reacher.ID,
  summary: 'Two-link planar arm reaching random targets',
  optionKeys: ['velocityLimit', 'successRadius', 'engine'],
  engines: ENGINES,
  create: (o) => new Reacher({ engine: engine(o), velocityLimit: num(o, 'velocityLimit'), successRadius: num(o, 'successRadius') }),
  scripted: reacherExpert,
});
register({
  id: PandaReach.ID,
  summary: 'Franka Panda (7-DoF) moves its tool centre point to a random target',
  optionKeys: ['successHold', 'engine', 'action'],
  engines: ENGINES,
  create: (o) => new PandaReach({ engine: engine(o), successHold: num(o, 'successHold'), action: o['action'] }),
  scripted: (env) => pandaReachExpert(pandaActionsOf(env)),
  tcpTeleop: pandaTcpTeleop,
  tcpOfAction: pandaTcpOfAction,
});
register({
  id: PandaKeepOut.ID,
  summary: 'Panda reach around a keep-out sphere on the straight path (safe RL: keep_out cost)',
  optionKeys: ['engine'],
  engines: ENGINES,
  create: (o) => new PandaKeepOut({ engine: engine(o) }),
  scripted: pandaKeepOutExpert,
  tcpTeleop: pandaTcpTeleop,
  tcpOfAction: pandaTcpOfAction,
  shield: () => keepOutShieldModel(),
});
register({
  id: 'SafePendulum-v0',
  summary: 'Pendulum-v1 with a `speed` cost (1 while |θ̇| > 4 rad/s), declared as a mathjs expression',
  optionKeys: [],
  engines: [],
  create: () => {
    const inner = new Pendulum();
    return new ExpressionConstraints(inner, inner, [{ name: 'speed', cost: 'abs(thdot) > 4' }], 'SafePendulum-v0');
  },
  scripted: pendulumExpert,
});
register({
  id: UrdfReach.ID,
  summary: 'Any fixed-base arm from a URDF file (env option `urdf`, e.g. your own) or, on MuJoCo, an MJCF file (`mjcf`) moves its `tip` link to random goals',
  optionKeys: ['urdf', 'mjcf', 'tip', 'maxDelta', 'successRadius', 'controlHz', 'engine'],
  engines: ENGINES,
  create: (o) => new UrdfReach({ engine: engine(o), urdf: str(o, 'urdf'), mjcf: str(o, 'mjcf'), tip: str(o, 'tip'), maxDelta: num(o, 'maxDelta'), successRadius: num(o, 'successRadius'), controlHz: num(o, 'controlHz') }),
});
// The push task's two versions differ only in the units of two observed vectors (tasks/panda-push.ts).
for (const [version, id, summary] of [
  [0, PandaPush.ID, 'Franka Panda pushes a cube to a goal on a table, through contacts'],
  [1, PandaPush.ID_V1, 'PandaPush-v0 observing cube − TCP and goal − cube in decimetres (what configs/panda-push-rlpd.yaml learns)'],
] as const) {
  register({
    id,
    summary,
    optionKeys: ['successHold', 'engine', 'action'],
    engines: ENGINES,
    create: (o) => new PandaPush({ engine: engine(o), successHold: num(o, 'successHold'), action: o['action'] }, version),
    scripted: (env) => pandaPushExpert(pandaActionsOf(env)),
    tcpTeleop: pandaTcpTeleop,
    tcpOfAction: pandaTcpOfAction,
  });
}
register({
  id: PandaPickCube.ID,
  summary: "Franka Panda grasps a 5 cm cube and lifts it 10 cm (SERL's franka_sim PandaPickCube; gripper, dense or sparse reward)",
  optionKeys: ['action', 'reward', 'cubeMass', 'successHold', 'terminateOnSuccess', 'engine'],
  engines: ENGINES,
  create: (o) => new PandaPickCube({ engine: engine(o), action: o['action'], reward: o['reward'], cubeMass: num(o, 'cubeMass'), successHold: num(o, 'successHold'), terminateOnSuccess: o['terminateOnSuccess'] }),
  scripted: (env) => pandaPickExpert(pandaActionsOf(env)),
});
