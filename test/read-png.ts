import { crc32, inflateSync } from 'node:zlib';

/**
 * Reads an 8-bit RGB, non-interlaced, unfiltered PNG (what sim/camera/png.ts writes) for tests:
 * checks the signature, the header and every chunk's CRC against zlib's CRC-32.
 */
export function readPng(file: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const buf = Buffer.from(file);
  if (!buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('not a PNG signature');
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('ascii', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + len);
    if (buf.readUInt32BE(at + 8 + len) !== crc32(buf.subarray(at + 4, at + 8 + len))) throw new Error(`${type}: bad CRC`);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[9] !== 2 || data[12] !== 0) throw new Error(`IHDR: want 8-bit RGB, not interlaced; got depth ${data[8]}, colour type ${data[9]}, interlace ${data[12]}`);
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = 3 * width + 1;
  if (raw.length !== stride * height) throw new Error(`IDAT: ${raw.length} bytes, want ${stride * height}`);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    if (raw[y * stride] !== 0) throw new Error(`row ${y}: filter ${raw[y * stride]}, want 0`);
    rgb.set(raw.subarray(y * stride + 1, (y + 1) * stride), 3 * width * y);
  }
  return { width, height, rgb };
}
