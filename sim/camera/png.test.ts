import { describe, expect, it } from 'vitest';
import { readPng } from '../../test/read-png.js';
import { encodePng } from './png.js';

describe('encodePng', () => {
  it('round-trips an RGB frame through a PNG with correct chunk CRCs', () => {
    const rgb = new Uint8Array(5 * 3 * 3).map((_, k) => (k * 37) & 255);
    const png = readPng(encodePng(rgb, 5, 3));
    expect(png.width).toBe(5);
    expect(png.height).toBe(3);
    expect([...png.rgb]).toEqual([...rgb]);
  });

  it('refuses a buffer of the wrong length or a bad size', () => {
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/Expected 12 bytes for 2×2 RGB, got 10/);
    expect(() => encodePng(new Uint8Array(0), 0, 2)).toThrow(/positive integer size/);
  });
});
