import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer, type AddressInfo } from 'ws';
import { runControlLoop } from '../control/control-loop.js';
import { percentile } from '../control/running-stats.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import type { RobotEnv } from '../robots/robot-env.js';
import { RosbridgeServer } from '../robots/ros/rosbridge-server.js';
import { RosRobotEnv } from '../robots/ros/ros-env.js';
import { DynamixelEmulator } from '../robots/serial/emulators.js';
import { SerialLink } from '../robots/serial/link.js';
import { DynamixelRobotEnv } from '../robots/serial/serial-env.js';
import { robotTask } from '../robots/task.js';
import { make } from '../sim/registry.js';

const STEPS = Number(process.env['BRIDGES_STEPS'] ?? 2000);
const ms = (xs: number[], p: number): number => percentile(xs, p);

/**
 * Times `STEPS` env steps (command out → fresh joint state in) through a robot env against an
 * emulator in lockstep mode, and separately the emulator's own physics per step, so the
 * transport + bridge share is step − physics.
 */
async function stepTimes(env: RobotEnv, robot: SimulatedRobot): Promise<{ stepMs: number[]; physicsMs: number[] }> {
  const physicsMs: number[] = [];
  const tick = robot.tick.bind(robot);
  robot.tick = () => {
    const t0 = performance.now();
    tick();
    physicsMs.push(performance.now() - t0);
  };
  const stepMs: number[] = [];
  await env.reset({ seed: 0 });
  const hold = new Float32Array(7);
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    const r = await env.step(hold);
    stepMs.push(performance.now() - t0);
    if (r.truncated || r.terminated) await env.reset();
  }
  return { stepMs, physicsMs };
}

/** Raw WebSocket round trip with a JointState-sized JSON message (the transport alone). */
async function wsEchoMs(): Promise<number[]> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (s) => s.on('message', (d) => s.send(d.toString())));
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise((r) => ws.once('open', r));
  const msg = JSON.stringify({ op: 'publish', topic: '/joint_states', msg: { name: Array.from({ length: 7 }, (_, i) => `panda_joint${i + 1}`), position: new Array(7).fill(0.123456789), velocity: new Array(7).fill(0.1) } });
  const out: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      ws.once('message', () => r());
      ws.send(msg);
    });
    out.push(performance.now() - t0);
  }
  ws.close();
  await new Promise<void>((r) => wss.close(() => r()));
  return out;
}

/** Messages per second the ROS env takes in (validated and matched by name) from a flooding peer. */
async function rosThroughput(): Promise<number> {
  const names = robotTask('PandaReach-v0').jointNames;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const total = 50_000;
  wss.on('connection', (s) =>
    s.on('message', (d) => {
      if ((JSON.parse(d.toString()) as { op: string }).op !== 'subscribe') return;
      const msg = JSON.stringify({ op: 'publish', topic: '/joint_states', msg: { header: { stamp: { secs: 1, nsecs: 0 } }, name: [...names].reverse(), position: new Array(7).fill(0.1), velocity: new Array(7).fill(0) } });
      for (let i = 0; i < total; i++) s.send(msg);
    }),
  );
  const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, jointStateTopic: '/joint_states', command: { topic: '/c', type: 'std_msgs/Float64MultiArray' } });
  const t0 = performance.now();
  let first = 0;
  while (env.stats.statesReceived < total && performance.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 5));
    if (!first && env.stats.statesReceived > 0) first = performance.now();
  }
  const rate = (env.stats.statesReceived * 1000) / (performance.now() - (first || t0));
  await env.close();
  await new Promise<void>((r) => wss.close(() => r()));
  return rate;
}

/** Loop period error at `hz` on a cheap sim (the clock and the loop, not physics). */
async function loopP99(hz: number, ticks: number): Promise<{ p50: number; p99: number; max: number; missed: number }> {
  const env = await make('Pendulum-v1');
  const r = await runControlLoop(env, () => Float32Array.of(0.1), { ticks, hz });
  await env.close();
  return { p50: r.rate.errorP50Ms, p99: r.rate.errorP99Ms, max: r.rate.errorMaxMs, missed: r.rate.missedDeadlines };
}

