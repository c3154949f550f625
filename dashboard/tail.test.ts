import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlTail, readSmallFile } from './tail.js';

describe('JsonlTail decodes UTF-8 across read boundaries', () => {
  it('a two-byte and a four-byte character split by every read size come out whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-tail-'));
    const path = join(dir, 'm.jsonl');
    const text = '{"name":"xé"}\n{"name":"λ 🤖 ü"}\n';
    writeFileSync(path, text);
    for (let size = 1; size <= 8; size++) {
      const tail = new JsonlTail(path, { maxReadBytes: size });
      const lines: string[] = [];
      for (let i = 0; i < 200; i++) {
        const r = await tail.read();
        lines.push(...r.lines);
        if (!r.more) break;
      }
      expect({ size, lines }).toEqual({ size, lines: ['{"name":"xé"}', '{"name":"λ 🤖 ü"}'] });
    }
  });
});

describe('files that are not regular files', () => {
  /** A FIFO, and a cleanup that opens its writing end (a reader blocked in open() would hold a thread for good). */
  function fifo(path: string): () => void {
    execFileSync('mkfifo', [path]);
    return () => {
      try {
        closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting
      }
    };
  }
  const within = <T>(p: Promise<T>, ms: number): Promise<T | 'hung'> => Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms))]);

  it('a FIFO or a link to a device in place of the file is a problem, not a hang or a 2 GB read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-tail-'));
    const release = fifo(join(dir, 'fifo.jsonl'));
    symlinkSync('/dev/zero', join(dir, 'zero.jsonl'));
    try {
      for (const name of ['fifo.jsonl', 'zero.jsonl']) {
        const r = await within(new JsonlTail(join(dir, name)).read(), 10_000);
        expect(r).not.toBe('hung');
        if (r === 'hung') return;
        expect({ name, lines: r.lines, problems: r.problems }).toEqual({ name, lines: [], problems: [expect.stringContaining('not a regular file')] });
      }
      writeFileSync(join(dir, 'small.yaml'), 'name: x\n');
      writeFileSync(join(dir, 'big.yaml'), 'x'.repeat(2 ** 20 + 1));
      expect(await readSmallFile(join(dir, 'small.yaml'), 2 ** 20)).toEqual({ text: 'name: x\n' });
      expect(await readSmallFile(join(dir, 'absent.yaml'), 2 ** 20)).toBeNull();
      expect(await readSmallFile(join(dir, 'big.yaml'), 2 ** 20)).toEqual({ problem: expect.stringContaining('1048577 bytes') });
      expect(await within(readSmallFile(join(dir, 'fifo.jsonl'), 2 ** 20), 10_000)).toEqual({ problem: 'not a regular file' });
      expect(await readSmallFile(join(dir, 'zero.jsonl'), 2 ** 20)).toEqual({ problem: 'not a regular file' });
    } finally {
      release();
    }
  });
});
