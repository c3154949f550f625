import { describe, expect, it } from 'vitest';
import { cleanup } from '../test/robot-fixtures.js';
import type { DictObservation } from '../control/spaces.js';
import { SimulatedRobot } from './emulator/sim-robot.js';
import { SimCamera } from './emulator/sim-camera.js';
import type { CameraConfig } from './camera.js';
import { RobotCameraObservation } from './camera-observation.js';
import { robotTask } from './task.js';
import { RosbridgeServer } from './ros/rosbridge-server.js';
import { RosRobotEnv } from './ros/ros-env.js';

const COMMAND = { topic: '/joint_group_position_controller/command', type: 'std_msgs/Float64MultiArray' } as const;
// Generous age: the tests run with both cores busy; staleness itself is tested in ros/camera.test.ts.
const FRONT: CameraConfig = { name: 'front', topic: '/camera/image_raw/compressed', type: 'compressed', width: 32, height: 32, maxAgeMs: 3000 };

describe('a robot with cameras observes the dict a pixel policy was trained on', () => {
  it('{state, front}: the task state and the newest frame, at the configured size, after reset and each step', async () => {
    const robot = await SimulatedRobot.create('PandaReach-v0', { mode: 'realtime', sensorHz: 100 });
    void robot.run();
    const server = await RosbridgeServer.start(robot, { port: 0, cameras: [new SimCamera(robot, { width: 64, height: 64, hz: 20 })] });
    cleanup.push(async () => {
      await server.close();
      await robot.close();
    });
    const ros = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url: server.url, jointStateTopic: '/joint_states', command: COMMAND, reconnectMinMs: 50, cameras: [FRONT], connectTimeoutMs: 10_000 });
    const env = new RobotCameraObservation(ros, ros);
    cleanup.push(() => env.close());
    const space = env.spec.observationSpace;
    expect(space.kind).toBe('dict');
    expect(space.cameras['front']).toEqual({ kind: 'image', height: 32, width: 32, channels: 3 });
    const r = await env.reset({ seed: 1 });
    const check = (o: DictObservation): void => {
      expect(o.state).toHaveLength(23);
      const f = o['front'] as Uint8Array;
      expect(f).toHaveLength(32 * 32 * 3);
      let lit = 0;
      for (const v of f) if (v > 0) lit++;
      expect(lit).toBeGreaterThan(1000); // a rendered frame, not the black placeholder
    };
    check(r.obs);
    const s = await env.step(new Float32Array(7));
    check(s.obs);
    expect(Buffer.from(s.obs['front'] as Uint8Array).equals(Buffer.from(ros.cameraFrame('front')!.rgb))).toBe(true);
    await env.close();
  }, 60_000);
});