export async function bridgesBenchmark(json: boolean): Promise<unknown> {
  const task = robotTask('PandaReach-v0');
  // ROS over loopback.
  const rosRobot = await SimulatedRobot.create('PandaReach-v0', { mode: 'lockstep' });
  const server = await RosbridgeServer.start(rosRobot, { port: 0 });
  const ros = await RosRobotEnv.connect(task, { url: server.url, jointStateTopic: '/joint_states', command: { topic: server.commandTopic, type: 'std_msgs/Float64MultiArray' }, resetService: server.resetService });
  const rosT = await stepTimes(ros, rosRobot);
  await ros.close();
  await server.close();
  await rosRobot.close();
  const echo = await wsEchoMs();
  // Serial: 7 Dynamixel servos, sync write + sync read, over a socat pty pair.
  const dir = mkdtempSync(join(tmpdir(), 'roborl-bench-pty-'));
  const socat = spawn('socat', [`pty,raw,echo=0,link=${dir}/host`, `pty,raw,echo=0,link=${dir}/robot`], { stdio: 'ignore' });
  while (!existsSync(`${dir}/host`) || !existsSync(`${dir}/robot`)) await new Promise((r) => setTimeout(r, 10));
  const serialRobot = await SimulatedRobot.create('PandaReach-v0', { mode: 'lockstep' });
  const robotLink = await SerialLink.open({ path: `${dir}/robot` });
  new DynamixelEmulator(robotLink, serialRobot);
  const serial = await DynamixelRobotEnv.connect(task, { path: `${dir}/host`, timeoutMs: 100 });
  const serialT = await stepTimes(serial, serialRobot);
  await serial.close();
  await robotLink.close();
  await serialRobot.close();
  socat.kill();
  const throughput = await rosThroughput();
  const loop100 = await loopP99(100, 1000);
  const loop1k = await loopP99(1000, 5000);
  const result = {
    rosStepP50Ms: ms(rosT.stepMs, 0.5),
    rosStepP99Ms: ms(rosT.stepMs, 0.99),
    serialStepP50Ms: ms(serialT.stepMs, 0.5),
    serialStepP99Ms: ms(serialT.stepMs, 0.99),
    loop100HzP99Ms: loop100.p99,
    loop1kHzP99Ms: loop1k.p99,
    detail: {
      steps: STEPS,
      emulatorPhysicsP50Ms: { ros: ms(rosT.physicsMs, 0.5), serial: ms(serialT.physicsMs, 0.5) },
      rosBridgeOverheadP50Ms: ms(rosT.stepMs, 0.5) - ms(rosT.physicsMs, 0.5) - ms(echo, 0.5),
      wsEchoP50Ms: ms(echo, 0.5),
      wsEchoP99Ms: ms(echo, 0.99),
      serialLinkP50Ms: ms(serialT.stepMs, 0.5) - ms(serialT.physicsMs, 0.5),
      rosMessagesPerSec: throughput,
      loop100Hz: loop100,
      loop1kHz: loop1k,
    },
  };
  if (!json) {
    process.stdout.write(`ROS step (loopback, lockstep emulator): p50 ${result.rosStepP50Ms.toFixed(3)} ms, p99 ${result.rosStepP99Ms.toFixed(3)} ms (physics p50 ${result.detail.emulatorPhysicsP50Ms.ros.toFixed(3)} ms, raw WebSocket echo p50 ${result.detail.wsEchoP50Ms.toFixed(3)} ms → bridge overhead ${result.detail.rosBridgeOverheadP50Ms.toFixed(3)} ms)\n`);
    process.stdout.write(`serial step (7 Dynamixel servos, sync write + sync read, socat pty): p50 ${result.serialStepP50Ms.toFixed(3)} ms, p99 ${result.serialStepP99Ms.toFixed(3)} ms\n`);
    process.stdout.write(`ROS env intake: ${throughput.toFixed(0)} JointState messages/s\n`);
    process.stdout.write(`loop period error p99: ${loop100.p99.toFixed(3)} ms at 100 Hz, ${loop1k.p99.toFixed(3)} ms at 1 kHz\n`);
  }
  return result;
}
