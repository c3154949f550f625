import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { servedRos } from '../test/robot-fixtures.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('./bin.mjs', import.meta.url));

/**
 * `roborl eval <run> --robot <robot.yaml>` against the simulated arm served over rosbridge on
 * 127.0.0.1: the robot runs the stack the run trained with (its env options, its shield), not the
 * task's defaults.
 */
describe('roborl eval --robot', () => {
  it("evaluates a run on the arm with the run's env options (a TCP-delta policy drives the arm in TCP deltas)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-eval-robot-'));
    const config = join(dir, 'reach-tcp.yaml');
    writeFileSync(config, 'name: reach-tcp\nenv: { id: PandaReach-v0, options: { action: { frame: tcp } } }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 20 }\ntrain: { steps: 30, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 30, logEvery: 30 }\n');
    const run = join(dir, 'run');
    await exec(process.execPath, [BIN, 'train', config, '--run-dir', run, '--quiet'], { timeout: 150_000 });
    const { server } = await servedRos('realtime');
    const arm = join(dir, 'arm.yaml');
    writeFileSync(arm, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\ntimeLimit: 5\n`);
    const out = await exec(process.execPath, [BIN, 'eval', run, '--robot', arm, '--episodes', '1', '--json'], { timeout: 150_000 }).catch((e: { stdout: string; stderr: string }) => e);
    // Before: the arm took the task's default joint deltas and the run's 3 TCP deltas did not fit.
    expect(out.stdout, out.stderr).toMatch(/^\{/);
    const summary = JSON.parse(out.stdout) as { on: string; episodes: number; lengthMean: number; lostEpisodes: number };
    expect(summary).toMatchObject({ on: 'ros', episodes: 1, lostEpisodes: 0 });
    expect(summary.lengthMean).toBeGreaterThan(0);
  }, 300_000);
});
