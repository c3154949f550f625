import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Env } from '../control/env.js';
import { percentile } from '../control/running-stats.js';
import { Rng } from '../control/rng.js';
import { make } from '../tasks/registry.js';
import { cleanup, ptyPair, servedArm, servedRos } from '../test/robot-fixtures.js';
import { rosTime } from './ros/messages.js';
import { RosRobotEnv } from './ros/ros-env.js';
import type { RobotEnv } from './robot-env.js';
import { DynamixelRobotEnv, FramedRobotEnv } from './serial/serial-env.js';
import { robotTask } from './task.js';

beforeAll(() => {
  if (spawnSync('socat', ['-V']).status !== 0) throw new Error('these tests need socat (apt-get install socat); .ci/run installs it');
});

const COMMAND = { topic: '/joint_group_position_controller/command', type: 'std_msgs/Float64MultiArray' } as const;
const PERIOD_MS = 40; // PandaReach-v0 runs at 25 Hz

/** Runs `steps` steps of a constant action; returns each step's period (ms, return to return) and whether its state was measured after its command. */
async function timedSteps(env: Env, action: Float32Array, steps: number): Promise<{ periods: number[]; staleStates: number; truncated: number }> {
  await env.reset({ seed: 0 });
  const periods: number[] = [];
  let staleStates = 0;
  let truncated = 0;
  let last = performance.now();
  for (let k = 0; k < steps; k++) {
    const sentEpoch = Date.now();
    const r = await env.step(action);
    const now = performance.now();
    periods.push(now - last);
    last = now;
    // ms resolution of the epoch clock: a state stamped in the same millisecond counts as after.
    if ((r.info.obsTimestampMs as number) < sentEpoch - 1) staleStates++;
    if (r.truncated) truncated++;
  }
  return { periods: periods.slice(1), staleStates, truncated };
}

/**
 * The displacement of joint 1 after `steps` steps of +1 on it, from the seed-0 start: where
 * the arm really is when the last step returns (`truth`: the emulator's own state, free of
 * sensor age), or the last observation.
 */
async function joint1Travel(env: Env, steps: number, truth?: () => number): Promise<number> {
  const a = new Float32Array(7);
  a[0] = 1;
  const { obs: o0 } = await env.reset({ seed: 0 });
  const start = truth ? truth() : (o0[0] as number);
  let obs = o0;
  for (let k = 0; k < steps; k++) obs = (await env.step(a)).obs;
  // Reach observations start with the seven joint positions.
  return (truth ? truth() : (obs[0] as number)) - start;
}

function expectPaced(periods: number[]): void {
  // p50 within 15% of the 40 ms period (the free-running emulators publish at 100 / 60 Hz, and
  // Dynamixel reads answer in ~2 ms: unpaced steps ran 4–20× faster than this).
  expect(percentile(periods, 0.5)).toBeGreaterThan(0.85 * PERIOD_MS);
  expect(percentile(periods, 0.5)).toBeLessThan(1.15 * PERIOD_MS);
}

