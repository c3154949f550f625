import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Env } from '../control/env.js';
import { cleanup, ptyPair, servedRos, until } from '../test/robot-fixtures.js';
import { connectRobot, loadRobotConfig } from './config.js';
import type { RobotEnv } from './robot-env.js';
import { SimulatedRobot } from './emulator/sim-robot.js';
import { u32, XControlTable } from './serial/dynamixel/protocol.js';
import { DynamixelEmulator } from './serial/emulators.js';
import { SerialLink } from './serial/link.js';
import { DynamixelRobotEnv, FramedRobotEnv } from './serial/serial-env.js';
import { robotTask } from './task.js';
import type { RosbridgeServer } from './ros/rosbridge-server.js';

/**
 * Issue 22 item 1, the robot side: a task whose action has a gripper entry sends it to the
 * robot — over rosbridge as franka_gripper's GripperCommand action goal (or a Float64MultiArray
 * of finger positions) — and the emulator moves its simulated fingers. Tool-frame actions:
 * [Δx, Δy, Δz, gripper], gripper −1 closed, +1 open.
 */
const TASK_OPTIONS = { action: { frame: 'tcp', gripper: true } };
const CLOSE = Float32Array.of(0, 0, 0, -1);
const HALF = Float32Array.of(0, 0, 0, 0);

