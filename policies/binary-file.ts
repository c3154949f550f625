import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from './crc32.js';

/**
 * roborl's container for binary state (replay tables, checkpoints):
 *   magic (8 B) | header length (u32 LE) | header JSON (UTF-8) | sections… | CRC-32 of all previous bytes (u32 LE)
 * Each section is a typed array's raw bytes, in the order the header lists them. A file is
 * verified completely (magic, lengths, checksum) before anything is decoded, so a corrupt or
 * truncated file is refused, never half-loaded.
 */
export interface BinaryFile {
  readonly header: Record<string, unknown>;
  readonly sections: Uint8Array[];
}

export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError';
}

export function encodeBinary(magic: string, header: Record<string, unknown>, sections: readonly ArrayBufferView[]): Uint8Array {
  if (magic.length !== 8) throw new Error('magic must be 8 ASCII characters');
  const fullHeader = { ...header, sectionBytes: sections.map((s) => s.byteLength) };
  const headerBytes = new TextEncoder().encode(JSON.stringify(fullHeader));
  const total = 8 + 4 + headerBytes.length + sections.reduce((a, s) => a + s.byteLength, 0) + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(magic), 0);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let off = 12 + headerBytes.length;
  for (const s of sections) {
    out.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), off);
    off += s.byteLength;
  }
  view.setUint32(off, crc32(out.subarray(0, off)), true);
  return out;
}

export function decodeBinary(magic: string, bytes: Uint8Array, what: string): BinaryFile {
  if (bytes.length < 16) throw new CorruptFileError(`${what}: file too short (${bytes.length} bytes)`);
  const got = new TextDecoder().decode(bytes.subarray(0, 8));
  if (got !== magic) throw new CorruptFileError(`${what}: not a ${magic.trim()} file (magic "${got.replace(/[^\x20-\x7e]/g, '?')}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) throw new CorruptFileError(`${what}: checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the file is corrupt or truncated`);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length - 4) throw new CorruptFileError(`${what}: header length ${headerLength} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as Record<string, unknown>;
  } catch {
    throw new CorruptFileError(`${what}: header is not valid JSON`);
  }
  const lengths = header['sectionBytes'];
  if (!Array.isArray(lengths) || lengths.some((n) => !Number.isInteger(n) || n < 0)) throw new CorruptFileError(`${what}: header has no valid section table`);
  const sections: Uint8Array[] = [];
  let off = 12 + headerLength;
  for (const n of lengths as number[]) {
    if (off + n > bytes.length - 4) throw new CorruptFileError(`${what}: section of ${n} bytes runs past the end`);
    sections.push(bytes.slice(off, off + n));
    off += n;
  }
  if (off !== bytes.length - 4) throw new CorruptFileError(`${what}: ${bytes.length - 4 - off} unexpected trailing bytes`);
  return { header, sections };
}

/** Writes atomically: to `path.tmp`, fsync, then rename over `path`. A crash leaves the old file or the new one, never a mix. */
/**
 * Writes `bytes` to `path` so that a kill at any moment leaves either the old file or the new
 * one: a temp file beside it, fsync, rename, then an fsync of the directory (the rename itself
 * is only durable once the directory entry is). A failure (disk full, permissions) is an error
 * naming the file; the temp file is removed.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDirectory(dirname(path));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** fsync of a directory (makes renames and new entries in it durable). */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The names in `dir`, or none when it does not exist (yet). */
export function listDirectory(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Removes temp files that a killed writer left beside their targets (`*.tmp-<pid>`); returns their names. */
export function removeStaleTempFiles(dir: string): string[] {
  const stale = listDirectory(dir).filter((n) => /\.tmp-\d+$/.test(n));
  for (const n of stale) rmSync(join(dir, n), { force: true });
  return stale;
}

export function readBinaryFile(path: string, magic: string): BinaryFile {
  return decodeBinary(magic, new Uint8Array(readFileSync(path)), path);
}

/** Views a section's bytes as Float32 values (copying to fix alignment). */
export function asFloat32(section: Uint8Array): Float32Array {
  return new Float32Array(section.slice().buffer);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
