import { describe, expect, it } from 'vitest';
import { Rng } from '../../../control/rng.js';
import { crc16 } from './crc16.js';
import { build, decodeStatusError, encodeInstruction, encodeStatus, Instruction, PacketDecoder, readS32, stuff, u32, unstuff, XControlTable } from './protocol.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0').toUpperCase()).join(' ');
const bytes = (s: string): Uint8Array => Uint8Array.from(s.split(' ').map((h) => parseInt(h, 16)));

describe('Dynamixel Protocol 2.0', () => {
  it('encodes the published reference packets byte for byte', () => {
    expect(hex(build.ping(1))).toBe('FF FF FD 00 01 03 00 01 19 4E');
    expect(hex(build.ping(0xfe))).toBe('FF FF FD 00 FE 03 00 01 31 42');
  });

  it('computes CRC-16 (0x8005, init 0) as the check values say', () => {
    const ping = bytes('FF FF FD 00 01 03 00 01');
    expect(crc16(ping)).toBe(0x4e19);
    // CRC-16/BUYPASS check value over "123456789".
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0xfee8);
  });

  it('stuffs FF FF FD inside the body, counts stuffed bytes in LEN and CRC, and round-trips', () => {
    expect(hex(stuff(bytes('01 FF FF FD 02')))).toBe('01 FF FF FD FD 02');
    expect(hex(unstuff(bytes('01 FF FF FD FD 02')))).toBe('01 FF FF FD 02');
    expect(hex(unstuff(stuff(bytes('FF FF FD FD'))))).toBe('FF FF FD FD');
    const pkt = build.write(3, XControlTable.GoalPosition.address, [0xff, 0xff, 0xfd, 0x00]);
    expect(pkt[5]).toBe(1 + 2 + 5 + 2); // INST + address + stuffed data (5) + CRC
    const [decoded] = new PacketDecoder().push(pkt);
    expect(decoded).toEqual({ id: 3, instruction: Instruction.Write, params: Uint8Array.of(116, 0, 0xff, 0xff, 0xfd, 0x00) });
  });

  it('decodes status packets with named errors', () => {
    const status = encodeStatus(7, 0x84, u32(-2048 >>> 0));
    const [p] = new PacketDecoder().push(status);
    expect(p?.id).toBe(7);
    expect(p?.error).toBe(0x84);
    expect(readS32(p!.params)).toBe(-2048);
    expect(decodeStatusError(0x84)).toEqual({ hardwareAlert: true, code: 'data-range' });
    expect(decodeStatusError(0x02)).toEqual({ hardwareAlert: false, code: 'instruction' });
    expect(decodeStatusError(0)).toEqual({ hardwareAlert: false, code: 'none' });
  });

  it('builds sync read/write and bulk read with the e-Manual parameter layout', () => {
    const sw = build.syncWrite(116, 4, [
      { id: 1, data: u32(2048) },
      { id: 2, data: u32(1024) },
    ]);
    expect(hex(sw.slice(7, sw.length - 2))).toBe('83 74 00 04 00 01 00 08 00 00 02 00 04 00 00');
    const sr = build.syncRead(132, 4, [1, 2, 3]);
    expect(hex(sr.slice(7, sr.length - 2))).toBe('82 84 00 04 00 01 02 03');
    const br = build.bulkRead([{ id: 1, address: 132, length: 4 }, { id: 5, address: 128, length: 4 }]);
    expect(hex(br.slice(7, br.length - 2))).toBe('92 01 84 00 04 00 05 80 00 04 00');
    expect(() => build.syncWrite(116, 4, [{ id: 1, data: [1, 2] }])).toThrow(/data for id 1 has 2 bytes, expected 4/);
    expect(() => encodeInstruction(300, 1)).toThrow(/`id` to be an integer in 0\.\.254, got `300`/);
  });

  it('decodes packets split across arbitrary chunks', () => {
    const stream = new Uint8Array([...build.ping(1), ...encodeStatus(1, 0, [0x06, 0x04, 0x26]), ...build.read(2, 132, 4)]);
    const d = new PacketDecoder();
    const out = [];
    for (const b of stream) out.push(...d.push(Uint8Array.of(b)));
    expect(out.map((p) => p.instruction)).toEqual([Instruction.Ping, Instruction.Status, Instruction.Read]);
    expect(d.badFrames).toBe(0);
  });

  it('resynchronises after garbage and counts corrupt frames', () => {
    const good = build.ping(4);
    const corrupt = build.read(4, 132, 4);
    corrupt[8] = (corrupt[8] as number) ^ 0x01;
    const d = new PacketDecoder();
    const out = d.push(new Uint8Array([0x12, 0xff, 0xff, ...corrupt, 0x00, 0xff, ...good, 0xff, 0xff, 0xfd]));
    expect(out).toHaveLength(1);
    expect(out[0]?.id).toBe(4);
    expect(d.dropped.crc).toBe(1);
    expect(d.skippedBytes).toBeGreaterThan(0);
  });

  it('accepts an unstuffed peer (as some SDK versions send) when its data needs no stuffing', () => {
    // Built by hand without stuffing: LEN and CRC over the bytes as sent.
    const body = bytes('03 74 00 00 08 00 00');
    const raw = new Uint8Array([0xff, 0xff, 0xfd, 0x00, 0x01, body.length + 2, 0, ...body, 0, 0]);
    const crc = crc16(raw, 0, raw.length - 2);
    raw[raw.length - 2] = crc & 0xff;
    raw[raw.length - 1] = crc >> 8;
    expect(new PacketDecoder().push(raw)[0]?.params).toEqual(bytes('74 00 00 08 00 00'));
  });

  it('survives 1 MB of random bytes with valid packets mixed in: no throw, every valid packet found, every corrupted copy counted', () => {
    const rng = new Rng(42);
    const d = new PacketDecoder();
    const valid: string[] = [];
    let corrupted = 0;
    const found: string[] = [];
    let total = 0;
    const key = (p: { id: number; instruction: number; params: Uint8Array }): string => `${p.id}:${p.instruction}:${Array.from(p.params).join(',')}`;
    while (total < 1 << 20) {
      const noise = Uint8Array.from({ length: rng.int(200) }, () => rng.int(256));
      const [id, address, data] = [rng.int(253), rng.int(700), Array.from({ length: rng.int(20) }, () => rng.int(256))];
      const pkt = build.write(id, address, data);
      const damage = rng.random() < 0.3;
      if (damage) {
        const at = 7 + rng.int(pkt.length - 7);
        pkt[at] = (pkt[at] as number) ^ (1 << rng.int(8)); // one flipped bit after the header
        corrupted++;
      } else valid.push(key({ id, instruction: Instruction.Write, params: Uint8Array.from([address & 0xff, address >> 8, ...data]) }));
      const chunk = new Uint8Array([...noise, ...pkt]);
      total += chunk.length;
      // Feed in random-sized pieces, as a serial port delivers.
      for (let i = 0; i < chunk.length; ) {
        const n = 1 + rng.int(64);
        for (const p of d.push(chunk.slice(i, i + n))) found.push(key(p));
        i += n;
      }
    }
    expect(total).toBeGreaterThanOrEqual(1 << 20);
    // Every valid packet, in order, exactly as sent (ID, instruction, parameters), and nothing else.
    expect(valid.length).toBeGreaterThan(3000);
    expect(found).toEqual(valid);
    // A flipped bit in ID or LEN can also surface as a length error or swallow the next frame;
    // either way it is counted and never delivered.
    expect(d.badFrames).toBeGreaterThanOrEqual(Math.floor(corrupted * 0.9));
  });

  it('recovers from a partial packet: a header announcing LEN = 1024 and then silence does not swallow the next packets', () => {
    const d = new PacketDecoder();
    // A header claiming 1024 bytes, then nothing more (a servo reset mid-packet, a glitch).
    expect(d.push(bytes('FF FF FD 00 01 00 04 55 00'), 0)).toEqual([]);
    // 100 ms later the servo answers pings again: each is decoded at once.
    const ping = encodeStatus(1, 0, [0x4c, 0x04, 0x2d]);
    for (let k = 1; k <= 5; k++) expect(d.push(ping, 100 * k)).toHaveLength(1);
    expect(d.dropped.timeout).toBe(1);
    // Bytes of one packet arriving in chunks close together are still joined.
    const split = new PacketDecoder();
    expect(split.push(ping.subarray(0, 5), 1000)).toEqual([]);
    expect(split.push(ping.subarray(5), 1016)).toHaveLength(1);
  });
});
