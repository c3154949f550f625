import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, validateConfig } from '../experiment/config.js';
import { readRunStatus } from '../experiment/run-status.js';
import { resolvedAlgoSection } from '../experiment/setup.js';
import { tinySacConfig } from './test-configs.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('./bin.mjs', import.meta.url));

const tinyConfig = (steps: number): string => tinySacConfig(steps);

describe('experiment configs', () => {
  const shipped = readdirSync(fileURLToPath(new URL('../configs/', import.meta.url))).filter((f) => f.endsWith('.yaml'));
  it.each(shipped)('configs/%s validates and resolves', (file) => {
    const config = loadConfig(fileURLToPath(new URL(`../configs/${file}`, import.meta.url)));
    expect(resolvedAlgoSection(config).kind).toBe(config.algo.kind);
    expect(config.train.steps).toBeGreaterThan(0);
  });

  it('name the path and the bad value of every problem', () => {
    const bad = { name: 'has space', env: { id: 'Pendulum-v1' }, algo: { kind: 'sac', batchSize: 'big', critics: 0 }, train: { steps: 10, evalEvery: -1 }, extra: 1 };
    let message = '';
    try {
      validateConfig(bad, 'bad.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/Invalid config bad\.yaml/);
    expect(message).toMatch(/algo\.batchSize: .*\(got "big"\)/);
    expect(message).toMatch(/algo\.critics: .*\(got 0\)/);
    expect(message).toMatch(/train\.evalEvery: .*\(got -1\)/);
    expect(message).toMatch(/name: use letters, digits/);
    expect(message).toMatch(/extra/);
  });
  it('reject an unknown algorithm kind', () => {
    expect(() => validateConfig({ name: 'x', env: { id: 'Pendulum-v1' }, algo: { kind: 'ppo' }, train: { steps: 10 } }, 'c.yaml')).toThrow(/algo\.kind/);
  });
});

describe('roborl train', () => {
  it('survives SIGKILL: --resume continues from the last checkpoint and the metrics stay consistent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-kill-'));
    const cfg = join(dir, 'tiny.yaml');
    writeFileSync(cfg, tinyConfig(1200));
    const runDir = join(dir, 'run');
    const child = spawn(process.execPath, [bin, 'train', cfg, '--run-dir', runDir, '--quiet'], { stdio: 'ignore' });
    const ckptDir = join(runDir, 'checkpoints');
    const started = Date.now();
    // Kill it hard as soon as a checkpoint past step 400 exists.
    while (!(existsSync(ckptDir) && readdirSync(ckptDir).some((f) => /^ckpt-\d+\.bin$/.test(f) && Number(f.slice(5, 15)) >= 400))) {
      if (Date.now() - started > 60_000) throw new Error('no checkpoint within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const killedAt = Math.max(...readdirSync(ckptDir).filter((f) => f.endsWith('.bin')).map((f) => Number(f.slice(5, 15))));
    expect(killedAt).toBeLessThan(1200);
    expect(readRunStatus(runDir)?.state).toBe('killed'); // the dashboard's run list says so

    const resumed = await run(process.execPath, [bin, 'train', '--resume', runDir, '--quiet'], { timeout: 120_000 });
    expect(resumed.stderr).toMatch(new RegExp(`resumed from .*ckpt-0*${killedAt}\\.bin at step ${killedAt}`));
    expect(resumed.stdout).toMatch(/tiny: 1200 env steps/);
    const records = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number });
    const trainSteps = records.filter((r) => r.type === 'train').map((r) => r.step);
    expect(trainSteps).toEqual(Array.from({ length: 12 }, (_, i) => 100 * (i + 1))); // each logged exactly once
    expect(readdirSync(ckptDir).filter((f) => f.endsWith('.bin')).at(-1)).toBe('ckpt-0000001200.bin');
    expect(readdirSync(ckptDir).some((f) => f.includes('.tmp'))).toBe(false);

    expect(readRunStatus(runDir)).toMatchObject({ state: 'finished', step: 1200, steps: 1200 });
    // Each evaluation's first episode is recorded for the dashboard's 3D view (Pendulum-v1: 200 steps).
    const scenes = readdirSync(join(runDir, 'scenes'));
    expect(scenes).toContain('eval-000001200.scene.jsonl');
    const finalScene = readFileSync(join(runDir, 'scenes', 'eval-000001200.scene.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; shapes?: unknown[]; done?: boolean });
    expect(finalScene.map((l) => l.type).filter((t) => t === 'frame')).toHaveLength(201);
    expect(finalScene[0]).toMatchObject({ type: 'scene', env: 'Pendulum-v1', hz: 20 });
    expect(finalScene.at(-1)?.done).toBe(true);

    const recording = join(dir, 'eval.scene.jsonl');
    const evaluated = await run(process.execPath, [bin, 'eval', runDir, '--episodes', '2', '--json', '--record', recording], { timeout: 60_000 });
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ checkpointStep: 1200, episodes: 2, env: 'Pendulum-v1' });
    const recorded = readFileSync(recording, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; episode: number });
    expect(recorded.filter((l) => l.type === 'scene').map((l) => l.episode)).toEqual([0, 1]);
    expect(recorded.filter((l) => l.type === 'frame')).toHaveLength(2 * 201);

    const again = await run(process.execPath, [bin, 'train', cfg, '--run-dir', runDir]).catch((e: { stderr: string; code: number }) => e);
    expect((again as { code: number }).code).toBe(2);
    expect((again as { stderr: string }).stderr).toMatch(/already exists and is not empty: continue it with `roborl train --resume/);
  }, 180_000);

  it('keeps the best evaluation\'s policy: eval --best runs it and reproduces its recorded return', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-best-'));
    const cfg = join(dir, 'tiny.yaml');
    writeFileSync(cfg, tinyConfig(800).replace('evalEvery: 0', 'evalEvery: 200'));
    const runDir = join(dir, 'run');
    await run(process.execPath, [bin, 'train', cfg, '--run-dir', runDir, '--quiet'], { timeout: 120_000 });
    const evals = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; returnMean: number; successRate: number }).filter((r) => r.type === 'eval');
    expect(evals.map((e) => e.step)).toEqual([200, 400, 600, 800]);
    const best = evals.reduce((b, e) => (e.successRate > b.successRate || (e.successRate === b.successRate && e.returnMean > b.returnMean) ? e : b));
    expect(readdirSync(join(runDir, 'best'))).toEqual([`ckpt-${String(best.step).padStart(10, '0')}.bin`]);
    const evaluated = JSON.parse((await run(process.execPath, [bin, 'eval', runDir, '--best', '--episodes', '2', '--json'], { timeout: 60_000 })).stdout) as { checkpointStep: number; returnMean: number; best: { step: number; returnMean: number } };
    expect(evaluated.checkpointStep).toBe(best.step);
    expect(evaluated.best).toMatchObject({ step: best.step, episodes: 2 });
    expect(evaluated.returnMean).toBeCloseTo(best.returnMean, 4); // the same policy, the same evaluation episodes
    // A best file that does not verify: named, exit 2, the newest checkpoint offered instead.
    const bestFile = join(runDir, 'best', `ckpt-${String(best.step).padStart(10, '0')}.bin`);
    writeFileSync(bestFile, readFileSync(bestFile).subarray(0, 300));
    const corrupt = await run(process.execPath, [bin, 'eval', runDir, '--best']).catch((e: { stderr: string; code: number }) => e);
    expect((corrupt as { code: number }).code).toBe(2);
    expect((corrupt as { stderr: string }).stderr).toMatch(/the best-policy file in .*best does not verify \(ckpt-\d+\.bin\): the run's next evaluation replaces it; `roborl eval .*run` runs its newest checkpoint/);
    // A streaming run keeps none: refused by name.
    const stream = join(dir, 'stream.yaml');
    writeFileSync(stream, tinyConfig(200).replace('algo: { kind: sac, hidden: [16, 16], batchSize: 32, learningStarts: 100 }', 'algo: { kind: stream-ac, hidden: [16, 16] }'));
    await run(process.execPath, [bin, 'train', stream, '--run-dir', join(dir, 'srun'), '--quiet'], { timeout: 60_000 });
    const refused = await run(process.execPath, [bin, 'eval', join(dir, 'srun'), '--best']).catch((e: { stderr: string; code: number }) => e);
    expect((refused as { code: number }).code).toBe(2);
    expect((refused as { stderr: string }).stderr).toMatch(/--best: a streaming run keeps no best policy/);
  }, 180_000);

  it('explains a missing demo file and a folder that is not a run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-bad-'));
    const cfg = join(dir, 'rlpd.yaml');
    writeFileSync(cfg, tinyConfig(100).replace('learningStarts: 100 }', 'learningStarts: 100, preset: rlpd, critics: 2, demos: { path: missing.demos } }'));
    const missing = await run(process.execPath, [bin, 'train', cfg, '--run-dir', join(dir, 'r1')]).catch((e: { stderr: string; code: number }) => e);
    expect((missing as { stderr: string }).stderr).toMatch(/demo file .*missing\.demos not found: record it with `npx roborl record-demos --config .*rlpd\.yaml --episodes 20 --out .*missing\.demos`/);
    const evalNoCkpt = await run(process.execPath, [bin, 'eval', join(dir, 'nowhere')]).catch((e: { stderr: string; code: number }) => e);
    expect((evalNoCkpt as { stderr: string }).stderr).toMatch(/is not a roborl run folder \(no config\.yaml\)/);
  }, 60_000);
});
