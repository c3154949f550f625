import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FrameReplay } from '../policies/frame-replay.js';
import { make } from '../tasks/registry.js';
import { allocBatch, ReplayBuffer } from '../policies/replay.js';
import { validateConfig } from './config.js';
import { centralStartSeeds, demoConfig, demoTable, recordDemonstrations, saveDemos, spreadStartSeeds } from './demos.js';
import { seedAt } from '../control/rng.js';
import { recordDemosCommand } from '../cli/commands/record-demos.js';
import { parseArgs } from '../cli/args.js';
import { checkDemoSource, loadDemos, makeLearnerEnv, recordedWithOf } from './setup.js';
import type { ExperimentConfig } from './config.js';
import type { EnvSpec } from '../control/env.js';

/** The learner env's spec for `config`. */
async function specOf(config: ExperimentConfig): Promise<EnvSpec> {
  const env = await makeLearnerEnv(config);
  await env.close();
  return env.spec;
}

/** The label training with `config` compares a demo file with: its learner env's. */
async function labelOf(config: ExperimentConfig): Promise<ReturnType<typeof recordedWithOf>> {
  const env = await makeLearnerEnv(config);
  try {
    return recordedWithOf(config, env);
  } finally {
    await env.close();
  }
}

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

describe('demo files carry the task they were recorded on', () => {
  it('a PandaPush-v0 demo file (metres) is refused by a PandaPush-v1 config (decimetres) although the shapes match; its own task and unlabelled files load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-demos-'));
    const v0 = await make('PandaPush-v0', { options: { action: { frame: 'tcp' } } });
    const v1 = await make('PandaPush-v1', { options: { action: { frame: 'tcp' } } });
    const { obs } = await v0.reset({ seed: 1 });
    const step = await v0.step(new Float32Array(3));
    const transitions = [{ obs, action: new Float32Array(3), reward: step.reward, costs: Float32Array.from(step.costs ?? []), nextObs: step.obs, terminated: false, truncated: false }];
    const v0File = join(dir, 'push-v0.demos');
    saveDemos(demoTable(v0, transitions), v0File);
    expect(() => loadDemos(v0File, 'configs/panda-push-rlpd.yaml', v1.spec)).toThrow(/push-v0\.demos holds demos of "PandaPush-v0", but this config trains PandaPush-v1: record them with `npx roborl record-demos --config configs\/panda-push-rlpd\.yaml --episodes 20 --out .*push-v0\.demos`/);
    expect(loadDemos(v0File, 'c.yaml', v0.spec).size).toBe(1);
    // Same id, other observation entries (e.g. a file relabelled by hand): the first differing entry is named.
    const relabelled = demoTable(v0, transitions);
    relabelled.source = { env: 'PandaPush-v1', observationNames: v0.spec.observationNames as string[] };
    const v1Named = join(dir, 'relabelled.demos');
    saveDemos(relabelled, v1Named);
    expect(() => loadDemos(v1Named, 'c.yaml', v1.spec)).toThrow(/observation entry 25 is "cube−tcp x" in the demos and "cube−tcp x \(dm\)" in PandaPush-v1/);
    // Files written before the label existed load as before (nothing to compare).
    const old = demoTable(v0, transitions);
    old.source = undefined;
    const oldFile = join(dir, 'old.demos');
    saveDemos(old, oldFile);
    expect(loadDemos(oldFile, 'c.yaml', v1.spec).size).toBe(1);
    // A camera demo file (frames) given to a state config: said so, with the command that records the right one.
    const frames = new FrameReplay({ capacity: 2, obsDim: 1, actDim: 1, costDim: 0, cameras: [{ name: 'front', height: 2, width: 2, channels: 3 }] });
    const framesFile = join(dir, 'frames.demos');
    frames.save(framesFile);
    expect(() => loadDemos(framesFile, 'c.yaml', v1.spec)).toThrow(/frames\.demos holds demos with camera frames \(recorded with a camera config\); this config observes PandaPush-v1's state vector: record them with `npx roborl record-demos --config c\.yaml/);
    await v0.close();
    await v1.close();
  }, 60_000);

  it('and the config they were recorded under: dense-reward demos are refused by a sparse-reward config, naming the option; the observation\'s options and the engine are not compared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-demos-'));
    const config = (options: Record<string, unknown>, extra: Record<string, unknown> = {}) => validateConfig({ name: 'x', env: { id: 'PandaPickCube-v0', options, ...extra }, algo: { kind: 'sac' }, train: { steps: 10 } }, 'test');
    const dense = config({ action: { frame: 'tcp' } });
    const { table } = await recordDemonstrations(dense, 1, 7, true);
    const tier0 = { margin: 0.05, softZone: 0.8, brakingDecel: 2, maxActionRate: null, workspace: 'task' };
    expect(table.source?.recordedWith).toEqual({ options: { action: { frame: 'tcp' } }, rewardClassifier: null, safety: { limits: tier0, shield: false, constraints: [] } });
    const file = join(dir, 'pick.demos');
    saveDemos(table, file);
    const env = await make('PandaPickCube-v0', { options: { action: { frame: 'tcp' } } });
    const denseLabel = await labelOf(dense);
    expect(loadDemos(file, 'c.yaml', env.spec, denseLabel).size).toBe(table.size);
    expect(loadDemos(file, 'c.yaml', env.spec, await labelOf(config({ action: { frame: 'tcp' }, engine: 'mujoco', state: 'full' }))).size).toBe(table.size);
    const sparse = await labelOf(config({ action: { frame: 'tcp' }, reward: 'sparse' }));
    expect(() => loadDemos(file, 'sparse.yaml', env.spec, sparse)).toThrow(/pick\.demos: recorded under another config than this one \(rewards, episode ends or actions may differ; options compare as the configs write them\) — at options\.reward: absent in the demos, "sparse" in this config: record them with `npx roborl record-demos --config sparse\.yaml/);
    const joint = await labelOf(config({ action: { frame: 'joint' } }));
    expect(() => loadDemos(file, 'c.yaml', env.spec, joint)).toThrow(/at options\.action\.frame: "tcp" in the demos, "joint" in this config/);
    expect(() => loadDemos(file, 'c.yaml', env.spec, { ...denseLabel, rewardClassifier: '/x/success.classifier' })).toThrow(/at rewardClassifier: null in the demos, "\/x\/success\.classifier" in this config/);
    // The safety layers filter the actions the file holds and name its cost columns: other Tier 0
    // limits, a shield or other constraint expressions are another recording. Defaults written out
    // and the watchdog (wall-clock) are not.
    const safe = (safety: Record<string, unknown>) => validateConfig({ name: 'x', env: { id: 'PandaPickCube-v0', options: { action: { frame: 'tcp' } } }, algo: { kind: 'sac' }, safety, train: { steps: 10 } }, 'test');
    const margin = await labelOf(safe({ limits: { margin: 0.1 } }));
    expect(() => loadDemos(file, 'c.yaml', env.spec, margin)).toThrow(/at safety\.limits\.margin: 0\.05 in the demos, 0\.1 in this config/);
    const off = await labelOf(safe({ limits: false }));
    expect(() => loadDemos(file, 'c.yaml', env.spec, off)).toThrow(/at safety\.limits: \{"margin":0\.05,.*\} in the demos, false in this config/);
    expect(loadDemos(file, 'c.yaml', env.spec, await labelOf(safe({ limits: { margin: 0.05, softZone: 0.8, brakingDecel: 2, workspace: 'task', watchdogMs: 100 } }))).size).toBe(table.size);
    const shielded = { ...denseLabel, safety: { ...denseLabel.safety!, shield: true } };
    expect(() => loadDemos(file, 'c.yaml', env.spec, shielded)).toThrow(/at safety\.shield: false in the demos, true in this config/);
    const constrained = { ...denseLabel, safety: { ...denseLabel.safety!, constraints: [{ name: 'low', cost: 'tcp[3] < 0.1' }] } };
    expect(() => loadDemos(file, 'c.yaml', env.spec, constrained)).toThrow(/at safety\.constraints\.0: absent in the demos, \{"name":"low","cost":"tcp\[3\] < 0\.1"\} in this config/);
    // A label from before the safety section was recorded passes on it.
    const older = ReplayBuffer.load(file);
    const { safety: _dropped, ...olderLabel } = older.source!.recordedWith!;
    older.source = { ...older.source!, recordedWith: olderLabel };
    const olderFile = join(dir, 'older.demos');
    older.save(olderFile);
    expect(loadDemos(olderFile, 'c.yaml', env.spec, shielded).size).toBe(table.size);
    // The classifier's content: a label with its digest is refused for a classifier file that
    // changed since; a label from before digests were recorded passes on it.
    const spec = { id: 'PandaPickCube-v0' };
    const label = { options: {}, rewardClassifier: '/x/a.classifier' };
    const sha = (c: string): string => c.repeat(64);
    expect(() => checkDemoSource('d.demos', { env: 'PandaPickCube-v0', recordedWith: { ...label, rewardClassifierSha256: sha('a') } }, spec, 'record', { ...label, rewardClassifierSha256: sha('b') })).toThrow(/the classifier file changed since.* at rewardClassifierSha256: "a{64}" in the demos, "b{64}" in this config/);
    expect(() => checkDemoSource('d.demos', { env: 'PandaPickCube-v0', recordedWith: label }, spec, 'record', { ...label, rewardClassifierSha256: sha('b') })).not.toThrow();
    expect(() => checkDemoSource('d.demos', { env: 'PandaPickCube-v0', recordedWith: { ...label, rewardClassifierSha256: sha('a') } }, spec, 'record', { ...label, rewardClassifierSha256: sha('a') })).not.toThrow();
    // Keys from a file are shown bounded and escaped: no terminal control, no megabyte of markup.
    const crafted = ReplayBuffer.load(file);
    crafted.source = { ...crafted.source!, recordedWith: { ...crafted.source!.recordedWith!, options: { [`\u001b[2J<script>${'x'.repeat(100_000)}`]: 1, 'action.frame': 'tcp' } } };
    const craftedFile = join(dir, 'crafted.demos');
    crafted.save(craftedFile);
    let message = '';
    try {
      loadDemos(craftedFile, 'c.yaml', env.spec, denseLabel);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/at options\."\\u001b\[2J<script>x+… \(\d+ more characters\): 1 in the demos, absent in this config/);
    expect(message.length).toBeLessThan(1000);
    expect(message).not.toContain('\u001b');
    // A label that is not a config's (markup, nested beyond any option) is a corrupt file, named with the command that records a good one.
    for (const bad of ['<b>x</b>', [1, 2], { options: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }, rewardClassifier: null }, { options: {}, rewardClassifier: 7 }, { options: {}, rewardClassifier: null, safety: { limits: false, shield: 'yes', constraints: [] } }, { options: {}, rewardClassifier: null, safety: '<b>' }, { options: {}, rewardClassifier: null, safety: { limits: false, shield: false, constraints: [{ name: 7, cost: '<b>' }] } }, { options: {}, rewardClassifier: null, safety: { limits: [1], shield: false, constraints: [] } }]) {
      const t = ReplayBuffer.load(file);
      t.source = { ...t.source!, recordedWith: bad as never };
      const badFile = join(dir, 'bad.demos');
      t.save(badFile);
      expect(() => loadDemos(badFile, 'c.yaml', env.spec, denseLabel)).toThrow(/demo file .*bad\.demos: .*source\.recordedWith` is not the env options, reward classifier and safety section of a config \(record them with `npx roborl record-demos --config c\.yaml/);
    }
    await env.close();
  }, 60_000);

  it('the keep-out shield config records through its shield, and the unshielded configs refuse those demos by name; Tier 0 settings are compared only where Tier 0 runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-demos-'));
    const configs = fileURLToPath(new URL('../configs/', import.meta.url));
    const shieldConfig = demoConfig(undefined, join(configs, 'panda-keep-out-shield.yaml'));
    const sacConfig = demoConfig(undefined, join(configs, 'panda-keep-out-sac.yaml'));
    const { table } = await recordDemonstrations(shieldConfig, 1, 5, false);
    expect(table.source?.recordedWith?.safety).toMatchObject({ shield: true });
    const file = join(dir, 'shielded.demos');
    saveDemos(table, file);
    const spec = await specOf(sacConfig);
    expect(loadDemos(file, 'shield.yaml', spec, await labelOf(shieldConfig)).size).toBe(table.size);
    const sacLabel = await labelOf(sacConfig);
    expect(() => loadDemos(file, 'configs/panda-keep-out-sac.yaml', spec, sacLabel)).toThrow(/at safety\.shield: true in the demos, false in this config: record them with `npx roborl record-demos --config configs\/panda-keep-out-sac\.yaml/);
    // Pendulum commands torques: no Tier 0 runs on it, so `limits: false` records the same demos.
    const pendulum = (safety: Record<string, unknown>) => validateConfig({ name: 'p', env: { id: 'Pendulum-v1' }, algo: { kind: 'sac' }, safety, train: { steps: 10 } }, 'test');
    const pend = await recordDemonstrations(pendulum({}), 1, 3, true);
    expect(pend.table.source?.recordedWith?.safety?.limits).toBe(false);
    const pendFile = join(dir, 'pendulum.demos');
    saveDemos(pend.table, pendFile);
    expect(loadDemos(pendFile, 'p.yaml', await specOf(pendulum({})), await labelOf(pendulum({ limits: false }))).size).toBe(pend.table.size);
  }, 60_000);
});