describe('a robot step lasts one control period (free-running emulators)', () => {
  it('ROS: 25 Hz steps against a 100 Hz joint-state publisher, each state measured after its command', async () => {
    const { server } = await servedRos('realtime', { sensorHz: 100 });
    const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url: server.url, jointStateTopic: '/joint_states', command: COMMAND, resetService: '/reset' });
    cleanup.push(() => env.close());
    const r = await timedSteps(env, new Float32Array(7), 30);
    expectPaced(r.periods);
    expect(r.staleStates).toBe(0);
    expect(r.truncated).toBe(0);
  }, 30_000);

  it('ROS: a state that arrives after the command but was stamped before it is not taken as its result', async () => {
    // A driver whose joint states reach us 60 ms after they were measured (stamp = measurement).
    const names = [...robotTask('PandaReach-v0').jointNames];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const timers: NodeJS.Timeout[] = [];
    cleanup.push(() => (timers.forEach(clearInterval), new Promise<void>((r) => wss.close(() => r()))));
    let q = [0, -0.785, 0, -2.356, 0, 1.571, 0.785];
    wss.on('connection', (ws) => {
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { op: string; topic?: string; msg?: { data?: number[] }; id?: string; service?: string; args?: { topic?: string } };
        if (m.op === 'publish' && m.msg?.data) q = m.msg.data; // an ideal arm: at its target at once
        // rosapi as ROS 1 answers it: the joint states' type, '' for the command topic (no subscriber registered), the reset service's type.
        const rosapi: Record<string, unknown> = { '/rosapi/topic_type': { type: m.args?.topic === '/joint_states' ? 'sensor_msgs/JointState' : '' }, '/rosapi/service_type': { type: 'std_srvs/Trigger' } };
        if (m.op === 'call_service') ws.send(JSON.stringify({ op: 'service_response', id: m.id, service: m.service, result: true, values: rosapi[m.service ?? ''] ?? { success: true, message: '' } }));
      });
      timers.push(
        setInterval(() => {
          const measured = Date.now();
          const position = [...q];
          setTimeout(() => ws.send(JSON.stringify({ op: 'publish', topic: '/joint_states', msg: { header: { seq: 0, stamp: rosTime(measured), frame_id: '' }, name: names, position, velocity: [], effort: [] } })), 60);
        }, 10),
      );
    });
    const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, jointStateTopic: '/joint_states', command: COMMAND, resetService: '/reset' });
    cleanup.push(() => env.close());
    const r = await timedSteps(env, new Float32Array(7), 15);
    expect(r.staleStates).toBe(0);
    expect(r.truncated).toBe(0);
    // Taking the state 60 ms late costs time: each step still lasts at least its period.
    expect(percentile(r.periods, 0.5)).toBeGreaterThan(0.85 * PERIOD_MS);
  }, 30_000);

  for (const protocol of ['dynamixel', 'framed'] as const) {
    it(`${protocol}: 25 Hz steps, and the arm moves as far per step as in the simulator`, async () => {
      const { host, robot: robotPath } = await ptyPair();
      // The framed arm streams states at 200 Hz here: at a step's deadline the freshest state is
      // up to one sensor period old, and the next command is computed from it (a 60 Hz stream
      // makes the arm move ~30% less per step than the simulator, which observes instantly).
      const { robot } = await servedArm(protocol, robotPath, protocol === 'framed' ? 200 : 60);
      const task = robotTask('PandaReach-v0');
      const env: RobotEnv = protocol === 'dynamixel' ? await DynamixelRobotEnv.connect(task, { path: host, timeoutMs: 100 }) : await FramedRobotEnv.connect(task, { path: host });
      cleanup.push(() => env.close());
      const r = await timedSteps(env, new Float32Array(7), 30);
      expectPaced(r.periods);
      expect(r.truncated).toBe(0);
      const sim = await make('PandaReach-v0');
      cleanup.push(() => sim.close());
      const onSim = await joint1Travel(sim, 12);
      const onRobot = await joint1Travel(env, 12, () => robot.state().position[0] as number);
      process.stderr.write(`${protocol}: joint 1 travel over 12 steps: sim ${onSim.toFixed(3)} rad, robot ${onRobot.toFixed(3)} rad\n`);
      // Unpaced, joint 1 moved a tenth of the simulator's travel for the same actions. Paced, the
      // arm (measured on the emulator) moves about as far as simulated — less when the states
      // reach the env late (each next command starts from an older position): measured 0.98–1.04×
      // on an idle machine, 0.74× once with the other test worker busy and 0.64× once under
      // stress-ng plus a test worker (the free-running emulator's physics falls behind too). The
      // bounds keep the unpaced failure (0.1×) and any overshoot out.
      expect(onSim).toBeGreaterThan(0.3);
      expect(onRobot).toBeGreaterThan(0.5 * onSim);
      expect(onRobot).toBeLessThan(1.35 * onSim);
    }, 60_000);
  }

  it('a reset without a reset service drives to the start pose at resetSpeed, paced', async () => {
    const { server, robot } = await servedRos('realtime', { sensorHz: 100 });
    const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url: server.url, jointStateTopic: '/joint_states', command: COMMAND }, { resetSpeed: 0.5 });
    cleanup.push(() => env.close());
    await env.reset({ seed: 0 });
    // Move joint 1 well away from the start pose, then reset.
    const a = new Float32Array(7);
    a[0] = 1;
    for (let k = 0; k < 10; k++) await env.step(a);
    const samples: { t: number; q: number[] }[] = [];
    const commands: number[] = [];
    const off = robot.onState((s) => samples.push({ t: performance.now(), q: Array.from(s.position) }));
    const offCommands = robot.onCommand((_targets, at) => commands.push(at));
    const t0 = performance.now();
    const { obs } = await env.reset({ seed: 1 });
    const elapsed = performance.now() - t0;
    off();
    offCommands();
    // It ends at seed 1's start pose: where the arm really is (the emulator's own state) and
    // what the episode's first observation says (the seven joint positions lead it).
    const start = robotTask('PandaReach-v0').startPositions(new Rng(1));
    const at = robot.state().position;
    for (let i = 0; i < 7; i++) {
      expect(Math.abs((at[i] as number) - (start[i] as number))).toBeLessThan(0.02);
      expect(Math.abs((obs[i] as number) - (start[i] as number))).toBeLessThan(0.011);
    }
    // One command per control period, on a fixed schedule (the move and the settling both):
    // not one jump to the target, and no burst. (A stall can delay a command, never add one.)
    expect(commands.length).toBeGreaterThan(10);
    expect(commands.length).toBeLessThanOrEqual(Math.ceil(elapsed / PERIOD_MS) + 2);
    expect(commands.length).toBeGreaterThanOrEqual(Math.floor((0.5 * ((commands.at(-1) as number) - (commands[0] as number))) / PERIOD_MS));
    // Joint speed over 200 ms windows (physics jitter averages out), fastest joint.
    let fastest = 0;
    for (let i = 0, j = 0; i < samples.length; i++) {
      while (j < samples.length && samples[j]!.t - samples[i]!.t < 200) j++;
      if (j >= samples.length) break;
      const dt = (samples[j]!.t - samples[i]!.t) / 1000;
      fastest = Math.max(fastest, ...samples[i]!.q.map((v, k) => Math.abs(samples[j]!.q[k]! - v) / dt));
    }
    expect(fastest).toBeGreaterThan(0.3); // it did move
    expect(fastest).toBeLessThan(0.5 * 1.2);
  }, 30_000);
});