async function rosArm(yamlExtra: string, serverOptions: Parameters<typeof servedRos>[1] = {}): Promise<{ env: Env; robot: RobotEnv; sim: SimulatedRobot; server: RosbridgeServer; log: string[] }> {
  const { robot: sim, server } = await servedRos('realtime', { gripper: true, ...serverOptions });
  const dir = mkdtempSync(join(tmpdir(), 'roborl-gripper-'));
  const path = join(dir, 'arm.yaml');
  writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\n${yamlExtra}`);
  const log: string[] = [];
  const { env, robot } = await connectRobot(loadRobotConfig(path), (l) => log.push(l), TASK_OPTIONS);
  cleanup.push(() => env.close());
  return { env, robot, sim, server, log };
}

const finger = (sim: SimulatedRobot): number => sim.state().fingers?.position[0] ?? Number.NaN;

describe('gripper over rosbridge (roborl serve ros)', () => {
  it('franka_gripper\'s GripperCommand goal (the default): a reset opens the fingers, a closing action closes them; goals go out when the target changes', async () => {
    const { env, robot, sim, server } = await rosArm('gripper: {}\n');
    await env.reset({ seed: 1 });
    expect(await until(() => sim.gripperTarget === 0.04, 5000)).toBe(true);
    expect(await until(() => finger(sim) > 0.035, 5000)).toBe(true);
    for (let i = 0; i < 10; i++) await env.step(CLOSE);
    expect(await until(() => sim.gripperTarget === 0, 5000)).toBe(true);
    expect(await until(() => finger(sim) < 0.003, 5000)).toBe(true);
    // One goal at the reset, one for closing: ten equal targets are not ten goals (each would preempt the last).
    expect(server.stats.gripperCommands).toBe(2);
    await env.step(HALF);
    expect(await until(() => server.stats.gripperCommands === 3, 5000)).toBe(true);
    expect(sim.gripperTarget).toBeCloseTo(0.02, 6);
    expect(server.stats.badMessages).toBe(0);
    expect(robot.stats.gripperSent).toBeGreaterThanOrEqual(12);
  }, 60_000);

  it('a Float64MultiArray of the two finger positions, on a configured topic: sent every step', async () => {
    const { env, sim, server } = await rosArm('gripper: { topic: /gripper_controller/command, type: std_msgs/Float64MultiArray }\n', { gripperTopic: '/gripper_controller/command', gripperType: 'std_msgs/Float64MultiArray' });
    await env.reset({ seed: 2 });
    for (let i = 0; i < 5; i++) await env.step(Float32Array.of(0, 0, 0, -0.5));
    // −0.5 of [−1, 1]: a quarter of the travel, 1 cm per finger.
    expect(await until(() => server.stats.gripperCommands === 6, 5000)).toBe(true);
    expect(sim.gripperTarget).toBeCloseTo(0.01, 6);
    expect(await until(() => Math.abs(finger(sim) - 0.01) < 0.003, 5000)).toBe(true);
    expect(server.stats.badMessages).toBe(0);
  }, 60_000);

  it('configs/robots/panda-ros-gripper.yaml loads with franka_gripper\'s goal topic; a bad gripper type or a servo with equal closed/open ticks is refused naming the field', () => {
    const config = loadRobotConfig(fileURLToPath(new URL('../configs/robots/panda-ros-gripper.yaml', import.meta.url)));
    expect(config).toMatchObject({ kind: 'ros', gripper: { topic: '/franka_gripper/gripper_action/goal', type: 'control_msgs/GripperCommandActionGoal', maxEffort: 20 } });
    const dir = mkdtempSync(join(tmpdir(), 'roborl-gripper-yaml-'));
    writeFileSync(join(dir, 'a.yaml'), 'kind: ros\ntask: PandaReach-v0\nurl: ws://127.0.0.1:9\ncommand: { topic: /c, type: std_msgs/Float64MultiArray }\ngripper: { type: franka_gripper/GraspAction }\n');
    expect(() => loadRobotConfig(join(dir, 'a.yaml'))).toThrow(/gripper\.type: /);
    writeFileSync(join(dir, 'b.yaml'), 'kind: dynamixel\ntask: PandaReach-v0\nport: /dev/null\ngripper: { id: 8, closed: 2048, open: 2048 }\n');
    expect(() => loadRobotConfig(join(dir, 'b.yaml'))).toThrow(/gripper: closed and open must be different ticks/);
  });

  it('a gripper task on a robot config without a gripper command is refused at connect, saying what to add', async () => {
    await expect(rosArm('')).rejects.toThrow(/PandaReach-v0: the task's action has a gripper entry \(action.gripper\), but the robot config has no gripper command: add `gripper: \{ topic, type \}`/);
  }, 30_000);

  it('the emulator refuses malformed and out-of-range gripper commands, naming why, and the fingers stay where they were', async () => {
    const lines: string[] = [];
    const { server, robot: sim } = await servedRos('realtime', { gripper: true, log: (l) => lines.push(l) });
    sim.commandGripper(0.03);
    const ws = new WebSocket(server.url);
    cleanup.push(() => ws.close());
    await new Promise((r) => ws.once('open', r));
    const goal = (command: unknown): string => JSON.stringify({ op: 'publish', topic: '/franka_gripper/gripper_action/goal', msg: { goal_id: { id: 'x' }, goal: { command } } });
    const bad = [
      goal({ position: 0.08, max_effort: 20 }), // the width, not each finger's position
      goal({ position: -0.01, max_effort: 20 }),
      goal({ position: 'open', max_effort: 20 }),
      goal({ position: 0.01, max_effort: -5 }),
      goal({ position: 0.01, speed: 1 }),
      JSON.stringify({ op: 'publish', topic: '/franka_gripper/gripper_action/goal', msg: { goal: [] } }),
      JSON.stringify({ op: 'advertise', topic: '/franka_gripper/gripper_action/goal', type: 'std_msgs/Float64MultiArray' }),
    ];
    for (const m of bad) ws.send(m);
    expect(await until(() => server.stats.badMessages === bad.length, 5000)).toBe(true);
    expect(server.stats.gripperCommands).toBe(0);
    expect(sim.gripperTarget).toBe(0.03);
    const said = lines.join('\n');
    expect(said).toMatch(/gripper position 0\.08 m is outside the fingers' travel \[0, 0\.04\] \(each finger's position, not the width\)/);
    expect(said).toMatch(/gripper position -0\.01 m is outside/);
    expect(said).toMatch(/msg\.goal\.command\.position is not a finite number/);
    expect(said).toMatch(/max_effort -5 N is negative/);
    expect(said).toMatch(/msg\.goal\.command has no field "speed"/);
    expect(said).toMatch(/cannot advertise it as std_msgs\/Float64MultiArray/);
    // A good one still moves the fingers.
    ws.send(goal({ position: 0.01, max_effort: 20 }));
    expect(await until(() => sim.gripperTarget === 0.01, 5000)).toBe(true);
  }, 30_000);

  it('a stale link still holds the arm, and the gripper keeps its grip (no new command opens it)', async () => {
    const { env, sim, server } = await rosArm('gripper: {}\nstaleAfterMs: 300\n');
    await env.reset({ seed: 3 });
    for (let i = 0; i < 5; i++) await env.step(CLOSE);
    expect(await until(() => sim.gripperTarget === 0, 5000)).toBe(true);
    const robotCommands: Float64Array[] = [];
    sim.onCommand((t) => robotCommands.push(t));
    sim.stop(); // the robot stops publishing joint states (a stalled driver)
    const before = sim.state().position;
    const r = await env.step(Float32Array.of(1, 0, 0, 1));
    expect(r.truncated).toBe(true);
    expect(String(r.info.linkError)).toMatch(/no fresh joint state/);
    // The step's own goal (open) went out before its state was found stale; the safe stop sent
    // the grip back: reset (open), close, the step's open, the hold's close.
    expect(await until(() => server.stats.gripperCommands === 4, 5000)).toBe(true);
    expect(sim.gripperTarget).toBe(0);
    // The arm's last command is the hold at the last measured joints, not the step's +x.
    const held = robotCommands.at(-1) as Float64Array;
    for (let i = 0; i < 7; i++) expect(held[i]).toBeCloseTo(before[i] as number, 2);
  }, 60_000);
});

describe('gripper on a Dynamixel robot (the servo emulator over a socat pty)', () => {
  async function servoArm(yamlGripper: string): Promise<{ env: Env; servos: DynamixelRobotEnv; sim: SimulatedRobot; emulator: DynamixelEmulator }> {
    const { host, robot: robotPath } = await ptyPair();
    const sim = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz: 60, gripper: true });
    void sim.run();
    const link = await SerialLink.open({ path: robotPath });
    const emulator = new DynamixelEmulator(link, sim, 1, { id: 8, closed: 2048, open: 3072 });
    cleanup.push(async () => {
      await link.close();
      await sim.close();
    });
    const path = join(mkdtempSync(join(tmpdir(), 'roborl-servo-gripper-')), 'arm.yaml');
    writeFileSync(path, `kind: dynamixel\ntask: PandaReach-v0\nport: ${host}\ntimeoutMs: 100\nretries: 3\n${yamlGripper}`);
    const { env, robot } = await connectRobot(loadRobotConfig(path), () => {}, TASK_OPTIONS);
    cleanup.push(() => env.close());
    if (!(robot instanceof DynamixelRobotEnv)) throw new Error('expected a Dynamixel robot');
    return { env, servos: robot, sim, emulator };
  }

  it('the gripper servo (its ID in the robot YAML) gets each step\'s opening as a Goal Position; the emulated fingers follow; a goal past its limits is refused, naming the servo', async () => {
    const { env, servos, sim, emulator } = await servoArm('gripper: { id: 8 }\n');
    await env.reset({ seed: 4 });
    expect(await until(() => sim.gripperTarget === 0.04, 5000)).toBe(true);
    for (let i = 0; i < 8; i++) await env.step(CLOSE);
    expect(await until(() => sim.gripperTarget === 0, 5000)).toBe(true);
    expect(await until(() => finger(sim) < 0.003, 5000)).toBe(true);
    await env.step(Float32Array.of(0, 0, 0, 0.5)); // three quarters open: 3 cm per finger, tick 2816
    expect(await until(() => Math.abs((sim.gripperTarget ?? 0) - 0.03) < 1e-4, 5000)).toBe(true);
    expect(emulator.stats.refused).toBe(0);
    // A goal past the gripper servo's limits (its closed/open ticks), as a sync write sends it: refused, the fingers stay.
    const before = sim.gripperTarget;
    expect(servos.bus.syncWrite(XControlTable.GoalPosition.address, 4, [{ id: 8, data: u32(4000) }])).toBe(true);
    expect(await until(() => emulator.stats.refused === 1, 5000)).toBe(true);
    expect(emulator.stats.lastRefusal).toBe('servo ID 8 (gripper): DataLimit error');
    expect(sim.gripperTarget).toBe(before);
  }, 60_000);

  it('a gripper task on a Dynamixel robot without a gripper servo, or on the framed protocol, is refused at connect', async () => {
    await expect(servoArm('')).rejects.toThrow(/the robot config has no gripper command: add `gripper: \{ id \}`/);
    const { robot: robotPath } = await ptyPair();
    await expect(FramedRobotEnv.connect(robotTask('PandaReach-v0', TASK_OPTIONS), { path: robotPath })).rejects.toThrow(/the framed protocol \(v1\) has no gripper command/);
  }, 60_000);
});

describe('roborl serve ros --gripper (the CLI emulator)', () => {
  it('serves the hand: a gripper task\'s goals move the fingers, seen in /joint_states; a bad --gripper type is a usage error', async () => {
    const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
    const bad = spawnSync(process.execPath, [bin, 'serve', 'ros', '--env', 'PandaReach-v0', '--port', '0', '--gripper', 'franka'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--gripper must be one of control_msgs\/GripperCommandActionGoal, std_msgs\/Float64MultiArray, got "franka"/);
    const child = spawn(process.execPath, [bin, 'serve', 'ros', '--env', 'PandaReach-v0', '--port', '0', '--gripper', 'control_msgs/GripperCommandActionGoal'], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanup.push(() => void child.kill('SIGKILL'));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await until(() => /serving .* on (ws:\S+)/.test(err), 60_000)).toBe(true);
    expect(err).toMatch(/\/franka_gripper\/gripper_action\/goal \(control_msgs\/GripperCommandActionGoal\) in/);
    const url = /serving .* on (ws:\S+)/.exec(err)?.[1] as string;
    const path = join(mkdtempSync(join(tmpdir(), 'roborl-serve-gripper-')), 'arm.yaml');
    writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ngripper: {}\nstaleAfterMs: 2000\n`);
    const { env } = await connectRobot(loadRobotConfig(path), () => {}, TASK_OPTIONS);
    cleanup.push(() => env.close());
    const fingers: number[] = [];
    const ws = new WebSocket(url);
    cleanup.push(() => ws.close());
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { msg?: { name?: string[]; position?: number[] } };
      const k = m.msg?.name?.indexOf('panda_finger_joint1') ?? -1;
      if (k >= 0) fingers.push(m.msg?.position?.[k] as number);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', topic: '/joint_states', type: 'sensor_msgs/JointState' }));
    await env.reset({ seed: 5 });
    expect(await until(() => (fingers.at(-1) ?? 0) > 0.035, 10_000)).toBe(true);
    const ends: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await env.step(CLOSE);
      if (!r.terminated && !r.truncated) continue;
      ends.push(String(r.info.linkError ?? (r.terminated ? 'terminated' : 'truncated')));
      await env.reset();
    }
    expect(await until(() => (fingers.at(-1) ?? 1) < 0.003, 10_000), `episode ends: ${ends.join('; ')}`).toBe(true);
  }, 120_000);
});
