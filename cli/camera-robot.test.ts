import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SimCamera } from '../robots/emulator/sim-camera.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import { RosbridgeServer } from '../robots/ros/rosbridge-server.js';
import { cleanup } from '../test/robot-fixtures.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('./bin.mjs', import.meta.url));
type Failed = { stdout: string; stderr: string; code?: number | string };

/** PandaReach-v0 through a 16×16 front camera and proprioception, SAC with a tiny conv encoder. */
const CONFIG = `name: pixels-arm
backend: cpu
env:
  id: PandaReach-v0
  timeLimit: 15
  options:
    state: proprio
    cameras:
      - name: front
        width: 16
        height: 16
        pose: { kind: fixed, position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] }
algo:
  kind: sac
  hidden: [16, 16]
  critics: 2
  batchSize: 8
  learningStarts: 10
  encoder: { kind: conv, filters: 4, strides: [2, 1], features: 6, pad: 2 }
train:
  steps: 24
  evalEvery: 0
  evalEpisodes: 1
  checkpointEvery: 12
  logEvery: 12
`;

/** The served arm with the emulator's front camera (64×64 JPEG at 20 Hz, resized by the client). */
async function armWithCamera(): Promise<{ robot: SimulatedRobot; server: RosbridgeServer; commands: () => number }> {
  const robot = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz: 100 });
  void robot.run();
  const server = await RosbridgeServer.start(robot, { port: 0, cameras: [new SimCamera(robot, { width: 64, height: 64, hz: 20 })] });
  cleanup.push(async () => {
    await server.close();
    await robot.close();
  });
  let commands = 0;
  robot.onCommand(() => commands++);
  return { robot, server, commands: () => commands };
}

/** A robot YAML for the emulator at `url`; `cameras` is its cameras: section (none when empty). Generous ages: both cores are busy. */
function armYaml(dir: string, url: string, cameras: string): string {
  const path = join(dir, 'arm.yaml');
  writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 15\nstaleAfterMs: 2000\n${cameras}`);
  return path;
}
const FRONT_16 = 'cameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 16, height: 16, maxAgeMs: 5000 }\n';

describe('cameras on roborl train --robot and roborl eval --robot (issue 23)', () => {
  it("trains a camera config on the arm with the robot's front camera, then evaluates it there", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-camera-robot-'));
    const cfg = join(dir, 'pixels.yaml');
    writeFileSync(cfg, CONFIG);
    const { server, commands } = await armWithCamera();
    const arm = armYaml(dir, server.url, FRONT_16);
    const runDir = join(dir, 'run');
    // Before: refused ("camera runs train with roborl train on the simulator for now").
    const trained = await exec(process.execPath, [BIN, 'train', cfg, '--robot', arm, '--run-dir', runDir, '--quiet'], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(trained.stdout, trained.stderr).toMatch(/pixels-arm: 24 env steps/);
    expect(commands()).toBeGreaterThanOrEqual(24); // the arm was driven, one command per step at least
    expect(existsSync(join(runDir, 'robot.json'))).toBe(true);
    expect(readdirSync(join(runDir, 'checkpoints')).filter((f) => f.endsWith('.bin'))).toEqual(['ckpt-0000000012.bin', 'ckpt-0000000024.bin']);

    // The same checkpoint on the simulator's rendered camera (before: makeLearnerEnv refused a camera config).
    const onSim = await exec(process.execPath, [BIN, 'eval', runDir, '--episodes', '1', '--json'], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(onSim.stdout, onSim.stderr).toMatch(/^\{/);
    expect(JSON.parse(onSim.stdout)).toMatchObject({ on: 'sim', cameras: ['front'], checkpointStep: 24, lengthMean: 15 });

    const before = commands();
    const evaluated = await exec(process.execPath, [BIN, 'eval', runDir, '--robot', arm, '--episodes', '1', '--json'], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(evaluated.stdout, evaluated.stderr).toMatch(/^\{/);
    const summary = JSON.parse(evaluated.stdout) as { on: string; cameras: string[]; lengthMean: number; lostEpisodes: number; link: { cameras?: Record<string, { decoded: number }> } };
    expect(summary).toMatchObject({ on: 'ros', cameras: ['front'], lostEpisodes: 0, lengthMean: 15 });
    // The policy's frames were the robot's, decoded off rosbridge (at the camera's 20 Hz, fewer than the steps).
    expect(summary.link.cameras?.['front']?.decoded).toBeGreaterThan(0);
    expect(commands() - before).toBeGreaterThanOrEqual(15);
  }, 600_000);

  it('refuses a robot YAML without a camera the config observes, naming it, before anything connects or moves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-camera-robot-'));
    const cfg = join(dir, 'pixels.yaml');
    writeFileSync(cfg, CONFIG);
    const { server, commands } = await armWithCamera();
    const runDir = join(dir, 'run');
    const noCamera: Failed = await exec(process.execPath, [BIN, 'train', cfg, '--robot', armYaml(dir, server.url, ''), '--run-dir', runDir, '--quiet'], { timeout: 120_000 }).catch((e: Failed) => e);
    expect(noCamera.code).toBe(2);
    expect(noCamera.stderr).toMatch(/the policy observes camera "front" \(16×16\); the robot .*arm\.yaml has no camera "front" \(it has no cameras:\) — add it under cameras: in the robot YAML/);
    const wrongSize = await exec(process.execPath, [BIN, 'train', cfg, '--robot', armYaml(dir, server.url, FRONT_16.replace(/width: 16, height: 16/, 'width: 32, height: 32')), '--run-dir', runDir, '--quiet'], { timeout: 120_000 }).catch((e: Failed) => e);
    expect(wrongSize.stderr).toMatch(/camera "front" at 16×16; the robot .* resizes it to 32×32/);
    expect(existsSync(runDir)).toBe(false);
    expect(commands()).toBe(0);
  }, 300_000);
});
