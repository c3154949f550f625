import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../control/rng.js';
import { allocBatch } from '../policies/replay.js';
import { selectBackend } from '../policies/backend.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { resolveSacConfig, SacConfigSchema } from '../policies/sac/config.js';
import { PixelTrainer } from '../policies/sac/pixel-trainer.js';
import { OffPolicyTrainer } from '../policies/sac/trainer.js';
import { runActor } from '../policies/distributed/actor-loop.js';
import { unpackTransitions } from '../policies/distributed/packing.js';
import type { ActorTransport } from '../policies/distributed/transport.js';
import { StreamAgent } from '../policies/stream/agent.js';
import { StreamAcConfigSchema } from '../policies/stream/config.js';
import { runStreamingRealtime } from '../policies/stream/realtime.js';
import type { TrainerProgress } from '../policies/run-loop.js';
import { SimCamera } from '../robots/emulator/sim-camera.js';
import { SimulatedRobot } from '../robots/emulator/sim-robot.js';
import { cleanup, servedRos } from '../test/robot-fixtures.js';
import { validateConfig } from './config.js';
import { makePixelLearnerEnv } from './pixels.js';
import { makeRobotLearnerEnv, makeRobotPixelEnv } from './robot-learner-env.js';
import { makeLearnerEnv } from './setup.js';

beforeAll(async () => {
  await selectBackend('auto', { threads: 1 });
});

const CAMERA = { name: 'front', width: 16, height: 16, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] } };
const SCHEDULE = { steps: 30, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 1_000_000, logEvery: 30, publishEvery: 1 };

/**
 * The served arm with a 20 Hz front camera; the robot YAML observes it (maxAgeMs 400).
 * `onStep` stops the camera at step 3 and starts it again 1.2 s later:
 * the step that finds it stale is the robot's safe stop (`info.linkError`), the reset after it
 * waits for the camera to be back.
 */
