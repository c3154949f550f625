import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { RewardClassifier } from '../hil/reward-classifier.js';
import { FrameReplay } from '../policies/frame-replay.js';
import { tinyPixelConfig } from './test-configs.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('./bin.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'roborl-clf-pixels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** PandaReach-v0 seen by a 32×32 front camera (the classifier's encoder needs ≥ 32 px) and proprioception (the goal only in the image). */
const config = (demos: string, rewardClassifier?: string): string => tinyPixelConfig({ name: 'pixels-learned', demos, size: 32, checkpointEvery: 40, ...(rewardClassifier ? { rewardClassifier } : {}) });

const cli = (args: string[]) => run(process.execPath, [bin, ...args], { timeout: 180_000 });
const failure = (args: string[]) => cli(args).then(
  () => 'exited 0',
  (e: { stderr: string }) => e.stderr,
);

describe('a success classifier that looks at camera frames (issue 23, SERL)', () => {
  it('trains from camera demos, is the reward of a camera run (demos recorded with it, training) and refuses what does not fit', async () => {
    const demos = join(dir, 'reach.demos');
    const plain = join(dir, 'plain.yaml');
    writeFileSync(plain, config(demos));
    await cli(['record-demos', '--config', plain, '--episodes', '12', '--out', demos]);
    const clfPath = join(dir, 'reach.classifier');
    const trained = await cli(['classifier', 'train', '--demos', demos, '--out', clfPath, '--held-out', '0.5', '--epochs', '30', '--min-precision', '0.5']);
    expect(trained.stdout).toMatch(/trained on \d+ episodes, threshold [\d.]+ picked on \d+ episodes .*; on \d+ unseen episodes \(\d+ frames\): precision [\d.]+, recall [\d.]+/);
    const clf = RewardClassifier.load(clfPath);
    expect(clf.camera).toEqual({ name: 'front', height: 32, width: 32, channels: 3 });
    expect(clf.obsDim).toBe(17);
    expect(clf.readsState).toBe(false); // the frame alone: a success is what the camera sees
    // It keeps the task and the camera its demos were drawn with (checked against a config's).
    expect(clf.meta.envId).toBe('PandaReach-v0');
    expect(clf.meta.frames?.cameras).toMatchObject([{ name: 'front', width: 32, height: 32, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85] } }]);
    // What does not fit is said by name.
    expect(await failure(['classifier', 'train', '--demos', demos, '--out', join(dir, 'x.classifier'), '--camera', 'wrist'])).toMatch(/--camera wrist: .*reach\.demos has camera front/);
    const stateDemos = join(dir, 'state.demos');
    await cli(['record-demos', '--env', 'PandaReach-v0', '--episodes', '3', '--out', stateDemos]);
    expect(await failure(['classifier', 'train', '--demos', `${demos},${stateDemos}`, '--out', join(dir, 'x.classifier')])).toMatch(/mixes tables with camera frames .* and without/);
    expect(await failure(['classifier', 'train', '--demos', stateDemos, '--out', join(dir, 'x.classifier'), '--camera', 'front'])).toMatch(/hold no camera frames/);
    expect(await failure(['classifier', 'train', '--demos', `${demos},${demos}`, '--out', join(dir, 'x.classifier')])).toMatch(/names .*reach\.demos twice/);

    // The config that learns from it: its demos are recorded with the learned reward (1 on the
    // classifier's success, else 0), labelled with it, and training takes them.
    const learnedDemos = join(dir, 'learned.demos');
    const learned = join(dir, 'learned.yaml');
    writeFileSync(learned, config(learnedDemos, clfPath).replace('  id: PandaReach-v0\n', '  id: PandaReach-v0\n  timeLimit: 20\n'));
    await cli(['record-demos', '--config', learned, '--episodes', '3', '--keep-failures', '--out', learnedDemos]);
    const table = FrameReplay.load(learnedDemos);
    expect(table.source?.recordedWith).toMatchObject({ rewardClassifier: clfPath, rewardClassifierSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect([...table.episodes()]).toHaveLength(3);
    // The stored rewards are the classifier's (the task's own are −distance, never 0 or 1).
    const stored = (table as unknown as { reward: Float32Array }).reward.subarray(0, table.size);
    expect(stored.length).toBeGreaterThan(0);
    for (const r of stored) expect([0, 1]).toContain(r);
    const runDir = join(dir, 'run');
    await cli(['train', learned, '--run-dir', runDir]);
    const episodes = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; return?: number; length?: number }).filter((m) => m.type === 'episode');
    expect(episodes.length).toBeGreaterThan(0);
    // The learned reward is 0 or 1 a step and ends the episode on its success: a return of 0 or 1,
    // where the task's own (−distance a step) would be negative.
    for (const e of episodes) expect([0, 1]).toContain(e.return);
    expect(existsSync(join(runDir, 'checkpoints'))).toBe(true);
    // The run's policy records episodes too (failures kept: a classifier's negatives), on what the
    // learner observes; a config the run does not observe is refused by name.
    const policyDemos = join(dir, 'policy.demos');
    const recorded = await cli(['record-demos', '--config', plain, '--policy', runDir, '--episodes', '2', '--keep-failures', '--out', policyDemos]);
    expect(recorded.stdout).toMatch(/from 2 episodes \(\d\/2 successful\)/);
    expect([...FrameReplay.load(policyDemos).episodes()]).toHaveLength(2);
    const sideCfg = join(dir, 'side.yaml');
    writeFileSync(sideCfg, config(demos).replace('- name: front', '- name: side'));
    expect(await failure(['record-demos', '--config', sideCfg, '--policy', runDir, '--episodes', '1', '--out', join(dir, 'x.demos')])).toMatch(/--policy .*run: the run's cameras differ from this config's at 0\.name/);
    expect(await failure(['record-demos', '--env', 'PandaReach-v0', '--policy', runDir, '--episodes', '1', '--out', join(dir, 'x.demos')])).toMatch(/a run's policy records with a camera config only/);
    const tcpCfg = join(dir, 'tcp.yaml');
    writeFileSync(tcpCfg, config(demos).replace('    state: proprio\n', '    state: proprio\n    action: { frame: tcp }\n'));
    expect(await failure(['record-demos', '--config', tcpCfg, '--policy', runDir, '--episodes', '1', '--out', join(dir, 'x.demos')])).toMatch(/--policy .*run: the run acts with env\.options\.action null, this config with \{"frame":"tcp"\}/);
    expect(await failure(['record-demos', '--config', plain, '--policy', runDir, '--device', 'keyboard', '--out', join(dir, 'x.demos')])).toMatch(/--policy and --device: one of them acts/);
    // Trained again at the same path, it is another reward: the demos recorded with the old one are refused.
    await cli(['classifier', 'train', '--demos', demos, '--out', clfPath, '--held-out', '0.5', '--epochs', '30', '--min-precision', '0.5', '--seed', '9']);
    expect(await failure(['train', learned, '--run-dir', join(dir, 'run-stale')])).toMatch(/learned\.demos: recorded under another config than this one .* at rewardClassifierSha256: "[0-9a-f]{64}" in the demos, "[0-9a-f]{64}" in this config: record them/);

    // A classifier for another task, another view of its camera or another camera is refused
    // before anything runs, by name; one that ignores the state takes any state.
    const push = join(dir, 'push.yaml');
    writeFileSync(push, config(learnedDemos, clfPath).replace('id: PandaReach-v0', 'id: PandaPush-v0').replace(/  demos: .*\n/, ''));
    expect(await failure(['train', push, '--run-dir', join(dir, 'run-push')])).toMatch(/reach\.classifier: reward classifier was trained on PandaReach-v0 episodes; this is PandaPush-v0/);
    const moved = join(dir, 'moved.yaml');
    writeFileSync(moved, config(learnedDemos, clfPath).replace('position: [1.35, -0.6, 0.85]', 'position: [1.35, -0.5, 0.85]').replace(/  demos: .*\n/, ''));
    expect(await failure(['train', moved, '--run-dir', join(dir, 'run-moved')])).toMatch(/reach\.classifier: camera 0 \("front"\) differs .* at pose\.position\.1: -0\.6 .*, -0\.5 in this config: train it again/);
    const fullState = join(dir, 'full-state.yaml');
    writeFileSync(fullState, config(join(dir, 'full.demos'), clfPath).replace('    state: proprio\n', ''));
    await cli(['record-demos', '--config', fullState, '--episodes', '1', '--keep-failures', '--out', join(dir, 'full.demos')]);
    expect(FrameReplay.load(join(dir, 'full.demos')).spec.obsDim).toBe(23);
    // In a state config it is said what it needs.
    const noCameras = join(dir, 'no-cameras.yaml');
    writeFileSync(noCameras, `name: nc\nenv: { id: PandaReach-v0, rewardClassifier: ${clfPath} }\nalgo: { kind: sac, hidden: [8], batchSize: 8, learningStarts: 5 }\ntrain: { steps: 10, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 10, logEvery: 5 }\n`);
    expect(await failure(['train', noCameras, '--run-dir', join(dir, 'run-nc')])).toMatch(/env\.rewardClassifier .*reach\.classifier: reward classifier looks at camera "front"; PandaReach-v0 observes no camera \(it looks at camera "front": a camera config, with env\.options\.cameras, takes it\)/);
    // Demos recorded with it keep an episode only where it and the task agree on the success: a
    // classifier that calls every frame a success keeps none.
    const always = RewardClassifier.load(clfPath);
    always.threshold = 0;
    const alwaysPath = join(dir, 'always.classifier');
    always.save(alwaysPath);
    const alwaysCfg = join(dir, 'always.yaml');
    writeFileSync(alwaysCfg, config(join(dir, 'always.demos'), alwaysPath));
    expect(await failure(['record-demos', '--config', alwaysCfg, '--episodes', '1', '--out', join(dir, 'always.demos')])).toMatch(/the expert succeeded in only 0 of 5 episodes/);

    // A classifier for another camera or another state is refused before anything runs, by name.
    const otherCamera = join(dir, 'other-camera.yaml');
    writeFileSync(otherCamera, config(learnedDemos, clfPath).replace('- name: front', '- name: side'));
    expect(await failure(['train', otherCamera, '--run-dir', join(dir, 'run2')])).toMatch(/env\.rewardClassifier .*reach\.classifier: reward classifier looks at camera "front"; PandaReach-v0 observes cameras side/);
    expect(existsSync(join(dir, 'run2', 'metrics.jsonl'))).toBe(false);
  }, 300_000);
});
