import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export interface TailOptions {
  /** A file larger than this at first read is shown from its last this-many bytes. Default 32 MB. */
  readonly maxInitialBytes?: number;
  /** Lines longer than this (in characters) are skipped (and reported). Default 1 MB. */
  readonly maxLineBytes?: number;
  /** Bytes read per call, so one huge file cannot hold up the server (each read's lines are parsed in one go). Default 64 KB. */
  readonly maxReadBytes?: number;
}

/** What one {@link JsonlTail.read} found. */
export interface TailRead {
  /** Complete new lines (without their newline). */
  readonly lines: string[];
  /** Problems to show the user (a file too large, a line too long). */
  readonly problems: string[];
  /** The file shrank or was replaced: the consumer should drop what it had (lines start over). */
  readonly reset: boolean;
  /** The file does not exist (not yet, or deleted). */
  readonly missing: boolean;
  /** More bytes are waiting (read again soon). */
  readonly more: boolean;
}

/**
 * Follows a growing JSON-lines file (metrics.jsonl, a scene recording) by polling: each `read`
 * returns the complete lines added since the last. A torn last line waits until its newline
 * arrives; a character split between two reads is decoded whole (one UTF-8 decoder per file);
 * a file that shrinks (a resumed run drops the lost attempt's lines) starts over; a huge file is
 * shown from its end; a giant line is skipped. Reads are asynchronous and bounded, so following
 * files never blocks the server. Never throws for the file's content or its absence. One read
 * at a time: a caller awaits each before the next.
 */
export class JsonlTail {
  private offset = 0;
  private partial = '';
  private skippingLine = false;
  private ino = -1;
  private decoder = new StringDecoder('utf8');
  private readonly o: Required<TailOptions>;

  constructor(
    readonly path: string,
    options: TailOptions = {},
  ) {
    this.o = { maxInitialBytes: options.maxInitialBytes ?? 32 * 2 ** 20, maxLineBytes: options.maxLineBytes ?? 2 ** 20, maxReadBytes: options.maxReadBytes ?? 2 ** 16 };
  }

  async read(): Promise<TailRead> {
    const problems: string[] = [];
    let file: FileHandle;
    try {
      // Non-blocking: a FIFO at the path would otherwise hold open() (and an fs thread) until a writer came.
      file = await open(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return { lines: [], problems, reset: false, missing: true, more: false };
    }
    try {
      return await this.readOpen(file, problems);
    } catch (err) {
      // EISDIR, EIO, a file replaced by something unreadable: a problem to show, not a throw.
      problems.push(`${this.path}: ${(err as Error).message}`);
      return { lines: [], problems, reset: false, missing: false, more: false };
    } finally {
      await file.close().catch(() => undefined);
    }
  }

  private async readOpen(file: FileHandle, problems: string[]): Promise<TailRead> {
    const st = await file.stat();
    // A FIFO, a device (a link to /dev/zero) or a folder: nothing to follow (and /dev/zero never ends).
    if (!st.isFile()) {
      problems.push(`${this.path}: not a regular file`);
      return { lines: [], problems, reset: false, missing: false, more: false };
    }
    let reset = false;
    if (st.size < this.offset || (this.ino !== -1 && st.ino !== this.ino)) {
      reset = true;
      this.offset = 0;
      this.partial = '';
      this.skippingLine = false;
      this.decoder = new StringDecoder('utf8');
    }
    this.ino = st.ino;
    if (this.offset === 0 && st.size > this.o.maxInitialBytes) {
      problems.push(`${this.path} is ${mb(st.size)}; showing its last ${mb(this.o.maxInitialBytes)}`);
      this.offset = st.size - this.o.maxInitialBytes;
      this.skippingLine = true; // the first piece is the tail of a line
    }
    const length = Math.min(st.size - this.offset, this.o.maxReadBytes);
    if (length <= 0) return { lines: [], problems, reset, missing: false, more: false };
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await file.read(buf, 0, length, this.offset);
    this.offset += bytesRead;
    const pieces = (this.partial + this.decoder.write(buf.subarray(0, bytesRead))).split('\n');
    this.partial = pieces.pop() ?? '';
    const lines: string[] = [];
    for (const p of pieces) {
      if (this.skippingLine) {
        this.skippingLine = false;
        continue;
      }
      if (p.length > this.o.maxLineBytes) problems.push(`${this.path}: a line of ${mb(p.length)} skipped (over ${mb(this.o.maxLineBytes)})`);
      else lines.push(p);
    }
    if (this.partial.length > this.o.maxLineBytes) {
      if (!this.skippingLine) problems.push(`${this.path}: a line of over ${mb(this.o.maxLineBytes)} skipped`);
      this.partial = '';
      this.skippingLine = true;
    }
    return { lines, problems, reset, missing: false, more: this.offset < st.size };
  }
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MB`;
}

/**
 * A small file's text (config.yaml, status.json, teleop.json), read without trusting what is at
 * the path: a FIFO would block the read (and a thread of the fs pool) until a writer came, and a
 * link to /dev/zero would be read up to 2 GB; both, and files over `maxBytes`, are a `problem`.
 * Null when there is no file.
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<{ text: string } | { problem: string } | null> {
  let file: FileHandle;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : { problem: (err as Error).message };
  }
  try {
    const st = await file.stat();
    if (!st.isFile()) return { problem: 'not a regular file' };
    if (st.size > maxBytes) return { problem: `${st.size} bytes (at most ${maxBytes} are read)` };
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < st.size) {
      const { bytesRead } = await file.read(buf, n, st.size - n, n);
      if (bytesRead === 0) break; // shrank meanwhile
      n += bytesRead;
    }
    return { text: buf.subarray(0, n).toString('utf8') };
  } catch (err) {
    return { problem: (err as Error).message };
  } finally {
    await file.close().catch(() => undefined);
  }
}