async function arm(): Promise<{ path: string; onStep: (p: TrainerProgress) => void; robot: SimulatedRobot }> {
  const { robot, server, camera: served } = await servedRos('realtime', { camera: { width: 64, height: 64, hz: 20 } });
  const camera = served as SimCamera;
  const path = join(mkdtempSync(join(tmpdir(), 'roborl-robot-replay-')), 'arm.yaml');
  writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\nstaleAfterMs: 3000\ncameras:\n  - { name: front, topic: /camera/image_raw/compressed, type: compressed, width: 16, height: 16, maxAgeMs: 400 }\n`);
  let stopped = false;
  return {
    path,
    robot,
    onStep: (p) => {
      if (p.step < 3 || stopped) return;
      stopped = true;
      camera.stop();
      setTimeout(() => camera.start(), 1200);
    },
  };
}

/** The metrics file's train lines. */
function trainLines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"type":"train"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a step that ends in the robot safe stop is no transition of the task (review finding 1)', () => {
  it('OffPolicyTrainer on the robot: the link-loss step is counted (linkLostSteps), not stored; the episode still ends', async () => {
    const { path, onStep } = await arm();
    const config = validateConfig({ name: 'state', env: { id: 'PandaReach-v0' }, algo: { kind: 'sac', hidden: [8, 8], batchSize: 8, learningStarts: 1000 }, train: { steps: 30 } }, 'test');
    const { env } = await makeRobotLearnerEnv(config, path, () => {});
    cleanup.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'roborl-robot-replay-state-'));
    const t = new OffPolicyTrainer({ env, evalEnv: await makeLearnerEnv(config), config: resolveSacConfig(SacConfigSchema.parse(config.algo)), schedule: SCHEDULE, seed: 1, checkpointDir: join(dir, 'ck'), metrics: new MetricsLog(join(dir, 'metrics.jsonl')), onStep });
    await t.run();
    const line = trainLines(dir).at(-1);
    expect(line?.['linkLostSteps']).toBeGreaterThanOrEqual(1);
    expect(t.replay.size).toBe(30 - Number(line?.['linkLostSteps']));
    // No made-up reward 0 (Reach's rewards are negative distances).
    const batch = allocBatch(t.replay.spec, 256);
    t.replay.sampleInto(batch, 0, 256, new Rng(0), 0.99, 1);
    expect(Array.from(batch.reward).every((r) => r < 0)).toBe(true);
    t.dispose();
    // The count survives a resume (it was in no checkpoint before): continued on the simulator, no new safe stops.
    const lost = Number(line?.['linkLostSteps']);
    const resumed = new OffPolicyTrainer({ env: await makeLearnerEnv(config), evalEnv: await makeLearnerEnv(config), config: resolveSacConfig(SacConfigSchema.parse(config.algo)), schedule: { ...SCHEDULE, steps: 60 }, seed: 1, checkpointDir: join(dir, 'ck'), metrics: new MetricsLog(join(dir, 'metrics.jsonl')) });
    expect(resumed.resume()).toBe(30);
    await resumed.run();
    expect(trainLines(dir).at(-1)).toMatchObject({ step: 60, linkLostSteps: lost });
    resumed.dispose();
  }, 180_000);

  it('PixelTrainer on the robot: the same, frames included', async () => {
    const { path, onStep } = await arm();
    const config = validateConfig({ name: 'pixels', env: { id: 'PandaReach-v0', options: { state: 'proprio', cameras: [CAMERA] } }, algo: { kind: 'sac', hidden: [8, 8], batchSize: 8, learningStarts: 1000, encoder: { kind: 'conv', filters: 4, strides: [2, 1], features: 6, pad: 2 } }, train: { steps: 30 } }, 'test');
    const { env } = await makeRobotPixelEnv(config, path, () => {});
    cleanup.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'roborl-robot-replay-pixels-'));
    const t = new PixelTrainer({ env, evalEnv: await makePixelLearnerEnv(config, undefined, { evaluation: true }), config: resolveSacConfig(SacConfigSchema.parse(config.algo)), schedule: SCHEDULE, seed: 1, checkpointDir: join(dir, 'ck'), metrics: new MetricsLog(join(dir, 'metrics.jsonl')), onStep });
    await t.run();
    const line = trainLines(dir).at(-1);
    expect(line?.['linkLostSteps']).toBeGreaterThanOrEqual(1);
    expect(t.replay.size).toBe(30 - Number(line?.['linkLostSteps']));
    const batch = allocBatch(t.replay.spec, 256);
    t.replay.sampleInto(batch, 0, 256, new Rng(0), 0.99, 1);
    expect(Array.from(batch.reward).every((r) => r < 0)).toBe(true);
    t.dispose();
  }, 180_000);

  it('the stream learner in the control loop (runStreamingRealtime) and a distributed actor (runActor) learn from and send no link-loss step', async () => {
    const { path, onStep, robot } = await arm();
    let commands = 0;
    robot.onCommand(() => onStep({ step: ++commands } as TrainerProgress)); // the camera stops at the third command
    const config = validateConfig({ name: 'state', env: { id: 'PandaReach-v0' }, algo: { kind: 'sac', hidden: [8, 8], batchSize: 8, learningStarts: 1000 }, train: { steps: 30 } }, 'test');
    const { env } = await makeRobotLearnerEnv(config, path, () => {});
    cleanup.push(() => env.close());
    const agent = new StreamAgent(StreamAcConfigSchema.parse({ kind: 'stream-ac' }), env.spec, 1);
    const report = await runStreamingRealtime(agent, env, { ticks: 30 });
    expect(report.linkLostSteps).toBeGreaterThanOrEqual(1);
    // Every transition but the last is learned or skipped, except the link-loss ones.
    expect(report.updates + report.skipped + report.linkLostSteps).toBeGreaterThanOrEqual(29);
    expect(report.updates + report.skipped + report.linkLostSteps).toBeLessThanOrEqual(30);

    // The actor: a second camera stop (a new arm), the messages it sends taken apart.
    const second = await arm();
    let n = 0;
    second.robot.onCommand(() => second.onStep({ step: ++n } as TrainerProgress));
    const { env: env2 } = await makeRobotLearnerEnv(config, second.path, () => {});
    cleanup.push(() => env2.close());
    const sent: Uint8Array[] = [];
    const transport: ActorTransport = { send: async (bytes) => void sent.push(bytes), params: () => null, finished: () => false, close: async () => {} };
    const out = await runActor({ env: env2, transport, actorId: 'a', seed: 1, learning: { learnFrom: 'executed', correctionPenalty: 0 }, sendEvery: 4, maxSteps: 30, realTime: true });
    expect(out.linkLostSteps).toBeGreaterThanOrEqual(1);
    const transitions = sent.flatMap((b) => unpackTransitions(b).transitions);
    expect(transitions).toHaveLength(30 - out.linkLostSteps);
    // The learner learns of the safe stops from the episodes' summaries (its train line's linkLostSteps).
    expect(sent.flatMap((b) => unpackTransitions(b).episodes).reduce((n, e) => n + (e.linkLostSteps ?? 0), 0)).toBe(out.linkLostSteps);
    expect(transitions.every((t) => t.reward < 0)).toBe(true);
    // The step before each safe stop ends its episode (truncated): n-step sums stop there.
    expect(transitions.filter((t) => t.truncated || t.terminated).length).toBeGreaterThanOrEqual(out.episodes - 1);
  }, 180_000);
});