describe('demo starts spread over the task\'s (`record-demos --starts spread`)', () => {
  it('20 spread push starts cover the start distribution closer than 20 consecutive seeds (three bases); from the share\'s candidates; deterministic; record-demos records from them in order', async () => {
    const env = await make('PandaPush-v1', { options: { action: { frame: 'tcp' } } });
    const names = env.spec.observationNames!;
    const fields = ['cube x', 'cube y', 'goal x', 'goal y'].map((n) => names.indexOf(n));
    const place = async (seed: number): Promise<number[]> => {
      const { obs } = await env.reset({ seed });
      return fields.map((d) => obs[d]!);
    };
    // Training's box: cube x ∈ [0.4, 0.6], y ∈ [−0.15, 0.15]; goal x ∈ [0.4, 0.65], y ∈ [−0.2, 0.2].
    const scale = [0.2, 0.3, 0.25, 0.4];
    const held: number[][] = [];
    for (let i = 0; i < 300; i++) held.push(await place(seedAt(777, i)));
    /** Mean distance from held-out starts to the nearest of `seeds`' starts, in the box's sides. */
    const coverage = async (seeds: readonly number[]): Promise<number> => {
      const picks: number[][] = [];
      for (const s of seeds) picks.push(await place(s));
      const nearest = held.map((h) => Math.min(...picks.map((p) => Math.hypot(...p.map((x, k) => (x - h[k]!) / scale[k]!)))));
      return nearest.reduce((a, b) => a + b, 0) / nearest.length;
    };
    const consecutive = (base: number, n: number): number[] => Array.from({ length: n }, (_, i) => seedAt(base, i));
    // As `record-demos --episodes 20 --starts spread` asks: 5 × 20 seeds (failed starts are replaced
    // by the next), picked from 10 × as many candidates; its 20 episodes come from the first 20.
    // Measured at 5,000,000 (the shipped push demos): 0.28 against 0.32.
    for (const base of [5_000_000, 6_000_000, 7_000_000]) {
      const order = await spreadStartSeeds(env, base, 100, { pick: 'spread', share: 0.1 });
      expect(new Set(order).size).toBe(100);
      expect(order.every((s) => consecutive(base, 1000).includes(s))).toBe(true);
      expect(await coverage(order.slice(0, 20))).toBeLessThan(0.95 * (await coverage(consecutive(base, 20))));
    }
    // Not the corners first (farthest-point picks would): the first pick lies in the middle of the box.
    const order = await spreadStartSeeds(env, 5_000_000, 100, { pick: 'spread', share: 0.1 });
    const first = await place(order[0]!);
    expect(Math.abs(first[0]! - 0.5)).toBeLessThan(0.06);
    expect(await spreadStartSeeds(env, 5_000_000, 100, { pick: 'spread', share: 0.1 })).toEqual(order);
    // The share sets the candidates: all of them with share 1 (the consecutive seeds, herded into an order).
    expect([...(await spreadStartSeeds(env, 5_000_000, 20, { pick: 'spread', share: 1 }))].sort((a, b) => a - b)).toEqual(consecutive(5_000_000, 20).sort((a, b) => a - b));
    await expect(spreadStartSeeds(env, 1, 5, { pick: 'spread', share: 1.5 })).rejects.toThrow(/share must be in \(0, 1\]/);
    await expect(spreadStartSeeds(env, 1, 5, { pick: 'spread', share: 0.5, fields: ['cube w'] })).rejects.toThrow(/no observation entries named cube w/);
    await expect(centralStartSeeds(env, 1, 5, { share: 1e-9 })).rejects.toThrow(/5 starts from a share of 1e-9 means 5000000000 candidate resets, more than 20000/);
    // Through the command: 1 episode asks for 5 seeds (from 50 candidates) and starts where the first does.
    const dir = mkdtempSync(join(tmpdir(), 'roborl-spread-'));
    const out = join(dir, 'push.demos');
    await recordDemosCommand(parseArgs(['--env', 'PandaPush-v1', '--episodes', '1', '--starts', 'spread', '--out', out, '--seed', '5000000']));
    const table = ReplayBuffer.load(out);
    const expected = await place((await spreadStartSeeds(env, 5_000_000, 5, { pick: 'spread', share: 0.1 }))[0]!);
    const row = allocBatch(table.spec, 1);
    table.writeRow(row, 0, 0, 0.99, 1);
    expect(fields.map((d) => row.obs[d]!)).toEqual(expected.map((x) => expect.closeTo(x, 6)));
    await env.close();
  }, 120_000);

  it('a config\'s algo.demos says how its file is recorded: record-demos --config takes its episodes, starts and path; a missing file names that command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-recipe-'));
    const configPath = join(dir, 'push.yaml');
    writeFileSync(configPath, ['name: push', 'env: { id: PandaPush-v1, options: { action: { frame: tcp } } }', 'algo: { kind: sac, demos: { path: demos/push-1.demos, episodes: 1, starts: spread } }', 'train: { steps: 1 }', ''].join('\n'));
    const config = demoConfig(undefined, configPath);
    const path = join(dir, 'demos', 'push-1.demos');
    const recipe = config.algo.kind === 'sac' ? config.algo.demos : undefined;
    expect(recipe).toMatchObject({ path, episodes: 1, starts: 'spread' });
    const env = await make('PandaPush-v1', { options: { action: { frame: 'tcp' } } });
    expect(() => loadDemos(path, configPath, env.spec, undefined, recipe)).toThrow(`demo file ${path} not found: record it with \`npx roborl record-demos --config ${configPath} --episodes 1 --starts spread --out ${path}\``);
    await recordDemosCommand(parseArgs(['--config', configPath]));
    const table = ReplayBuffer.load(path);
    // One episode (the 100-step limit or fewer), from the first spread start.
    expect(table.size).toBeGreaterThan(5);
    expect(table.size).toBeLessThanOrEqual(100);
    const names = env.spec.observationNames!;
    const fields = ['cube x', 'cube y', 'goal x', 'goal y'].map((n) => names.indexOf(n));
    const { obs } = await env.reset({ seed: (await spreadStartSeeds(env, 5_000_000, 5, { pick: 'spread', share: 0.1 }))[0]! });
    const row = allocBatch(table.spec, 1);
    table.writeRow(row, 0, 0, 0.99, 1);
    expect(fields.map((d) => row.obs[d]!)).toEqual(fields.map((d) => expect.closeTo(obs[d]!, 6)));
    // The file is labelled with its recording and matches the config.
    expect(table.source?.expert).toEqual({ episodes: 1, starts: 'spread' });
    expect(loadDemos(path, configPath, env.spec, undefined, recipe).size).toBe(table.size);
    // Another recording from the same config goes to a file of its own, not over the config's.
    const before = readFileSync(path);
    const other = await run(process.execPath, [bin, 'record-demos', '--config', configPath, '--episodes', '2'], { cwd: dir, timeout: 120_000 });
    expect(other.stdout).toMatch(/to demos\/PandaPush-v1-2-spread\.demos/);
    expect(readFileSync(path).equals(before)).toBe(true);
    // Trained on under a config that says 1 episode: refused, naming both and the command.
    expect(() => loadDemos(join(dir, 'demos', 'PandaPush-v1-2-spread.demos'), configPath, env.spec, undefined, recipe)).toThrow(/PandaPush-v1-2-spread\.demos: the scripted expert's 2 episode\(s\) from spread starts, where this config's algo\.demos says 1 from spread starts: record them with `npx roborl record-demos --config .*push\.yaml --episodes 1 --starts spread --out .*PandaPush-v1-2-spread\.demos` \(or change algo\.demos\)/);
    // A config that states no recipe takes any count (as before the label).
    expect(loadDemos(join(dir, 'demos', 'PandaPush-v1-2-spread.demos'), configPath, env.spec, undefined, { ...recipe, episodes: undefined, starts: undefined }).size).toBeGreaterThan(table.size);
    await env.close();
    // A label that is not a count and a starts name is a corrupt file.
    const bad = ReplayBuffer.load(path);
    bad.source = { ...bad.source!, expert: { episodes: 'many' as unknown as number, starts: 'spread' } };
    const badFile = join(dir, 'bad.demos');
    bad.save(badFile);
    expect(() => ReplayBuffer.load(badFile)).toThrow(/source\.expert` is not a count of episodes/);
    // Refused at load: starts the schema does not know; spread starts on a camera config.
    expect(() => validateConfig({ name: 'x', env: { id: 'PandaPush-v1' }, algo: { kind: 'sac', demos: { path: 'd.demos', starts: 'corners' } }, train: { steps: 1 } }, 'x.yaml')).toThrow(/algo\.demos\.starts/);
    expect(() => validateConfig({ name: 'x', env: { id: 'PandaReach-v0', options: { cameras: [{ name: 'front', width: 32, height: 32 }] } }, algo: { kind: 'sac', demos: { path: 'd.demos', starts: 'spread' } }, train: { steps: 1 } }, 'x.yaml')).toThrow(/algo\.demos\.starts: spread starts are for state configs/);
  }, 120_000);

  it('`--starts` is checked: all, spread or central:SHARE (a decimal); not with a person at a device', async () => {
    const run = (...argv: string[]) => recordDemosCommand(parseArgs(argv));
    await expect(run('--env', 'PandaPush-v1', '--starts', 'corners')).rejects.toThrow(/Expected --starts to be all, spread or central:SHARE .*got `corners`/);
    for (const bad of ['central:0', 'central:1.5', 'central:0x1', 'central:', 'central:abc']) await expect(run('--env', 'PandaPush-v1', '--starts', bad)).rejects.toThrow(/Expected --starts/);
    await expect(run('--env', 'PandaPush-v1', '--starts', 'spread', '--device', 'keyboard')).rejects.toThrow(/--starts chooses the scripted expert's starts/);
  });
});
