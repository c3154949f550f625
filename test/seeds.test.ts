import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../experiment/config.js';
import { make } from '../tasks/registry.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

describe('seeds are what they say: integers in [0, 2³²), the rest refused', () => {
  it('env.reset refuses 1.5, −1, 2³² and NaN; distinct valid seeds give distinct episodes', async () => {
    const env = await make('Pendulum-v1');
    for (const bad of [1.5, -1, 2 ** 32, Number.NaN]) await expect(env.reset({ seed: bad })).rejects.toThrow(/Pendulum-v1 reset seed to be an integer in \[0, 4294967295\]/);
    const first = async (seed: number): Promise<number[]> => Array.from((await env.reset({ seed })).obs);
    expect(await first(2 ** 32 - 1)).not.toEqual(await first(0));
    expect(await first(1)).not.toEqual(await first(0));
    expect(await first(7)).toEqual(await first(7));
    await env.close();
  });

  it('the CLI and configs refuse seeds outside [0, 2³²)', async () => {
    for (const seed of ['4294967296', '-1', '1.5', '1e3']) {
      const r = await run(process.execPath, [bin, 'run', 'Pendulum-v1', '--episodes', '1', '--seed', seed]).catch((e: { code: number; stderr: string }) => e);
      expect((r as { code: number }).code, seed).toBe(2);
      expect((r as { stderr: string }).stderr).toMatch(/Expected --seed to be an integer in \[0, 4294967295\]/);
    }
    const ok = await run(process.execPath, [bin, 'run', 'Pendulum-v1', '--episodes', '1', '--seed', '4294967295', '--json']);
    expect(JSON.parse(ok.stdout)).toMatchObject({ episodes: 1 });
    expect(() => validateConfig({ name: 'x', env: { id: 'Pendulum-v1' }, algo: { kind: 'sac' }, train: { steps: 10 }, seed: 2 ** 32 }, 'c.yaml')).toThrow(/seed/);
    const dir = mkdtempSync(join(tmpdir(), 'roborl-seed-'));
    writeFileSync(join(dir, 'c.yaml'), 'name: x\nenv: { id: Pendulum-v1 }\nalgo: { kind: sac }\ntrain: { steps: 10 }\nseed: 1.5\n');
    const r = await run(process.execPath, [bin, 'train', join(dir, 'c.yaml'), '--run-dir', join(dir, 'run')]).catch((e: { code: number; stderr: string }) => e);
    // A config error (exit 1, as every input error outside the flags), before any run folder exists.
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toMatch(/Invalid config .*c\.yaml:\n {2}seed: .*\(got 1\.5\)/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  }, 120_000); // nine CLI starts: ~55 s with both cores busy
});
