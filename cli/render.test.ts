import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readPng } from '../test/read-png.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('./bin.mjs', import.meta.url));

async function roborl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 120_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('roborl render', () => {
  it('writes the front camera frame and its depth as PNGs showing the arm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-render-'));
    const r = await roborl('render', 'PandaReach-v0', '--camera', 'front', '--size', '48', '--out', join(dir, 'f.png'), '--depth', join(dir, 'd.png'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote .*f\.png \(48×48, camera front\)/);
    const rgb = readPng(readFileSync(join(dir, 'f.png')));
    expect([rgb.width, rgb.height]).toEqual([48, 48]);
    let orange = 0;
    for (let k = 0; k < rgb.rgb.length; k += 3) if ((rgb.rgb[k] ?? 0) > (rgb.rgb[k + 1] ?? 0) + 40 && (rgb.rgb[k + 1] ?? 0) > (rgb.rgb[k + 2] ?? 0) + 20) orange++;
    expect(orange).toBeGreaterThan(100); // the arm
    const depth = readPng(readFileSync(join(dir, 'd.png')));
    const levels = new Set<number>();
    for (let k = 0; k < depth.rgb.length; k += 3) levels.add(depth.rgb[k] ?? 0);
    expect(levels.size).toBeGreaterThan(20); // a depth ramp, not a flat image
  });

  it('names a bad flag value; --help shows the usage', async () => {
    const bad = await roborl('render', 'PandaReach-v0', '--camera', 'side');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Expected --camera to be front or wrist, got `side`/);
    const size = await roborl('render', 'PandaReach-v0', '--size', '0');
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/--size/);
    const help = await roborl('render', '--help');
    expect(help.stdout).toMatch(/usage: roborl render <env-id>/);
  });
});
