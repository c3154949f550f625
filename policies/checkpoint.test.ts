import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asFloat32 } from './binary-file.js';
import { listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';

describe('checkpoints', () => {
  it('keep the newest two, and load the newest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-ckpt-'));
    for (const step of [100, 200, 300]) saveCheckpoint(dir, step, { note: `at ${step}` }, [Float32Array.of(step, step + 1)]);
    expect(listCheckpoints(dir)).toEqual(['ckpt-0000000200.bin', 'ckpt-0000000300.bin']);
    const latest = loadLatestCheckpoint(dir);
    expect(latest?.step).toBe(300);
    expect(latest?.header['note']).toBe('at 300');
    expect(Array.from(asFloat32(latest!.sections[0]!))).toEqual([300, 301]);
  });

  it('skip a corrupt newest checkpoint with a warning and fall back to the previous one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-ckpt-'));
    saveCheckpoint(dir, 100, {}, [Float32Array.of(1)]);
    const newest = saveCheckpoint(dir, 200, {}, [Float32Array.of(2)]);
    const bytes = readFileSync(newest);
    bytes[bytes.length - 6] = (bytes[bytes.length - 6] as number) ^ 0xff;
    writeFileSync(newest, bytes);
    const warnings: string[] = [];
    const loaded = loadLatestCheckpoint(dir, (w) => warnings.push(w));
    expect(loaded?.step).toBe(100);
    expect(warnings[0]).toMatch(/skipping .*ckpt-0000000200\.bin: .*checksum mismatch/);
  });

  it('return null for an empty or missing folder', () => {
    expect(loadLatestCheckpoint(join(tmpdir(), 'roborl-no-such-dir'))).toBeNull();
  });
});
