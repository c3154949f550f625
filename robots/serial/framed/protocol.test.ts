import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../control/rng.js';
import { cobsDecode, cobsEncode } from './cobs.js';
import { crc16Ccitt, encodeFrame, FrameDecoder, type Message } from './protocol.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0').toUpperCase()).join(' ');

describe('COBS', () => {
  it.each([
    ['00', '01 01'],
    ['00 00', '01 01 01'],
    ['11 22 00 33', '03 11 22 02 33'],
    ['11 22 33 44', '05 11 22 33 44'],
    ['11 00 00 00', '02 11 01 01 01'],
  ])('encodes %s as %s (Cheshire & Baker examples)', (input, expected) => {
    const data = Uint8Array.from(input.split(' ').map((h) => parseInt(h, 16)));
    expect(hex(cobsEncode(data))).toBe(expected);
    expect(hex(cobsDecode(cobsEncode(data))!)).toBe(input);
  });

  it('round-trips long runs (254-byte blocks) and random data', () => {
    const rng = new Rng(1);
    for (const n of [253, 254, 255, 508, 1000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i % 300 === 299 ? 0 : 1 + rng.int(255)));
      const enc = cobsEncode(data);
      expect(enc.includes(0)).toBe(false);
      expect(Array.from(cobsDecode(enc)!)).toEqual(Array.from(data));
    }
  });

  it('rejects malformed blocks', () => {
    expect(cobsDecode(Uint8Array.of(0x05, 0x11, 0x22))).toBeNull(); // code runs past the end
    expect(cobsDecode(Uint8Array.of(0x03, 0x00, 0x22))).toBeNull(); // a zero inside
  });
});

