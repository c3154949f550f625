import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asFloat32, removeStaleTempFiles, writeFileAtomic } from './binary-file.js';
import { CorruptCheckpointsError, listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { MetricsLog } from './metrics-log.js';

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

  it('refuse when every checkpoint is corrupt, naming each file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-ckpt-'));
    const paths = [100, 200].map((step) => saveCheckpoint(dir, step, {}, [Float32Array.of(step)]));
    for (const p of paths) writeFileSync(p, readFileSync(p).subarray(0, 20));
    expect(() => loadLatestCheckpoint(dir)).toThrow(CorruptCheckpointsError);
    expect(() => loadLatestCheckpoint(dir)).toThrow(/ckpt-0000000100\.bin[\s\S]*ckpt-0000000200\.bin|ckpt-0000000200\.bin[\s\S]*ckpt-0000000100\.bin/);
  });

  it('a full disk names the file and the step (ENOSPC through /dev/full)', () => {
    expect(() => new MetricsLog('/dev/full').write({ type: 'train', step: 1234 })).toThrow(/cannot append to \/dev\/full at step 1234: ENOSPC/);
    const dir = mkdtempSync(join(tmpdir(), 'roborl-ckpt-'));
    expect(() => writeFileAtomic(join(dir, 'nope', 'x.bin'), 'data')).toThrow(/cannot write .*nope\/x\.bin: ENOENT/);
    expect(removeStaleTempFiles(dir)).toEqual([]);
  });
});
