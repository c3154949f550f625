import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type AddressInfo } from 'ws';
import { runControlLoop } from '../control/control-loop.js';
import { percentile } from '../control/running-stats.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import type { RobotEnv } from '../robots/robot-env.js';
import { RosbridgeServer } from '../robots/ros/rosbridge-server.js';
import { RosRobotEnv } from '../robots/ros/ros-env.js';
import { XControlTable } from '../robots/serial/dynamixel/protocol.js';
import { DynamixelEmulator, FramedEmulator } from '../robots/serial/emulators.js';
import { SerialLink } from '../robots/serial/link.js';
import { DynamixelRobotEnv, FramedRobotEnv } from '../robots/serial/serial-env.js';
import { qpWorstCase } from './qp.js';
import { robotTask } from '../robots/task.js';
import { make } from '../tasks/registry.js';

const STEPS = Number(process.env['BRIDGES_STEPS'] ?? 2000);
/** Paced steps per link in the pacing measurement (25 Hz: 200 steps = 8 s). */
const PACED_STEPS = Number(process.env['BRIDGES_PACED_STEPS'] ?? 200);
const ms = (xs: number[], p: number): number => percentile(xs, p);

export interface Pacing {
  readonly link: string;
  /** The emulator's own rate (joint states / physics ticks per second), not the control rate. */
  readonly sensorHz: number;
  readonly controlPeriodMs: number;
  readonly stepPeriodP50Ms: number;
  readonly stepPeriodP99Ms: number;
  /** Age of the observation a step returns (sensor stamp to return), p50, ms. */
  readonly obsAgeP50Ms: number;
  readonly truncated: number;
}

/** Step periods (return to return) of `PACED_STEPS` steps on a robot env against a free-running emulator. */
async function pacing(link: string, sensorHz: number, env: RobotEnv): Promise<Pacing> {
  await env.reset({ seed: 0 });
  const periods: number[] = [];
  const ages: number[] = [];
  let truncated = 0;
  let last = performance.now();
  const hold = new Float32Array(7);
  for (let i = 0; i < PACED_STEPS; i++) {
    const r = await env.step(hold);
    const now = performance.now();
    periods.push(now - last);
    last = now;
    ages.push(r.info.obsAgeMs ?? Number.NaN);
    if (r.truncated || r.terminated) {
      truncated += r.truncated ? 1 : 0;
      await env.reset();
      last = performance.now();
    }
  }
  const p = periods.slice(1);
  return { link, sensorHz, controlPeriodMs: 1000 / env.spec.controlHz, stepPeriodP50Ms: ms(p, 0.5), stepPeriodP99Ms: ms(p, 0.99), obsAgeP50Ms: ms(ages, 0.5), truncated };
}

/** A socat pty pair: `host` for the driver, `robot` for the emulator. */
async function ptyPair(): Promise<{ host: string; robot: string; kill: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'roborl-bench-pty-'));
  const socat = spawn('socat', [`pty,raw,echo=0,link=${dir}/host`, `pty,raw,echo=0,link=${dir}/robot`], { stdio: 'ignore' });
  while (!existsSync(`${dir}/host`) || !existsSync(`${dir}/robot`)) await new Promise((r) => setTimeout(r, 10));
  return { host: `${dir}/host`, robot: `${dir}/robot`, kill: () => void socat.kill() };
}

/** Pacing of the three links, each against its emulator free-running at a rate that is not the control rate. */
async function pacingAll(): Promise<{ pacing: Pacing[]; serialSyncReadMs: number[] }> {
  const task = robotTask('PandaReach-v0');
  const out: Pacing[] = [];
  // ROS: joint states at 100 Hz.
  const rosRobot = await SimulatedRobot.create('PandaReach-v0', { sensorHz: 100 });
  void rosRobot.run();
  const server = await RosbridgeServer.start(rosRobot, { port: 0 });
  const ros = await RosRobotEnv.connect(task, { url: server.url, jointStateTopic: '/joint_states', command: { topic: server.commandTopic, type: 'std_msgs/Float64MultiArray' }, resetService: server.resetService });
  out.push(await pacing('ros', 100, ros));
  await ros.close();
  await server.close();
  await rosRobot.close();
  // Dynamixel and framed over socat ptys: servo physics ticks / STATE frames at 60 Hz.
  let serialSyncReadMs: number[] = [];
  for (const protocol of ['dynamixel', 'framed'] as const) {
    const pty = await ptyPair();
    const robot = await SimulatedRobot.create('PandaReach-v0', { sensorHz: 60 });
    void robot.run();
    const robotLink = await SerialLink.open({ path: pty.robot });
    const emulator = protocol === 'dynamixel' ? new DynamixelEmulator(robotLink, robot) : new FramedEmulator(robotLink, robot);
    const env = protocol === 'dynamixel' ? await DynamixelRobotEnv.connect(task, { path: pty.host }) : await FramedRobotEnv.connect(task, { path: pty.host });
    out.push(await pacing(protocol, 60, env));
    if (env instanceof DynamixelRobotEnv) serialSyncReadMs = await syncReadTimes(env);
    await env.close();
    if (emulator instanceof FramedEmulator) emulator.close();
    await robotLink.close();
    await robot.close();
    pty.kill();
  }
  return { pacing: out, serialSyncReadMs };
}

