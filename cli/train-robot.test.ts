import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLatestCheckpoint } from '../policies/checkpoint.js';
import { ReplayBuffer } from '../policies/replay.js';
import type { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import { ptyPair, servedArm, servedRos } from '../test/robot-fixtures.js';
import { waitFor } from '../test/wait-for.js';

/**
 * `roborl train <config> --robot <robot.yaml>` (issue 22) against the simulated arm served over
 * rosbridge on 127.0.0.1 (free-running at the wall clock, joint states at 100 Hz): the run as a
 * child process, as a person starts it. Generous waits, no timing assertions (the pacing is
 * measured in `bench bridges`, row trainingPacing).
 */
const BIN = fileURLToPath(new URL('./bin.mjs', import.meta.url));
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

function start(args: string[]): { proc: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out, exit: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

/** The run's metrics lines (none before the file exists). */
function metrics(runDir: string): { type: string; step: number; [k: string]: unknown }[] {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; step: number });
}

const newestStep = (runDir: string): number => metrics(runDir).at(-1)?.step ?? 0;
const until = (what: string, check: () => boolean, ms = 120_000): Promise<void> => waitFor(what, check, ms, 50);

/**
 * What the arm was sent and what it measured: the last command, and the joint states published
 * in the half second before it. A hold is a measured position sent back unchanged (within
 * `tolerance`: a servo bus quantises positions); a policy's action (a joint-target delta) is not.
 */
function watch(robot: SimulatedRobot, tolerance = 1e-9): { last: () => Float64Array | null; wasHold: () => boolean; commands: () => number } {
  const states: Float64Array[] = [];
  let last: Float64Array | null = null;
  let hold = false;
  let commands = 0;
  robot.onState((s) => {
    states.push(Float64Array.from(s.position));
    if (states.length > 50) states.shift();
  });
  robot.onCommand((targets) => {
    const c = Float64Array.from(targets);
    last = c;
    hold = states.some((s) => s.every((q, i) => Math.abs(q - (c[i] as number)) < tolerance));
    commands++;
  });
  return { last: () => last, wasHold: () => hold, commands: () => commands };
}

