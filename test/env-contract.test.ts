import { describe, expect, it } from 'vitest';
import { checkEnv } from '../control/check-env.js';
import { EnvStateError, InvalidActionError } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { contains, frameSize, sample, type ObservationSpace } from '../control/spaces.js';
import type { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import type { RobotEnv } from '../robots/robot-env.js';
import { RosRobotEnv } from '../robots/ros/ros-env.js';
import { DynamixelRobotEnv, FramedRobotEnv } from '../robots/serial/serial-env.js';
import { robotTask } from '../robots/task.js';
import type { Env } from '../control/env.js';
import type { Observation } from '../control/spaces.js';
import { makeObserved } from '../tasks/cameras.js';
import { envEntry, listEnvs, type MakeOptions } from '../tasks/registry.js';
import { cleanup, ptyPair, servedArm, servedRos, until } from './robot-fixtures.js';

/**
 * The contract suite: every registered env — on every physics engine it runs on, and every env
 * registered later, simulated or a robot emulator — must pass it unchanged.
 */
/**
 * Every registered env, a physical task once on each of its engines; and every Panda task (a scene
 * to render) once more as a camera observation ({state: proprioception, front: a 32×32 frame},
 * issue 23), on its first engine (the frame is the same on each: tasks/cameras.test.ts).
 */
const variants: [string, string, Record<string, unknown>][] = listEnvs().flatMap((id) => {
  const engines = envEntry(id).engines;
  const plain: [string, string, Record<string, unknown>][] = engines.length ? engines.map((engine): [string, string, Record<string, unknown>] => [`${id} on ${engine}`, id, { engine }]) : [[id, id, {}]];
  const camera = { cameras: [{ name: 'front', width: 32, height: 32, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] } }], state: 'proprio' };
  return id.startsWith('Panda') ? [...plain, [`${id} seen by a camera`, id, engines.length ? { engine: engines[0], ...camera } : camera]] : plain;
});

/** Any observation as numbers, for equality: the state, then each camera's frame by name. */
const flat = (obs: Observation): number[] => (obs instanceof Float32Array ? Array.from(obs) : [...Array.from(obs.state), ...Object.keys(obs).filter((k) => k !== 'state').sort().flatMap((k) => Array.from(obs[k] as Uint8Array))]);
const make = (id: string, options: MakeOptions): Promise<Env<Observation>> => makeObserved(id, options);
/** Inside the space: the state within its bounds, each frame bytes of its camera's size. */
const inSpace = (space: ObservationSpace, obs: Observation): boolean => {
  if (space.kind !== 'dict') return obs instanceof Float32Array && contains(space, obs, 1e-5);
  if (obs instanceof Float32Array || !contains(space.state, obs.state, 1e-5)) return false;
  return Object.entries(space.cameras).every(([name, c]) => obs[name] instanceof Uint8Array && obs[name].length === frameSize(c)) && Object.keys(obs).length === Object.keys(space.cameras).length + 1;
};