/** The raw serial transaction: a sync read of present velocity + position from 7 servos, STEPS times. */
async function syncReadTimes(env: DynamixelRobotEnv): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    await env.bus.syncRead(XControlTable.PresentVelocity.address, 8, env.ids);
    out.push(performance.now() - t0);
  }
  return out;
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

/** `roborl train --robot` on one link while its learner runs flat out (issue 22). */
export interface TrainingPacing {
  readonly link: string;
  readonly controlPeriodMs: number;
  /** Robot steps measured (step return to step return, as in {@link Pacing}). */
  readonly steps: number;
  readonly stepPeriodP50Ms: number;
  readonly stepPeriodP99Ms: number;
  readonly stepPeriodMaxMs: number;
  /** Learner updates over the run and per env step (the config asks for {@link TRAINING_UTD}). */
  readonly updates: number;
  readonly updatesPerStep: number;
  readonly lateCommands: number;
  readonly staleSteps: number;
  /** 1-minute load average when the run started and ended (the machine is shared). */
  readonly load: readonly [number, number];
  /** p50 within 5% of the period and p99 ≤ 1.5× the period. */
  readonly aimMet: boolean;
}

/** Env steps per link in the training-pacing measurement (25 Hz: 500 steps ≈ 20 s of arm time). */
const TRAINING_STEPS = Number(process.env['BRIDGES_TRAINING_STEPS'] ?? 500);
/** Updates asked per env step: far more than the learner can make at 25 Hz, so it never rests. */
const TRAINING_UTD = 20;
const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