function files(dir: string, steps: number, robotExtra = '', configExtra = ''): { config: string; robot: (url: string) => string } {
  const config = join(dir, 'reach.yaml');
  writeFileSync(config, `name: reach-on-arm\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 50 }\ntrain: { steps: ${steps}, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 50, logEvery: 25 }\ndistributed: { sendEvery: 10 }\n${configExtra}`);
  return {
    config,
    robot: (url) => {
      const path = join(dir, 'arm.yaml');
      writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 40\n${robotExtra}`);
      return path;
    },
  };
}

describe('roborl train --robot', () => {
  it('refuses, before anything is written: a robot running another task, more than one actor, the Redis transport, a streaming learner, a robot that cannot be reached (ROS or serial)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-train-robot-refuse-'));
    const robot = join(dir, 'arm.yaml');
    // Nothing listens on port 1: connecting fails (quickly, by the timeout).
    writeFileSync(robot, 'kind: ros\ntask: PandaReach-v0\nurl: ws://127.0.0.1:1\ncommand: { topic: /c, type: std_msgs/Float64MultiArray }\nconnectTimeoutMs: 2000\n');
    const config = (name: string, body: string): string => {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(path, `name: ${name}\n${body}`);
      return path;
    };
    const sac = 'env: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [8], batchSize: 8 }\ntrain: { steps: 100 }\n';
    const cases: [string, RegExp][] = [
      [config('pendulum', 'env: { id: Pendulum-v1 }\nalgo: { kind: sac, hidden: [8], batchSize: 8 }\ntrain: { steps: 100 }\n'), /arm\.yaml runs task PandaReach-v0; the config trains Pendulum-v1/],
      [config('two', `${sac}distributed: { actors: 2 }\n`), /--robot drives one arm with one actor; the config asks for distributed\.actors: 2/],
      [config('redis', `${sac}distributed: { transport: redis }\n`), /--robot runs the robot's actor and the learner in this process .* roborl actor <config> --robot/],
      [config('stream', 'env: { id: PandaReach-v0 }\nalgo: { kind: stream-ac }\ntrain: { steps: 100 }\n'), /--robot trains SAC \/ RLPD/],
      [config('unreachable', sac), /ws:\/\/127\.0\.0\.1:1/],
      [config('serial', sac), /\/nonexistent\/ttyUSB9/],
    ];
    const serial = join(dir, 'servos.yaml');
    writeFileSync(serial, 'kind: dynamixel\ntask: PandaReach-v0\nport: /nonexistent/ttyUSB9\n');
    const runs = cases.map(([path], i) => ({ run: join(dir, `run${i}`), p: start(['train', path, '--robot', path.endsWith('serial.yaml') ? serial : robot, '--run-dir', join(dir, `run${i}`), '--quiet']) }));
    for (const [i, { run, p }] of runs.entries()) {
      expect(await p.exit).not.toBe(0);
      expect(p.out()).toMatch((cases[i] as [string, RegExp])[1]);
      expect(existsSync(run) && readdirSync(run).length > 0).toBe(false);
    }
  }, 180_000);

  it('runs its steps on the arm with checkpoints and metrics; Ctrl-C holds the arm and checkpoints every step it sent; --resume needs --robot again and goes on as a new incarnation of the actor', async () => {
    const { server, robot } = await servedRos('realtime');
    const arm = watch(robot);
    const dir = mkdtempSync(join(tmpdir(), 'roborl-train-robot-'));
    const { config, robot: robotYaml } = files(dir, 300);
    const yaml = robotYaml(server.url);
    const run = join(dir, 'run');
    const first = start(['train', config, '--robot', yaml, '--run-dir', run, '--quiet']);
    await until('the run past step 100', () => newestStep(run) >= 100);
    first.proc.kill('SIGINT');
    expect(await first.exit).toBe(130);
    const out = first.out();
    const stopped = Number(/SIGINT: stopped at step (\d+) with a checkpoint.*; the robot was sent its hold command; continue with: roborl train --resume \S+ --robot \S+arm\.yaml/.exec(out)?.[1]);
    expect(stopped).toBeGreaterThanOrEqual(100);
    // The arm's last command was its hold: a measured position sent back.
    expect(arm.wasHold()).toBe(true);
    // The checkpoint holds every step the learner counted, the actor's last ones included.
    const ckpt = loadLatestCheckpoint(join(run, 'checkpoints'));
    expect(ckpt?.step).toBe(stopped);
    expect((ckpt?.header['replay'] as { count: number }).count).toBe(stopped);
    const records = metrics(run);
    expect(records.some((r) => r.type === 'episode')).toBe(true);
    const pacing = records.filter((r) => r.type === 'info' && r['robot'] !== undefined).at(-1)?.['robot'] as { steps: number; controlPeriodMs: number; stepPeriodP50Ms: number } | undefined;
    expect(pacing?.controlPeriodMs).toBe(40);
    expect(pacing?.steps).toBeGreaterThan(50);
    expect(pacing?.stepPeriodP50Ms).toBeGreaterThan(0);
    expect(out).toMatch(/robot: \d+ steps, step period p50 [\d.]+ ms, p99 [\d.]+ ms \(control period 40\.0 ms\)/);

    // --resume alone would train this run's policy on the simulator: refused, naming the robot.
    const alone = start(['train', '--resume', run, '--quiet']);
    expect(await alone.exit).not.toBe(0);
    expect(alone.out()).toMatch(/trains on a robot \(\S+arm\.yaml\): continue it there with `roborl train --resume \S+ --robot \S+arm\.yaml`/);

    const commandsBefore = arm.commands();
    const again = start(['train', '--resume', run, '--robot', yaml, '--quiet']);
    expect(await again.exit).toBe(0);
    expect(again.out()).toMatch(new RegExp(`resumed from .* at step ${stopped}`));
    expect(arm.commands()).toBeGreaterThan(commandsBefore);
    const final = loadLatestCheckpoint(join(run, 'checkpoints'));
    expect(final?.step).toBeGreaterThanOrEqual(300);
    // Actor ids and incarnations survive the restart: the resumed run's actor is actor0's second incarnation.
    const streams = (final?.header['distributed'] as { streams: [string, number, ...unknown[]][] }).streams;
    expect(streams.map(([actor, epoch]) => `${actor}#${epoch}`).sort()).toEqual(['actor0#1', 'actor0#2']);
    expect(arm.wasHold()).toBe(true);
  }, 300_000);

  it('a Dynamixel arm over a real pty pair: the actor thread opens the serial port and steps the arm; the run checkpoints every step and ends with the arm on its hold', async () => {
    const { host, robot: robotSide, dir } = await ptyPair();
    // States published at the physics rate (250 Hz): the bus reads the live arm, which changes only
    // at a physics step, so its hold is one of the states watched here. At 60 Hz the read fell
    // between them, more than 10 ticks off when the arm moved fast (a CI run with both cores busy).
    const { robot } = await servedArm('dynamixel', robotSide, 250);
    // A Dynamixel position is a tick (2π/4096 rad): the hold is within 10 ticks of a watched
    // state; a policy step (up to 0.08 rad ≈ 52 ticks a joint) is not, on all seven joints.
    const arm = watch(robot, (10 * 2 * Math.PI) / 4096);
    const { config } = files(dir, 150);
    const servos = join(dir, 'servos.yaml');
    writeFileSync(servos, `kind: dynamixel\ntask: PandaReach-v0\nport: ${host}\nbaudRate: 1000000\nids: [1, 2, 3, 4, 5, 6, 7]\ntimeoutMs: 50\nretries: 2\nstaleAfterMs: 500\ntimeLimit: 40\n`);
    const run = join(dir, 'run');
    const p = start(['train', config, '--robot', servos, '--run-dir', run, '--quiet']);
    expect(await p.exit, p.out()).toBe(0);
    const ckpt = loadLatestCheckpoint(join(run, 'checkpoints'));
    expect(ckpt?.step).toBeGreaterThanOrEqual(150);
    expect((ckpt?.header['replay'] as { count: number }).count).toBe(ckpt?.step);
    // The bus carried the run: well over one command a step, and the last one held the arm.
    expect(arm.commands()).toBeGreaterThanOrEqual(150);
    expect(arm.wasHold()).toBe(true);
    const pacing = metrics(run).filter((r) => r.type === 'info' && r['robot'] !== undefined).at(-1)?.['robot'] as { steps: number; controlPeriodMs: number } | undefined;
    expect(pacing?.controlPeriodMs).toBe(40);
    expect(pacing?.steps).toBeGreaterThan(50);
    expect(p.out()).toMatch(/robot: \d+ steps, step period p50 [\d.]+ ms/);
  }, 240_000);

  it('a stale link during training: the arm gets its hold, the run stops with a checkpoint and says why; --resume goes on once the link is back', async () => {
    const { server, robot } = await servedRos('realtime');
    const arm = watch(robot);
    const dir = mkdtempSync(join(tmpdir(), 'roborl-train-robot-stale-'));
    const { config, robot: robotYaml } = files(dir, 2000, 'staleAfterMs: 300\nlinkWaitMs: 500\n');
    const yaml = robotYaml(server.url);
    const run = join(dir, 'run');
    const p = start(['train', config, '--robot', yaml, '--run-dir', run, '--quiet']);
    await until('the run past step 100', () => newestStep(run) >= 100);
    // Mid-episode (metrics arrive as episodes end, when the arm is being reset): ten steps on.
    const commands = arm.commands();
    await until('ten more steps', () => arm.commands() >= commands + 10);
    // The robot's driver stalls: no joint state arrives any more (commands still reach it).
    robot.stop();
    const code = await p.exit;
    expect(code).not.toBe(0);
    expect(code).not.toBe(null);
    const out = p.out();
    expect(out).toMatch(/no fresh joint state .*; safe stop, episode truncated/);
    expect(out).toMatch(/the robot's actor stopped: actor0: .*no joint state/);
    expect(out).toMatch(/checkpoint written/);
    expect(out).toMatch(/continue with: roborl train --resume \S+ --robot \S+arm\.yaml/);
    expect(arm.wasHold()).toBe(true);
    // What it learned is kept: the checkpoint at the step it stopped, with every step in its table, and the metrics up to it.
    const ckpt = loadLatestCheckpoint(join(run, 'checkpoints'));
    expect(ckpt?.step).toBeGreaterThanOrEqual(100);
    expect((ckpt?.header['replay'] as { count: number }).count).toBe(ckpt?.step);
    expect(metrics(run).some((r) => r.type === 'episode' && r.step <= (ckpt?.step ?? 0))).toBe(true);
    const status = JSON.parse(readFileSync(join(run, 'status.json'), 'utf8')) as { state: string; error?: string };
    expect(status.state).toBe('failed');

    void robot.run(); // the driver is back
    const target = (ckpt?.step ?? 0) + 80;
    const again = start(['train', '--resume', run, '--robot', yaml, '--steps', String(target), '--quiet']);
    expect(await again.exit).toBe(0);
    expect(loadLatestCheckpoint(join(run, 'checkpoints'))?.step).toBeGreaterThanOrEqual(target);
  }, 300_000);

  it('--teleop: the person\'s transitions on the arm reach both buffers, as HIL-SERL stores them', async () => {
    const { server } = await servedRos('realtime');
    const dir = mkdtempSync(join(tmpdir(), 'roborl-train-robot-hil-'));
    const { config, robot: robotYaml } = files(dir, 150, '', 'hil: { buffers: both, simulated: { budget: 0.5 } }\n');
    const run = join(dir, 'run');
    const p = start(['train', config, '--robot', robotYaml(server.url), '--teleop', 'simulated', '--run-dir', run, '--quiet']);
    expect(await p.exit).toBe(0);
    const ckpt = loadLatestCheckpoint(join(run, 'checkpoints'));
    const human = ckpt?.header['humanTransitions'];
    expect(typeof human === 'number' && human > 0).toBe(true);
    expect((ckpt?.header['demoTable'] as { count: number }).count).toBeGreaterThan(0);
    expect(metrics(run).some((r) => r.type === 'episode' && typeof (r['human'] as { steps?: number } | undefined)?.steps === 'number' && ((r['human'] as { steps: number }).steps > 0))).toBe(true);
  }, 180_000);

  it('--teleop keyboard in a real terminal: the keys reach the arm from the actor thread and the demo table; Esc is the e-stop — the arm holds, the run checkpoints and says how to go on', async () => {
    const { server, robot } = await servedRos('realtime');
    const arm = watch(robot);
    const dir = mkdtempSync(join(tmpdir(), 'roborl-train-robot-kb-'));
    const { config, robot: robotYaml } = files(dir, 5000, '', 'hil: { buffers: both }\n');
    const run = join(dir, 'run');
    // `script` gives roborl a real terminal; what this test writes to script's stdin is typed into it.
    const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} train ${config} --robot ${robotYaml(server.url)} --teleop keyboard --run-dir ${run} --quiet`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    procs.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await until('the arm stepping', () => /run folder:/.test(out) && arm.commands() > 20);
    child.stdin.write(' '); // take over
    // Hold joint 1 + until an episode record shows the person drove (each episode is 40 steps).
    const drove = (): boolean => metrics(run).some((r) => r.type === 'episode' && ((r['human'] as { steps?: number } | undefined)?.steps ?? 0) > 5);
    for (let k = 0; k < 3000 && !drove(); k++) {
      child.stdin.write('q');
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(drove()).toBe(true);
    child.stdin.write(' '); // hand back
    await new Promise((r) => setTimeout(r, 500));
    child.stdin.write('\x1b'); // Esc alone: the e-stop
    expect(await exited).toBe(1);
    expect(out).toMatch(/e-stop: the robot holds; stopped at step (\d+) with a checkpoint.*continue with: roborl train --resume \S+ --robot \S+arm\.yaml/);
    expect(arm.wasHold()).toBe(true);
    const ckpt = loadLatestCheckpoint(join(run, 'checkpoints'));
    const stopped = Number(/stopped at step (\d+)/.exec(out)?.[1]);
    expect(ckpt?.step).toBe(stopped);
    // The person's transitions (joint 1 +, the q key) are in the demo table, which holds only theirs.
    const h = ckpt!.header as { learnerSections: number; replaySections: number; demoTable: Record<string, unknown>; humanTransitions: number };
    expect(h.humanTransitions).toBeGreaterThan(5);
    const demos = ReplayBuffer.decode(h.demoTable, ckpt!.sections.slice(h.learnerSections + h.replaySections), ckpt!.path);
    expect(demos.size).toBeGreaterThan(5);
    expect((JSON.parse(readFileSync(join(run, 'status.json'), 'utf8')) as { state: string }).state).toBe('stopped');
  }, 300_000);
});
