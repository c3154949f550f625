import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StepResult } from '../control/env.js';
import type { DictObservation } from '../control/spaces.js';
import { Rng } from '../control/rng.js';
import { RewardClassifier } from '../hil/reward-classifier.js';
import { JsKernels } from '../policies/kernels/kernels.js';
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

  it('a learned reward that looks at the frames: the robot camera run takes it (reward 1 and the end on its success); one for another camera is refused before connecting', async () => {
    const { server } = await servedRos('realtime', { camera: { width: 64, height: 64, hz: 20 } });
    const dir = mkdtempSync(join(tmpdir(), 'roborl-robot-pixels-clf-'));
    const path = join(dir, 'arm.yaml');
    writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\nstaleAfterMs: 2000\ncameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 16, height: 16, maxAgeMs: 1500 }\n`);
    // A classifier of the config's shape (17 state entries, a 16×16 front frame); its threshold
    // set to 0 so that it calls every frame a success (what is measured here is the wiring).
    const rng = new Rng(3);
    const obs = (): DictObservation => ({ state: Float32Array.from({ length: 17 }, () => rng.normal()), front: Uint8Array.from({ length: 16 * 16 * 3 }, () => rng.int(256)) });
    const frames = { obs: Array.from({ length: 8 }, obs), labels: [0, 1, 0, 1, 0, 1, 0, 1], episode: [0, 0, 1, 1, 2, 2, 3, 3] };
    const clf = RewardClassifier.train(frames, frames, { encoder: { kind: 'conv', camera: 'front', filters: 4, strides: [2, 1], features: 6, pad: 0 }, hidden: [8], epochs: 1, batchSize: 8, kernels: new JsKernels() });
    clf.threshold = 0;
    const clfPath = join(dir, 'front.classifier');
    clf.save(clfPath);
    const learned = validateConfig({ name: 'pixels', env: { id: 'PandaReach-v0', options: { state: 'proprio', cameras: [CAMERA] }, rewardClassifier: clfPath }, algo: { kind: 'sac', encoder: { kind: 'conv' } }, train: { steps: 10 } }, 'test');
    const { env } = await makeRobotPixelEnv(learned, path, () => {});
    cleanup.push(() => env.close());
    await env.reset({ seed: 1 });
    const r = await env.step(new Float32Array(7));
    expect(r.reward).toBe(1);
    expect(r.terminated).toBe(true);
    expect(r.info.success).toBe(true);
    expect(typeof r.info.metrics?.['envReward']).toBe('number'); // the task's own, kept beside it
    expect(r.info.episode?.return).toBe(1); // the episode statistics count the learned reward
    // Another camera's classifier: said by name, before the arm is connected (no new client).
    const sidePath = join(dir, 'arm-side.yaml');
    writeFileSync(sidePath, readFileSync(path, 'utf8').replace('name: front', 'name: side'));
    const side = validateConfig({ name: 'pixels', env: { id: 'PandaReach-v0', options: { state: 'proprio', cameras: [{ ...CAMERA, name: 'side' }] }, rewardClassifier: clfPath }, algo: { kind: 'sac', encoder: { kind: 'conv' } }, train: { steps: 10 } }, 'test');
    const clients = server.stats.clients;
    await expect(makeRobotPixelEnv(side, sidePath, () => {})).rejects.toThrow(/env\.rewardClassifier .*front\.classifier: reward classifier looks at camera "front"; PandaReach-v0 observes cameras side/);
    expect(server.stats.clients).toBe(clients);
  }, 120_000);
});
