import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StepResult } from '../control/env.js';
import type { DictObservation } from '../control/spaces.js';
import { SimCamera } from '../robots/emulator/sim-camera.js';
import { cleanup, servedRos } from '../test/robot-fixtures.js';
import { validateConfig } from './config.js';
import { makeRobotPixelEnv } from './robot-learner-env.js';

const CAMERA = { name: 'front', width: 16, height: 16, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] } };
const config = validateConfig({ name: 'pixels', env: { id: 'PandaReach-v0', options: { state: 'proprio', cameras: [CAMERA] } }, algo: { kind: 'sac', encoder: { kind: 'conv' } }, train: { steps: 10 } }, 'test');

describe('a camera config on a robot (issue 23)', () => {
  it("observes {state, front} from the robot's camera, and a camera that stops stops the robot", async () => {
    const { robot, server, camera: served } = await servedRos('realtime', { camera: { width: 64, height: 64, hz: 20 } });
    const camera = served as SimCamera;
    const states: Float64Array[] = [];
    let last: Float64Array | null = null;
    robot.onState((s) => void states.push(Float64Array.from(s.position)));
    robot.onCommand((t) => void (last = Float64Array.from(t)));
    const path = join(mkdtempSync(join(tmpdir(), 'roborl-robot-pixels-')), 'arm.yaml');
    // maxAgeMs 1500: long enough for a loaded machine's steps, short enough to see the camera stop.
    writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\nstaleAfterMs: 2000\ncameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 16, height: 16, maxAgeMs: 1500 }\n`);
    const { env } = await makeRobotPixelEnv(config, path, () => {});
    cleanup.push(() => env.close());
    const space = env.spec.observationSpace;
    expect(space.state.low.length).toBe(17); // q, q̇, TCP: the goal is in the image only
    expect(space.cameras['front']).toEqual({ kind: 'image', height: 16, width: 16, channels: 3 });
    const r = await env.reset({ seed: 1 });
    expect(r.obs.state).toHaveLength(17);
    const lit = (f: Uint8Array | Float32Array | undefined): number => {
      let n = 0;
      for (const v of f ?? []) if (v > 0) n++;
      return n;
    };
    expect(lit(r.obs['front'])).toBeGreaterThan(200); // a rendered frame, not the black placeholder
    const s = await env.step(new Float32Array(7).fill(0.2));
    expect(s.truncated).toBe(false);
    expect(lit(s.obs['front'])).toBeGreaterThan(200);

    camera.stop();
    let ended: StepResult<DictObservation> | null = null;
    for (let i = 0; i < 200 && !ended; i++) {
      const t = await env.step(new Float32Array(7).fill(0.2));
      if (t.truncated || t.terminated) ended = t;
    }
    expect(ended?.truncated).toBe(true);
    expect(String(ended?.info.linkError)).toMatch(/front/);
    // The safe stop: the last command holds a measured position.
    await new Promise((res) => setTimeout(res, 200));
    expect(last).not.toBeNull();
    expect(states.some((q) => q.every((v, i) => Math.abs(v - (last as unknown as Float64Array)[i]!) < 1e-9))).toBe(true);
  }, 120_000);
});