describe.each(variants)('env contract: %s', (_name, id, options) => {
  it('passes checkEnv (spaces, determinism, bad actions, reset after an episode end)', async () => {
    const env = await make(id, { options });
    const { steps } = await checkEnv(env);
    expect(steps).toBeGreaterThan(30);
    await env.close();
  });

  it('two fresh instances with the same seed and actions give bit-identical rollouts', async () => {
    const [a, b] = [await make(id, { options }), await make(id, { options })];
    const rng = new Rng(11);
    const ra = await a.reset({ seed: 3 });
    const rb = await b.reset({ seed: 3 });
    expect(flat(ra.obs)).toEqual(flat(rb.obs));
    for (let t = 0; t < 25; t++) {
      const action = sample(a.spec.actionSpace, rng);
      const [sa, sb] = [await a.step(action), await b.step(action)];
      expect(flat(sa.obs)).toEqual(flat(sb.obs));
      expect(sa.reward).toBe(sb.reward);
      expect(Array.from(sa.costs)).toEqual(Array.from(sb.costs));
      if (sa.terminated || sa.truncated) break;
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('different seeds give different initial states', async () => {
    const env = await make(id, { options });
    const o1 = (await env.reset({ seed: 1 })).obs;
    const o2 = (await env.reset({ seed: 2 })).obs;
    expect(flat(o1)).not.toEqual(flat(o2));
    await env.close();
  });

  it('rejects bad actions with an error naming the env and the index', async () => {
    const env = await make(id, { options });
    await env.reset({ seed: 0 });
    const good = sample(env.spec.actionSpace, new Rng(0));
    const nan = Float32Array.from(good);
    nan[nan.length - 1] = Number.NaN;
    await expect(env.step(nan)).rejects.toThrow(InvalidActionError);
    await expect(env.step(nan)).rejects.toThrow(new RegExp(`${id}.*action\\[${nan.length - 1}\\]`));
    await expect(env.step(new Float32Array(good.length + 2))).rejects.toThrow(/length/);
    await env.close();
  });

  it('keeps observations inside the observation space over a random episode', async () => {
    const env = await make(id, { options });
    const rng = new Rng(5);
    let { obs } = await env.reset({ seed: 5 });
    let steps = 0;
    for (;;) {
      expect(inSpace(env.spec.observationSpace, obs)).toBe(true);
      const r = await env.step(sample(env.spec.actionSpace, rng));
      steps++;
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    expect(steps).toBeLessThanOrEqual(env.spec.maxEpisodeSteps ?? Infinity);
    await env.close();
  });

  it('refuses step() before reset() and after close()', async () => {
    const env = await make(id, { timeLimit: false, options });
    const action = sample(env.spec.actionSpace, new Rng(0));
    await expect(env.step(action)).rejects.toThrow(EnvStateError);
    await env.reset({ seed: 0 });
    await env.close();
    await env.close(); // idempotent
    await expect(env.step(action)).rejects.toThrow(/after close/);
  });
});

/**
 * The same contract on the robot envs, each over its emulator (a free-running simulated arm
 * behind rosbridge, a Dynamixel chain or the framed protocol on a socat pty). Determinism does
 * not apply to a robot running in real time; what a seed decides (the goal; the start pose
 * where the env drives there itself) does.
 */
const robots: [string, () => Promise<{ env: RobotEnv; robot: SimulatedRobot }>][] = [
  [
    'RosRobotEnv',
    async () => {
      const { server, robot } = await servedRos('realtime');
      const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url: server.url, jointStateTopic: '/joint_states', command: { topic: server.commandTopic, type: 'std_msgs/Float64MultiArray' }, resetService: '/reset' });
      cleanup.push(() => env.close());
      return { env, robot };
    },
  ],
  [
    'DynamixelRobotEnv',
    async () => {
      const { host, robot: tty } = await ptyPair();
      const { robot } = await servedArm('dynamixel', tty);
      const env = await DynamixelRobotEnv.connect(robotTask('PandaReach-v0'), { path: host, timeoutMs: 200 }, { resetSpeed: 2 });
      cleanup.push(() => env.close());
      return { env, robot };
    },
  ],
  [
    'FramedRobotEnv',
    async () => {
      const { host, robot: tty } = await ptyPair();
      const { robot } = await servedArm('framed', tty, 100);
      const env = await FramedRobotEnv.connect(robotTask('PandaReach-v0'), { path: host });
      cleanup.push(() => env.close());
      return { env, robot };
    },
  ],
];

describe.each(robots)('env contract on a robot: %s over its emulator', (_name, connect) => {
  it('rejects bad actions with an error naming the env and the index, and sends nothing to the robot', async () => {
    const { env, robot } = await connect();
    const id = env.spec.id;
    await env.reset({ seed: 0 });
    const commands = robot.counters.commands;
    const nan = new Float32Array(7);
    nan[6] = Number.NaN;
    await expect(env.step(nan)).rejects.toThrow(InvalidActionError);
    await expect(env.step(nan)).rejects.toThrow(new RegExp(`${id}.*action\\[6\\]`));
    await expect(env.step(new Float32Array(9))).rejects.toThrow(/length/);
    await expect(env.step(Float32Array.of(0, 0, 0, Number.POSITIVE_INFINITY, 0, 0, 0))).rejects.toThrow(InvalidActionError);
    expect(robot.counters.commands).toBe(commands);
    // The episode goes on: a good action is taken and reaches the robot.
    await env.step(new Float32Array(7));
    expect(await until(() => robot.counters.commands > commands)).toBe(true);
  }, 30_000);

  it('refuses step() before reset() and after close(); close is idempotent', async () => {
    const { env } = await connect();
    await expect(env.step(new Float32Array(7))).rejects.toThrow(EnvStateError);
    await env.reset({ seed: 0 });
    await env.close();
    await env.close();
    await expect(env.step(new Float32Array(7))).rejects.toThrow(EnvStateError);
    await expect(env.step(new Float32Array(7))).rejects.toThrow(/after close/);
    await expect(env.reset({ seed: 0 })).rejects.toThrow(/after close/);
  }, 30_000);

  it('a seed decides the goal (the same seed the same goal, others another) and observations stay inside the space', async () => {
    const { env } = await connect();
    const goal = (obs: Float32Array): number[] => Array.from(obs.subarray(17, 20)); // PandaReach: q, q̇, TCP, goal, goal − TCP
    const a = (await env.reset({ seed: 1 })).obs;
    const rng = new Rng(5);
    for (let t = 0; t < 5; t++) {
      const r = await env.step(sample(env.spec.actionSpace, rng));
      expect(contains(env.spec.observationSpace, r.obs, 1e-5)).toBe(true);
      expect(r.obs.every(Number.isFinite)).toBe(true);
      if (r.terminated || r.truncated) break; // (a stalled machine can cut an episode short)
    }
    const b = (await env.reset({ seed: 2 })).obs;
    const c = (await env.reset({ seed: 1 })).obs;
    expect(goal(c)).toEqual(goal(a));
    expect(goal(b)).not.toEqual(goal(a));
    await expect(env.reset({ seed: -1 })).rejects.toThrow(/seed/);
  }, 60_000);
});
