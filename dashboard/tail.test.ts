import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlTail } from './tail.js';

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
