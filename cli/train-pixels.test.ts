import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { asFloat32 } from '../policies/binary-file.js';
import { readCheckpoint } from '../policies/checkpoint.js';
import { FrameReplay } from '../policies/frame-replay.js';
import { parse as parseYaml } from 'yaml';
import { loadPixelDemos } from '../experiment/pixels.js';
import { RENDERER_VERSION } from '../sim/camera/camera.js';
import { splitCameraOptions } from '../tasks/cameras.js';
import { tinyPixelConfig } from './test-configs.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('./bin.mjs', import.meta.url));

/** PandaReach-v0 seen by a 16×16 front camera and proprioception, RLPD with a tiny conv encoder. */
const config = (demos: string): string => tinyPixelConfig({ name: 'pixels', demos, size: 16, timeLimit: 15, checkpointEvery: 20 });

describe('roborl train with cameras (issue 23)', () => {
  it('records demos with frames, trains RLPD with the conv encoder from a 16×16 camera + proprioception, checkpoints and resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-pixels-'));
    const demos = join(dir, 'demos.demos');
    const cfg = join(dir, 'pixels.yaml');
    writeFileSync(cfg, config(demos));
    const rec = await run(process.execPath, [bin, 'record-demos', '--config', cfg, '--episodes', '2', '--keep-failures', '--out', demos], { timeout: 120_000 });
    expect(rec.stdout).toMatch(/wrote 30 transitions with frames from 2 episodes/);
    const table = FrameReplay.load(demos);
    expect(table.spec.obsDim).toBe(17); // q, q̇, TCP: no goal
    expect(table.spec.cameras).toEqual([{ name: 'front', height: 16, width: 16, channels: 3 }]);
    // Labelled with the task and the state entries the learner sees (no goal), checked on load.
    expect(table.source?.env).toBe('PandaReach-v0');
    expect(table.source?.observationNames).toHaveLength(17);
    expect(table.source?.observationNames?.some((n) => /goal/.test(n))).toBe(false);
    // …and with the renderer and the cameras that drew the frames: another camera pose or renderer is refused by name.
    expect(table.source?.frames?.renderer).toBe(RENDERER_VERSION);
    expect(table.source?.frames?.cameras).toMatchObject([{ name: 'front', width: 16, height: 16, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85] } }]);
    const camerasOf = (yaml: string) => splitCameraOptions('PandaReach-v0', (parseYaml(yaml) as { env: { options: Record<string, unknown> } }).env.options).cameras;
    const spec = { id: 'PandaReach-v0', observationNames: table.source?.observationNames };
    expect(loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos))).size).toBe(30);
    // …and with the env options it was recorded under (here none but the observation's): other options are refused by name.
    expect(table.source?.recordedWith).toMatchObject({ options: {}, rewardClassifier: null });
    const recordedWith = table.source!.recordedWith!;
    // …and with the scripted expert's count (its 2 attempts, failures kept) from consecutive
    // starts: a config whose algo.demos asks for another count is refused, naming the command.
    expect(table.source?.expert).toEqual({ episodes: 2, starts: 'all' });
    expect(loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos)), recordedWith, { episodes: 2 }).size).toBe(30);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos)), recordedWith, { episodes: 20 })).toThrow(/the scripted expert's 2 episode\(s\) from all starts, where this config's algo\.demos says 20 from all starts: record them with `npx roborl record-demos --config c\.yaml/);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos)), { ...recordedWith, options: { successHold: 3 } })).toThrow(/recorded under another config than this one .* at options\.successHold: absent in the demos, 3 in this config/);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos).replace('position: [1.35, -0.6, 0.85]', 'position: [1.35, -0.5, 0.85]')))).toThrow(/demos\.demos: camera 0 \("front"\) differs from the one the demos were drawn with at pose\.position\.1: -0\.6 in the demos, -0\.5 in this config: record them with `npx roborl record-demos --config c\.yaml/);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos).replace('height: 16', 'height: 16\n        fovDeg: 30')))).toThrow(/at fovDeg: \d+ in the demos, 30 in this config/);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, [])).toThrow(/from 1 camera\(s\) \("front"\), this config has 0/);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos).replace('height: 16', 'height: 16\n        shadows: true')))).toThrow(/at shadows: false in the demos, true in this config/);
    // Settings that draw the same image compare equal: a randomisation that draws nothing, defaults written out.
    expect(loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos).replace('height: 16', 'height: 16\n        fovDeg: 45\n        randomize: {}'))).size).toBe(30);
    expect(() => loadPixelDemos(demos, 'c.yaml', spec, camerasOf(config(demos).replace('height: 16', 'height: 16\n        randomize: { colorJitter: 0.1 }')))).toThrow(/at randomize: absent in the demos, \{"positionM":0,.*"colorJitter":0\.1\} in this config/);
    const redrawn = FrameReplay.load(demos);
    redrawn.source = { ...redrawn.source!, frames: { ...redrawn.source!.frames!, renderer: RENDERER_VERSION + 1 } };
    const redrawnPath = join(dir, 'redrawn.demos');
    redrawn.save(redrawnPath);
    expect(() => loadPixelDemos(redrawnPath, 'c.yaml', spec, camerasOf(config(demos)))).toThrow(new RegExp(`drawn by renderer version ${RENDERER_VERSION + 1}, and this roborl draws version ${RENDERER_VERSION}`));
    // A label that is not data of that shape is a corrupt file, not a crash.
    redrawn.source = { ...redrawn.source!, frames: { renderer: '<b>1</b>', cameras: [] } as never };
    redrawn.save(redrawnPath);
    expect(() => FrameReplay.load(redrawnPath)).toThrow(/source\.frames.* is not a renderer version with a list of cameras/);
    // …nor is a camera nested a thousand levels deep recursed into.
    let deep: unknown = 0;
    for (let k = 0; k < 1000; k++) deep = [deep];
    redrawn.source = { ...redrawn.source!, frames: { renderer: RENDERER_VERSION, cameras: [deep] } };
    redrawn.save(redrawnPath);
    expect(() => FrameReplay.load(redrawnPath)).toThrow(/source\.frames.* is not a renderer version with a list of cameras/);
    // A label of the right shape holding no camera config is named as such.
    redrawn.source = { ...redrawn.source!, frames: { renderer: RENDERER_VERSION, cameras: [{ name: '<script>', fovDeg: 'wide' }] } };
    redrawn.save(redrawnPath);
    expect(() => loadPixelDemos(redrawnPath, 'c.yaml', spec, camerasOf(config(demos)))).toThrow(/redrawn\.demos: the cameras its frames were drawn with are not camera configs this roborl reads \(Invalid camera config:/);
    const relabelled = FrameReplay.load(demos);
    relabelled.source = { env: 'PandaReach-v0', observationNames: ['goal x', ...(table.source?.observationNames ?? []).slice(1)] };
    const wrong = join(dir, 'wrong.demos');
    relabelled.save(wrong);
    const wrongCfg = join(dir, 'wrong.yaml');
    writeFileSync(wrongCfg, config(wrong));
    const refusedDemos = await run(process.execPath, [bin, 'train', wrongCfg, '--run-dir', join(dir, 'not-run'), '--quiet'], { timeout: 120_000 }).catch((e: { stderr: string }) => e);
    expect('stderr' in refusedDemos ? refusedDemos.stderr : '').toMatch(/wrong\.demos: observation entry 0 is "goal x" in the demos and "[^"]+" in PandaReach-v0: record them with `npx roborl record-demos --config .*wrong\.yaml/);
    expect(existsSync(join(dir, 'not-run'))).toBe(false);

    const runDir = join(dir, 'run');
    const first = await run(process.execPath, [bin, 'train', cfg, '--run-dir', runDir, '--quiet'], { timeout: 300_000 });
    expect(first.stderr).toMatch(/30 demo transitions \(with frames\)/);
    expect(first.stdout).toMatch(/pixels: 40 env steps/);
    expect(readdirSync(join(runDir, 'checkpoints')).filter((f) => f.endsWith('.bin'))).toEqual(['ckpt-0000000020.bin', 'ckpt-0000000040.bin']);

    const resumed = await run(process.execPath, [bin, 'train', '--resume', runDir, '--steps', '60', '--quiet'], { timeout: 300_000 });
    expect(resumed.stderr).toMatch(/resumed from .*ckpt-0000000040\.bin at step 40/);
    expect(resumed.stdout).toMatch(/pixels: 60 env steps/);
    const train = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; updates?: number; updateMs?: number });
    const rows = train.filter((r) => r.type === 'train');
    expect(rows.map((r) => r.step)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(rows.at(-1)?.updates).toBe(50); // one update per step after the 10 warm-up steps, across the resume
    expect(rows.at(-1)?.updateMs).toBeGreaterThan(0);
    // The final evaluations (at 40 and 60) kept the better policy; eval --best runs it.
    const kept = readdirSync(join(runDir, 'best'));
    expect(kept).toHaveLength(1);
    const best = JSON.parse((await run(process.execPath, [bin, 'eval', runDir, '--best', '--episodes', '1', '--json'], { timeout: 120_000 })).stdout) as { checkpointStep: number; best: { step: number } };
    expect(kept[0]).toBe(`ckpt-${String(best.checkpointStep).padStart(10, '0')}.bin`);
    expect(best.best.step).toBe(best.checkpointStep);

    // Another run from this one's encoders, frozen: its checkpoints hold them unchanged.
    const encoderVars = (path: string): Map<string, number[]> => {
      const ck = readCheckpoint(path);
      const vars = (ck.header['learner'] as { variables: { name: string }[] }).variables;
      const out = new Map<string, number[]>();
      vars.forEach((v, i) => {
        if (/encoder_front\//.test(v.name)) out.set(v.name.slice(v.name.indexOf('/') + 1), Array.from(asFloat32(ck.sections[i]!)));
      });
      return out;
    };
    const frozenCfg = join(dir, 'frozen.yaml');
    writeFileSync(frozenCfg, config(demos).replace('pad: 2 }', 'pad: 2, init: run, frozen: true }'));
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, config(demos).replace('pad: 2 }', 'pad: 2, init: nowhere, frozen: true }'));
    const refused = await run(process.execPath, [bin, 'train', missing, '--run-dir', join(dir, 'never'), '--quiet'], { timeout: 120_000 }).catch((e: { stderr: string; code: number }) => e);
    expect('stderr' in refused ? refused.stderr : '').toMatch(/encoder\.init: .*nowhere does not exist/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const second = await run(process.execPath, [bin, 'train', frozenCfg, '--run-dir', join(dir, 'run2'), '--quiet'], { timeout: 300_000 });
    expect(second.stderr).toMatch(/encoders from .*ckpt-0000000060\.bin \(step 60\), frozen/);
    const source = encoderVars(join(runDir, 'checkpoints', 'ckpt-0000000060.bin'));
    const after = encoderVars(join(dir, 'run2', 'checkpoints', 'ckpt-0000000040.bin'));
    expect(source.size).toBe(2 * 8); // online and target: 2 convolutions (w, b each), head (w, b), LayerNorm (g, b)
    expect([...after.keys()].sort()).toEqual([...source.keys()].sort());
    // Online and target encoders of the new run are both the source's online encoder, unchanged by 30 updates.
    for (const [name, values] of after) expect({ name, same: values.every((v, i) => v === source.get(name.replace(/^target_/, ''))![i]) }).toEqual({ name, same: true });
  }, 600_000);

  it('refuses a camera config without an image encoder, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-pixels-'));
    const cfg = join(dir, 'pixels.yaml');
    writeFileSync(cfg, config(join(dir, 'none.demos')).replace(/ {2}encoder: .*\n/, '').replace(/ {2}demos: .*\n/, ''));
    const err = await run(process.execPath, [bin, 'train', cfg, '--run-dir', join(dir, 'run'), '--quiet'], { timeout: 120_000 }).catch((e: { stderr: string }) => e);
    expect('stderr' in err ? err.stderr : '').toMatch(/algo\.encoder: \{kind: conv\}/);
  }, 180_000);
});
