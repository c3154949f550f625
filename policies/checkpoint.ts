import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptFileError, encodeBinary, readBinaryFile, writeFileAtomic, type BinaryFile } from './binary-file.js';

const MAGIC = 'RRLCKPT1';

/**
 * Writes checkpoint `step` into `dir` atomically (temp file, fsync, rename) and keeps the newest
 * `keep`. A process killed at any moment leaves either the previous checkpoint or the new one.
 */
export function saveCheckpoint(dir: string, step: number, header: Record<string, unknown>, sections: readonly ArrayBufferView[], keep = 2): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `ckpt-${String(step).padStart(10, '0')}.bin`);
  writeFileAtomic(path, encodeBinary(MAGIC, { ...header, step }, sections));
  const all = listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, old));
  return path;
}

/** Checkpoint files in `dir`, oldest first. */
export function listCheckpoints(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /^ckpt-\d{10}\.bin$/.test(n)).sort();
}

/**
 * The newest checkpoint that verifies; corrupt ones (which atomic writes should never produce,
 * but disks fail) are skipped with a warning. Null when there is none.
 */
export function loadLatestCheckpoint(dir: string, warn: (msg: string) => void = () => {}): (BinaryFile & { path: string; step: number }) | null {
  for (const name of listCheckpoints(dir).reverse()) {
    const path = join(dir, name);
    try {
      const file = readBinaryFile(path, MAGIC);
      return { ...file, path, step: file.header['step'] as number };
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      warn(`skipping ${path}: ${err.message}`);
    }
  }
  return null;
}