describe('framed protocol v1', () => {
  it('CRC-16/CCITT-FALSE check value', () => {
    expect(crc16Ccitt(new TextEncoder().encode('123456789'))).toBe(0x29b1);
  });

  const messages: Message[] = [
    { type: 'state', seq: 513, timestampUs: 123456789, q: Float32Array.of(0.5, -1.25, 3), qd: Float32Array.of(0, 2.5, -0.125) },
    { type: 'command', seq: 7, mode: 1, values: Float32Array.of(0.25, -0.5) },
    { type: 'reset', seq: 1 },
    { type: 'ack', seq: 2, ackSeq: 7 },
    { type: 'estop', seq: 3 },
    { type: 'heartbeat', seq: 65535 },
    { type: 'error', seq: 4, code: 3, message: 'overcurrent on joint 2' },
  ];

  it('round-trips every message type through frames split at random points', () => {
    const rng = new Rng(2);
    const stream = new Uint8Array(messages.flatMap((m) => [0, ...encodeFrame(m)]));
    const d = new FrameDecoder();
    const out: Message[] = [];
    for (let i = 0; i < stream.length; ) {
      const n = 1 + rng.int(9);
      out.push(...d.push(stream.slice(i, i + n)));
      i += n;
    }
    expect(out).toEqual(messages);
    expect(d.badFrames).toBe(0);
  });

  it('refuses to encode a NaN command', () => {
    expect(() => encodeFrame({ type: 'command', seq: 0, mode: 0, values: Float32Array.of(1, Number.NaN) })).toThrow(/values\[1\] is NaN/);
  });

  it('counts and drops corrupt frames of every kind', () => {
    const d = new FrameDecoder();
    const good = encodeFrame({ type: 'heartbeat', seq: 9 });
    const badCrc = encodeFrame({ type: 'ack', seq: 1, ackSeq: 1 });
    badCrc[2] = (badCrc[2] as number) ^ 0x10;
    const badVersion = encodeFrame({ type: 'reset', seq: 1 });
    badVersion[1] = 2; // version byte after the COBS code
    // A flipped type byte (caught by the CRC), a wrong version, a COBS code running past the
    // frame, and a frame too short to hold a header and CRC.
    const out = d.push(new Uint8Array([...badCrc, ...badVersion, 0x03, 0x00, 0x02, 0x01, 0x00, ...good]));
    expect(out).toEqual([{ type: 'heartbeat', seq: 9 }]);
    expect(d.dropped).toMatchObject({ crc: 1, version: 1, cobs: 1, short: 1 });
    expect(d.badFrames).toBe(4);
  });

  it('survives 1 MB of random bytes: never throws, nothing spurious, every valid frame found', () => {
    const rng = new Rng(3);
    const d = new FrameDecoder();
    const sent: string[] = [];
    const found: string[] = [];
    let total = 0;
    const key = (m: Message): string => (m.type === 'command' ? `command ${m.seq} ${m.mode} ${Array.from(m.values).join(',')}` : m.type);
    while (total < 1 << 20) {
      const noise = Uint8Array.from({ length: rng.int(300) }, () => rng.int(256));
      const m: Message = { type: 'command', seq: sent.length & 0xffff, mode: 0, values: Float32Array.of(rng.normal(), rng.normal()) };
      const chunk = new Uint8Array([...noise, 0, ...encodeFrame(m)]);
      total += chunk.length;
      for (const got of d.push(chunk)) found.push(key(got));
      sent.push(key(m));
    }
    // Every frame sent comes out, in order and exactly as sent (sequence number, mode, values);
    // noise can, very rarely, form a frame that passes the CRC (1 in 65536 per candidate): at
    // most two such extras, anywhere.
    expect(sent.length).toBeGreaterThan(3000);
    let k = 0;
    for (const f of found) if (k < sent.length && f === sent[k]) k++;
    expect(k, `frame ${k} (${sent[k]}) missing or changed`).toBe(sent.length);
    expect(found.length - sent.length).toBeLessThanOrEqual(2);
    expect(d.badFrames).toBeGreaterThan(0);
  });

  it('matches the reference C implementation byte for byte (gcc)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-c-'));
    const exe = join(dir, 'reference-check');
    execFileSync('gcc', ['-std=c99', '-Wall', '-Werror', '-O2', '-o', exe, fileURLToPath(new URL('./reference-check.c', import.meta.url))]);
    const cState = execFileSync(exe, ['state'], { encoding: 'utf8' }).trim();
    expect(cState).toBe(hex(encodeFrame(messages[0]!)));
    const cmd = encodeFrame({ type: 'command', seq: 300, mode: 2, values: Float32Array.of(1.5, -0.25, 8) });
    expect(execFileSync(exe, ['command', hex(cmd)], { encoding: 'utf8' }).trim()).toBe('300 2 1.5 -0.25 8');
    cmd[3] = (cmd[3] as number) ^ 0x01;
    expect(execFileSync(exe, ['command', hex(cmd)], { encoding: 'utf8' }).trim()).toBe('invalid');
  });

  it('the C header survives fuzzing under AddressSanitizer and UBSan: frames of every length up to and past its buffer (gcc)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-c-'));
    const exe = join(dir, 'fuzz-check');
    execFileSync('gcc', ['-std=c99', '-Wall', '-Werror', '-g', '-O1', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-o', exe, fileURLToPath(new URL('./fuzz-check.c', import.meta.url))]);
    // The decode buffer holds 136 bytes; a 138-byte frame of 0x01 bytes wrote a 137th before the fix.
    const out = execFileSync(exe, ['400'], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
    const m = out.match(/decoded (\d+) refused (\d+)/);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(33); // every valid frame, 0–32 joints
    expect(Number(m![2])).toBeGreaterThan(80_000);
  });

  it('recovers from a partial frame: bytes without their delimiter followed by silence do not spoil the next frame', () => {
    const d = new FrameDecoder();
    const good = encodeFrame({ type: 'heartbeat', seq: 9 });
    expect(d.push(good.subarray(0, 4), 0)).toEqual([]); // the rest (and the 0x00) never comes
    expect(d.push(good, 100)).toEqual([{ type: 'heartbeat', seq: 9 }]);
    expect(d.dropped.timeout).toBe(1);
    // A frame split into chunks 10 ms apart still decodes.
    expect(d.push(good.subarray(0, 3), 200)).toEqual([]);
    expect(d.push(good.subarray(3), 210)).toEqual([{ type: 'heartbeat', seq: 9 }]);
  });
});
