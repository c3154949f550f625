import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { servedRos } from '../test/robot-fixtures.js';
import { validateConfig } from './config.js';
import { makeRobotLearnerEnv } from './robot-learner-env.js';

/** A ROS robot config for the emulator at `url` running `task`. */
function armYaml(url: string, task: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'roborl-robot-env-')), 'arm.yaml');
  writeFileSync(path, `kind: ros\ntask: ${task}\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 20\n`);
  return path;
}

describe('the robot as a learner sees it', () => {
  it("runs the task with the config's env options (action frame, successHold), as the simulator does", async () => {
    const { server } = await servedRos('lockstep');
    const config = validateConfig({ name: 'tcp-reach', env: { id: 'PandaReach-v0', options: { action: { frame: 'tcp' }, successHold: 3 } }, algo: { kind: 'sac' }, train: { steps: 10 } }, 'test');
    // The config's actions are TCP deltas (3): a robot that took joint deltas (7) would move the
    // arm in another way than the policy learnt, or refuse every batch.
    const { env } = await makeRobotLearnerEnv(config, armYaml(server.url, 'PandaReach-v0'), () => {});
    try {
      expect(env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 0).toBe(3);
      expect(env.spec.actionNames).toEqual(['Δtcp x', 'Δtcp y', 'Δtcp z']);
    } finally {
      await env.close();
    }
  }, 60_000);

  it('PandaKeepOut-v0 with safety.shield: the task\'s shield model filters the arm\'s actions (reported in info.safety)', async () => {
    const { server } = await servedRos('realtime');
    const config = validateConfig({ name: 'keep-out', env: { id: 'PandaKeepOut-v0' }, algo: { kind: 'sac' }, safety: { shield: true }, train: { steps: 10 } }, 'test');
    const { env } = await makeRobotLearnerEnv(config, armYaml(server.url, 'PandaKeepOut-v0'), () => {});
    try {
      expect(env.spec.constraints).toEqual(['keep_out', 'joint_velocity', 'table_contact']);
      await env.reset({ seed: 1 });
      const s = await env.step(new Float32Array(7).fill(0.5));
      expect(s.info.safety).toMatchObject({ intervened: expect.any(Boolean) });
      expect(s.costs.length).toBe(3);
    } finally {
      await env.close();
    }
  }, 60_000);
});
