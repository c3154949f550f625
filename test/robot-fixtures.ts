import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { SimCamera, type SimCameraOptions } from '../robots/emulator/sim-camera.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import { RosbridgeServer, type RosbridgeServerOptions } from '../robots/ros/rosbridge-server.js';
import { DynamixelEmulator, FramedEmulator } from '../robots/serial/emulators.js';
import { SerialLink } from '../robots/serial/link.js';

/**
 * Test support for the robot links: real socat pseudo-terminals, the simulated arm served over
 * rosbridge or a serial protocol, and a cleanup list run after each test (register it by
 * importing this module in a test file).
 */
export const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A real pseudo-terminal pair from socat: `host` for the driver, `robot` for the emulator. */
export async function ptyPair(dir = mkdtempSync(join(tmpdir(), 'roborl-pty-'))): Promise<{ host: string; robot: string; socat: ChildProcess; dir: string }> {
  const host = join(dir, 'host');
  const robot = join(dir, 'robot');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${robot}`], { stdio: 'ignore' });
  cleanup.push(() => void socat.kill());
  const deadline = Date.now() + 3000;
  while (!(existsSync(host) && existsSync(robot))) {
    if (Date.now() > deadline) throw new Error('socat did not create the pty pair');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { host, robot, socat, dir };
}

/**
 * The simulated arm behind a serial protocol, free-running like hardware: physics follows the
 * wall clock and (framed) states stream at `sensorHz` (default 60 Hz, not the task's 25 Hz).
 */
export async function servedArm(protocol: 'dynamixel' | 'framed', robotPath: string, sensorHz = 60): Promise<{ robot: SimulatedRobot; emulator: DynamixelEmulator | FramedEmulator; link: SerialLink }> {
  const robot = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz });
  void robot.run();
  const link = await SerialLink.open({ path: robotPath });
  const emulator = protocol === 'dynamixel' ? new DynamixelEmulator(link, robot) : new FramedEmulator(link, robot);
  cleanup.push(async () => {
    if (emulator instanceof FramedEmulator) emulator.close();
    await link.close();
    await robot.close();
  });
  return { robot, emulator, link };
}

/**
 * The simulated arm behind rosbridge; realtime = free-running, publishing at `sensorHz` (default
 * 100 Hz, not the task's 25 Hz). With `camera`, a simulated camera of the arm's scene is published
 * beside the joint states (returned as `camera`).
 */
export async function servedRos(mode: 'lockstep' | 'realtime', options: RosbridgeServerOptions & { sensorHz?: number; gripper?: boolean; camera?: SimCameraOptions } = {}): Promise<{ robot: SimulatedRobot; server: RosbridgeServer; camera: SimCamera | null }> {
  const { camera: cameraOptions, ...serverOptions } = options;
  const robot = await SimulatedRobot.create('PandaReach-v0', { mode, sensorHz: options.sensorHz ?? 100, gripper: options.gripper ?? false });
  void robot.run();
  const camera = cameraOptions ? new SimCamera(robot, cameraOptions) : null;
  const server = await RosbridgeServer.start(robot, { port: 0, ...serverOptions, ...(camera ? { cameras: [camera] } : {}) });
  cleanup.push(async () => {
    await server.close();
    await robot.close();
  });
  return { robot, server, camera };
}

/** Waits until `condition()` holds (checked every 10 ms), at most `timeoutMs`; returns whether it did. */
export async function until(condition: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
