import type { Rng } from '../../control/rng.js';

/**
 * DrQ's random shift (Kostrikov et al. 2020, as SERL applies it): pad each image by `pad`
 * pixels replicating its border, then crop a random height × width window back — a shift of
 * up to ±pad pixels, drawn independently per image. Writes `dst` (batch × h × w × c floats in
 * [0, 1]) from uint8 `src`; pad 0 only rescales.
 */
export function randomShift(src: Uint8Array, batch: number, height: number, width: number, channels: number, pad: number, rng: Rng, dst: Float32Array): void {
  const frame = height * width * channels;
  if (src.length < batch * frame || dst.length < batch * frame) throw new RangeError(`randomShift: ${batch} images of ${height}×${width}×${channels} need ${batch * frame} values; src has ${src.length}, dst ${dst.length}`);
  if (!(Number.isInteger(pad) && pad >= 0)) throw new RangeError(`randomShift: expected \`pad\` to be a non-negative integer, got ${pad}`);
  const scale = 1 / 255;
  for (let b = 0; b < batch; b++) {
    const dy = pad ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad ? rng.int(2 * pad + 1) - pad : 0;
    const base = b * frame;
    for (let y = 0; y < height; y++) {
      const sy = Math.min(height - 1, Math.max(0, y + dy));
      for (let x = 0; x < width; x++) {
        const sx = Math.min(width - 1, Math.max(0, x + dx));
        const s = base + (sy * width + sx) * channels;
        const d = base + (y * width + x) * channels;
        for (let c = 0; c < channels; c++) dst[d + c] = (src[s + c] as number) * scale;
      }
    }
  }
}
