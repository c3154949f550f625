import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptFileError, encodeBinary, listDirectory, readBinaryFile, writeFileAtomic, type BinaryFile } from './binary-file.js';

const MAGIC = 'RRLCKPT1';

/**
 * Writes checkpoint `step` into `dir` atomically (temp file, fsync, rename) and keeps the newest
 * `keep`. A process killed at any moment leaves either the previous checkpoint or the new one.
 */
export function saveCheckpoint(dir: string, step: number, header: Record<string, unknown>, sections: readonly ArrayBufferView[], keep = 2): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `ckpt-${String(step).padStart(10, '0')}.bin`);
  try {
    writeFileAtomic(path, encodeBinary(MAGIC, { ...header, step }, sections));
  } catch (err) {
    throw new Error(`checkpoint at step ${step} failed: ${(err as Error).message}`, { cause: err });
  }
  const all = listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, old));
  return path;
}

/** One checkpoint file, verified (a CorruptFileError names what is wrong). */
export function readCheckpoint(path: string): BinaryFile & { path: string; step: number } {
  const file = readBinaryFile(path, MAGIC);
  return { ...file, path, step: stepOf(file, path) };
}

/** A checkpoint's step: a non-negative integer, or the file is corrupt (a crafted header's step is never printed or used). */
function stepOf(file: BinaryFile, path: string): number {
  const step = file.header['step'];
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw new CorruptFileError(`${path}: its header's step is not a non-negative integer`);
  return step;
}

/** Checkpoint files in `dir`, oldest first. */
export function listCheckpoints(dir: string): string[] {
  return listDirectory(dir)
    .filter((n) => /^ckpt-\d{10}\.bin$/.test(n))
    .sort();
}

/** Every checkpoint in a run folder is unreadable: resuming would start over and overwrite them. */
export class CorruptCheckpointsError extends Error {
  override readonly name = 'CorruptCheckpointsError';
}

/**
 * The newest checkpoint that verifies; an older one is used when a newer one is corrupt (with
 * a warning). Null only when the folder holds no checkpoint at all. When checkpoints exist but
 * none verifies, this refuses ({@link CorruptCheckpointsError}, naming each file and why)
 * rather than let a resume start from step 0 over them.
 */
export function loadLatestCheckpoint(dir: string, warn: (msg: string) => void = () => {}): (BinaryFile & { path: string; step: number }) | null {
  const names = listCheckpoints(dir);
  const problems: string[] = [];
  for (const name of [...names].reverse()) {
    const path = join(dir, name);
    try {
      const file = readBinaryFile(path, MAGIC);
      const step = stepOf(file, path);
      for (const p of problems) warn(`skipping ${p}`);
      return { ...file, path, step };
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      problems.push(`${path}: ${err.message}`);
    }
  }
  if (problems.length) {
    throw new CorruptCheckpointsError(
      `every checkpoint in ${dir} is corrupt, so this run cannot be resumed:\n${problems.map((p) => `  ${p}`).join('\n')}\nNothing was changed. Start a new run (roborl train <config> --run-dir <new folder>), or move the corrupt files away to resume from step 0.`,
    );
  }
  return null;
}