/** A `roborl` child process; `out()` is what it wrote so far; `exit` its status. */
function roborl(args: string[]): { proc: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out, exit: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

async function waitForText(p: { out: () => string }, re: RegExp, ms: number): Promise<RegExpExecArray> {
  const end = performance.now() + ms;
  for (;;) {
    const m = re.exec(p.out());
    if (m) return m;
    if (performance.now() > end) throw new Error(`timed out waiting for ${re}: ${p.out().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `roborl train --robot` against `roborl serve` (its own process, as a robot is), free-running:
 * ROS at 100 Hz joint states, Dynamixel and framed serial over socat pty pairs (`BRIDGES_PACING_LINKS`
 * picks). The learner is a full-size SAC
 * (256×256, batch 256) asked for {@link TRAINING_UTD} updates per step from step 100 on, so it
 * is busy for the whole run; the robot's actor thread reports its step periods (metrics `info`
 * records), read back from the run folder.
 */
async function trainingPacingAll(): Promise<TrainingPacing[]> {
  const dir = mkdtempSync(join(tmpdir(), 'roborl-bench-train-robot-'));
  const config = join(dir, 'reach.yaml');
  writeFileSync(config, `name: training-pacing\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [256, 256], batchSize: 256, utd: ${TRAINING_UTD}, learningStarts: 100 }\ntrain: { steps: ${TRAINING_STEPS}, evalEvery: 0, evalEpisodes: 1, checkpointEvery: ${TRAINING_STEPS}, logEvery: 50 }\n`);
  const out: TrainingPacing[] = [];
  // Serial links: the actor's thread opens the port with its own poller (robots/serial/binding.ts).
  const known = ['ros', 'dynamixel', 'framed'] as const;
  const links = (process.env['BRIDGES_PACING_LINKS'] ?? known.join(',')).split(',').map((l) => {
    const link = known.find((k) => k === l.trim());
    if (!link) throw new Error(`BRIDGES_PACING_LINKS: unknown link "${l}" (known: ${known.join(', ')})`);
    return link;
  });
  for (const link of links) {
    const pty = link === 'ros' ? null : await ptyPair();
    const served = link === 'ros' ? roborl(['serve', 'ros', '--env', 'PandaReach-v0', '--port', '0']) : roborl(['serve', 'serial', '--env', 'PandaReach-v0', '--protocol', link, '--port', (pty as { robot: string }).robot]);
    try {
      const robotYaml = join(dir, `${link}.yaml`);
      if (link === 'ros') {
        const url = (await waitForText(served, /on (ws:\/\/\S+) \(rosbridge/, 60_000))[1] as string;
        writeFileSync(robotYaml, `kind: ros\ntask: PandaReach-v0\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 100\n`);
      } else {
        await waitForText(served, /serving PandaReach-v0 on /, 60_000);
        // A 100 ms bus timeout (Dynamixel) as the one-policy-three-robots test uses: the emulator shares two cores with the learner.
        writeFileSync(robotYaml, `kind: ${link}\ntask: PandaReach-v0\nport: ${(pty as { host: string }).host}\n${link === 'dynamixel' ? 'timeoutMs: 100\n' : ''}timeLimit: 100\n`);
      }
      const run = join(dir, `run-${link}`);
      const loadBefore = loadavg()[0] as number;
      const train = roborl(['train', config, '--robot', robotYaml, '--run-dir', run, '--quiet']);
      const code = await train.exit;
      if (code !== 0) throw new Error(`roborl train --robot on ${link} exited ${code}: ${train.out().slice(-1000)}`);
      const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; updates?: number; robot?: { steps: number; controlPeriodMs: number; stepPeriodP50Ms: number; stepPeriodP99Ms: number; stepPeriodMaxMs: number; link: Record<string, number> } });
      const robot = records.filter((r) => r.robot).at(-1)?.robot;
      if (!robot) throw new Error(`roborl train --robot on ${link} reported no step periods`);
      const updates = records.filter((r) => r.type === 'train').at(-1)?.updates ?? 0;
      const T = robot.controlPeriodMs;
      out.push({
        link,
        controlPeriodMs: T,
        steps: robot.steps,
        stepPeriodP50Ms: robot.stepPeriodP50Ms,
        stepPeriodP99Ms: robot.stepPeriodP99Ms,
        stepPeriodMaxMs: robot.stepPeriodMaxMs,
        updates,
        updatesPerStep: updates / TRAINING_STEPS,
        lateCommands: robot.link['lateCommands'] ?? 0,
        staleSteps: robot.link['staleSteps'] ?? 0,
        load: [loadBefore, loadavg()[0] as number],
        aimMet: Math.abs(robot.stepPeriodP50Ms - T) <= 0.05 * T && robot.stepPeriodP99Ms <= 1.5 * T,
      });
    } finally {
      served.proc.kill('SIGINT');
      await served.exit;
      pty?.kill();
    }
  }
  return out;
}

export async function bridgesBenchmark(json: boolean): Promise<unknown> {
  if (process.env['BRIDGES_ONLY'] === 'trainingPacing') {
    const trainingPacing = await trainingPacingAll();
    if (!json) printTrainingPacing(trainingPacing);
    return { trainingPacing };
  }
  const { pacing: paced, serialSyncReadMs } = await pacingAll();
  const trainingPacing = await trainingPacingAll();
  const echo = await wsEchoMs();
  const throughput = await rosThroughput();
  const loop100 = await loopP99(100, 1000);
  const loop1k = await loopP99(1000, 5000);
  const qp = qpWorstCase();
  const result = {
    pacing: paced,
    trainingPacing,
    qpWorstMs: qp.qpWorstMs,
    serialSyncReadP50Ms: ms(serialSyncReadMs, 0.5),
    serialSyncReadP99Ms: ms(serialSyncReadMs, 0.99),
    wsEchoP50Ms: ms(echo, 0.5),
    wsEchoP99Ms: ms(echo, 0.99),
    loop100HzP99Ms: loop100.p99,
    loop1kHzP99Ms: loop1k.p99,
    detail: { steps: STEPS, pacedSteps: PACED_STEPS, rosMessagesPerSec: throughput, loop100Hz: loop100, loop1kHz: loop1k, qpCases: qp.qpCases },
  };
  if (!json) {
    for (const p of paced) process.stdout.write(`${p.link.padEnd(9)} (emulator ${p.sensorHz} Hz, control ${p.controlPeriodMs.toFixed(1)} ms): step period p50 ${p.stepPeriodP50Ms.toFixed(2)} ms, p99 ${p.stepPeriodP99Ms.toFixed(2)} ms, observation age p50 ${p.obsAgeP50Ms.toFixed(1)} ms, ${p.truncated} cut off\n`);
    process.stdout.write(`shield QP worst case (7-D, 8 constraints, infeasible included): ${qp.qpWorstMs.toFixed(3)} ms\n`);
    process.stdout.write(`serial sync read (7 servos, socat pty): p50 ${result.serialSyncReadP50Ms.toFixed(3)} ms, p99 ${result.serialSyncReadP99Ms.toFixed(3)} ms; WebSocket echo p50 ${result.wsEchoP50Ms.toFixed(3)} ms\n`);
    process.stdout.write(`ROS env intake: ${throughput.toFixed(0)} JointState messages/s\n`);
    process.stdout.write(`loop period error p99: ${loop100.p99.toFixed(3)} ms at 100 Hz, ${loop1k.p99.toFixed(3)} ms at 1 kHz\n`);
    printTrainingPacing(trainingPacing);
  }
  return result;
}

function printTrainingPacing(rows: readonly TrainingPacing[]): void {
  for (const r of rows) process.stdout.write(`train --robot ${r.link.padEnd(9)} (control ${r.controlPeriodMs.toFixed(1)} ms, learner ${r.updatesPerStep.toFixed(1)} updates/step): step period p50 ${r.stepPeriodP50Ms.toFixed(2)} ms, p99 ${r.stepPeriodP99Ms.toFixed(2)} ms, max ${r.stepPeriodMaxMs.toFixed(1)} ms over ${r.steps} steps; ${r.lateCommands} late, ${r.staleSteps} stale; load ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)}; aim ${r.aimMet ? 'met' : 'not met'}\n`);
}
