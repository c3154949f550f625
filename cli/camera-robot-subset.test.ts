import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SimCamera } from '../robots/emulator/sim-camera.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import { RosbridgeServer } from '../robots/ros/rosbridge-server.js';
import { cleanup, servedRos } from '../test/robot-fixtures.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('./bin.mjs', import.meta.url));
type Failed = { stdout: string; stderr: string; code?: number | string };

/** PandaReach-v0 through a 16×16 front camera and proprioception, SAC with a tiny conv encoder. */
const CONFIG = `name: pixels-front
backend: cpu
env:
  id: PandaReach-v0
  timeLimit: 10
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
  learningStarts: 6
  encoder: { kind: conv, filters: 4, strides: [2, 1], features: 6, pad: 2 }
train:
  steps: 12
  evalEvery: 0
  evalEpisodes: 1
  checkpointEvery: 12
  logEvery: 12
`;

describe('a robot camera the config does not observe (review finding 3)', () => {
  it('robot YAML with front + wrist, config with front only: trains, evaluates on the simulator and on the robot from the checkpoint; the wrist is named as ignored', async () => {
    const robot = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz: 100 });
    void robot.run();
    const cameras = [new SimCamera(robot, { width: 64, height: 64, hz: 20 }), new SimCamera(robot, { topic: '/wrist/image_raw/compressed', width: 32, height: 32, hz: 20 })];
    const server = await RosbridgeServer.start(robot, { port: 0, cameras });
    cleanup.push(async () => {
      await server.close();
      await robot.close();
    });
    const dir = mkdtempSync(join(tmpdir(), 'roborl-camera-subset-'));
    const cfg = join(dir, 'pixels.yaml');
    writeFileSync(cfg, CONFIG);
    const arm = join(dir, 'arm.yaml');
    writeFileSync(
      arm,
      `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 10\nstaleAfterMs: 2000\ncameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 16, height: 16, maxAgeMs: 5000 }\n  - { name: wrist, topic: /wrist/image_raw/compressed, type: compressed, width: 8, height: 8, maxAgeMs: 5000 }\n`,
    );
    const runDir = join(dir, 'run');
    const trained = await exec(process.execPath, [BIN, 'train', cfg, '--robot', arm, '--run-dir', runDir], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(trained.stdout, trained.stderr).toMatch(/pixels-front: 12 env steps/);
    expect(`${trained.stdout}${trained.stderr}`).toMatch(/robot camera wrist is not observed by the config .*ignored/);
    expect(JSON.parse(readFileSync(join(runDir, 'status.json'), 'utf8'))).toMatchObject({ state: 'finished' });
    const onSim = await exec(process.execPath, [BIN, 'eval', runDir, '--episodes', '1', '--json'], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(onSim.stdout, onSim.stderr).toMatch(/^\{/);
    expect(JSON.parse(onSim.stdout)).toMatchObject({ on: 'sim', cameras: ['front'], checkpointStep: 12 });
    const onRobot = await exec(process.execPath, [BIN, 'eval', runDir, '--robot', arm, '--episodes', '1', '--json'], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(onRobot.stdout, onRobot.stderr).toMatch(/^\{/);
    expect(JSON.parse(onRobot.stdout)).toMatchObject({ on: 'ros', cameras: ['front'], lostEpisodes: 0, lengthMean: 10 });
  }, 600_000);

  it('a robot camera run that fails names the whole command to continue it, --robot included (review finding 4)', async () => {
    const { robot, server, camera: served } = await servedRos('realtime', { camera: { width: 64, height: 64, hz: 20 } });
    const camera = served as SimCamera;
    // The camera goes for good after a few commands: the step that finds it stale is a safe stop, and every reset after it fails.
    let commands = 0;
    robot.onCommand(() => {
      if (++commands === 40) camera.stop();
    });
    const dir = mkdtempSync(join(tmpdir(), 'roborl-camera-fail-'));
    const cfg = join(dir, 'pixels.yaml');
    writeFileSync(cfg, CONFIG.replace('steps: 12', 'steps: 400').replace('learningStarts: 6', 'learningStarts: 1000'));
    const arm = join(dir, 'arm.yaml');
    writeFileSync(arm, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 10\nstaleAfterMs: 1000\ncameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 16, height: 16, maxAgeMs: 1000 }\n`);
    const runDir = join(dir, 'run');
    const failed: Failed = await exec(process.execPath, [BIN, 'train', cfg, '--robot', arm, '--run-dir', runDir, '--quiet'], { timeout: 300_000 }).catch((e: Failed) => e);
    expect(failed.code, failed.stdout).not.toBe(0);
    expect(failed.stderr).toMatch(/after reset: camera front/);
    expect(failed.stderr).toContain(`continue with: roborl train --resume ${runDir} --robot ${arm}`);
  }, 600_000);
});
