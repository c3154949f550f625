import sharp, { type OutputInfo, type Sharp } from 'sharp';

// Every camera frame is a new image: libvips's operation cache (50 MB by default) would only
// hold frames nobody asks for again.
sharp.cache(false);

/** A camera image as it came off the wire, before decoding. */
export type EncodedImage =
  /** sensor_msgs/CompressedImage: a JPEG or PNG file's bytes. `format` is the message's (e.g. "jpeg", "rgb8; jpeg compressed bgr8"). */
  | { readonly kind: 'compressed'; readonly format: string; readonly bytes: Uint8Array }
  /** sensor_msgs/Image: pixels row by row, `step` bytes a row. */
  | { readonly kind: 'raw'; readonly encoding: string; readonly width: number; readonly height: number; readonly step: number; readonly bytes: Uint8Array };

/** Raw encodings taken (sensor_msgs/image_encodings names) → bytes per pixel. */
export const RAW_ENCODINGS: Readonly<Record<string, number>> = { rgb8: 3, bgr8: 3, rgba8: 4, bgra8: 4, mono8: 1 };

/** What a decoder accepts at most (a frame over a cap is refused before any pixel is touched). */
export interface DecodeLimits {
  /** Largest source image, pixels (width × height). A JPEG's header can claim 65535² pixels in a few hundred bytes. */
  readonly maxPixels: number;
}

/** Why a frame cannot be used: the message is malformed or the image does not decode. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
}

const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/**
 * The codec of a CompressedImage, from its bytes (checked against the message's `format`):
 * only JPEG and PNG are taken — libvips would also open TIFF, SVG, HEIF…, whose decoders a
 * camera never needs and a hostile peer could aim at.
 */
export function compressedCodec(format: string, bytes: Uint8Array): 'jpeg' | 'png' {
  const f = format.toLowerCase();
  // compressed_depth_image_transport: a 12-byte depth-quantisation header, then a PNG.
  if (f.includes('compresseddepth')) throw new ImageError(`format "${format.slice(0, 60)}": compressedDepth images are not supported`);
  const codec = startsWith(bytes, JPEG_MAGIC) ? 'jpeg' : startsWith(bytes, PNG_MAGIC) ? 'png' : null;
  if (!codec) throw new ImageError(`format "${format.slice(0, 60)}": data is neither a JPEG nor a PNG (starts ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  const says = f.includes('png') ? 'png' : f.includes('jpeg') || f.includes('jpg') ? 'jpeg' : null;
  if (says && says !== codec) throw new ImageError(`format "${format.slice(0, 60)}" but the data is a ${codec.toUpperCase()}`);
  return codec;
}

/**
 * Checks a raw image's layout: a known encoding, `step` at least a row of pixels, and exactly
 * `step × height` bytes (sensor_msgs/Image). Returns the bytes per pixel.
 */
export function checkRawLayout(img: Extract<EncodedImage, { kind: 'raw' }>): number {
  const bpp = RAW_ENCODINGS[img.encoding];
  if (bpp === undefined) throw new ImageError(`encoding "${img.encoding.slice(0, 40)}" is not supported (${Object.keys(RAW_ENCODINGS).join(', ')})`);
  if (!(Number.isInteger(img.width) && Number.isInteger(img.height) && img.width > 0 && img.height > 0)) throw new ImageError(`image size ${img.width}×${img.height} is not positive whole pixels`);
  if (!Number.isInteger(img.step) || img.step < img.width * bpp) throw new ImageError(`step ${img.step} is less than a row of ${img.width} ${img.encoding} pixels (${img.width * bpp} bytes)`);
  if (img.bytes.length !== img.step * img.height) throw new ImageError(`data has ${img.bytes.length} bytes, but step ${img.step} × height ${img.height} is ${img.step * img.height}`);
  return bpp;
}

/**
 * Decodes `img` and resizes it to `width`×`height` (stretched to that size, as SERL's
 * `cv2.resize` does; libvips's linear kernel is widened when shrinking, so it averages the
 * pixels each output pixel covers rather than sampling four). Returns RGB bytes, row-major,
 * 3 per pixel. The work runs on libuv's thread pool, not the event loop. Throws
 * {@link ImageError} for anything unusable: a corrupt or truncated JPEG/PNG (libvips is told
 * to fail on the decoder's warnings — a truncated JPEG otherwise decodes to grey rows), a
 * source over `limits.maxPixels`, a bad raw layout.
 */
export async function decodeToRgb(img: EncodedImage, width: number, height: number, limits: DecodeLimits): Promise<Uint8Array> {
  let pipeline: Sharp;
  let swapRB = false;
  if (img.kind === 'compressed') {
    compressedCodec(img.format, img.bytes);
    pipeline = sharp(img.bytes, { failOn: 'warning', limitInputPixels: limits.maxPixels, sequentialRead: true });
  } else {
    const bpp = checkRawLayout(img);
    if (img.width * img.height > limits.maxPixels) throw new ImageError(`image ${img.width}×${img.height} is over the ${limits.maxPixels}-pixel cap`);
    const packed = img.step === img.width * bpp ? img.bytes : packRows(img.bytes, img.height, img.step, img.width * bpp);
    pipeline = sharp(packed, { raw: { width: img.width, height: img.height, channels: bpp as 1 | 3 | 4 }, limitInputPixels: limits.maxPixels });
    swapRB = img.encoding.startsWith('bgr');
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.resize(width, height, { fit: 'fill', kernel: 'linear' }).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageError(`does not decode: ${String((err as Error).message).split('\n')[0]?.slice(0, 200)}`);
  }
  if (out.info.channels !== 3 || out.data.length !== width * height * 3) throw new ImageError(`decoded to ${out.info.width}×${out.info.height}×${out.info.channels}, not ${width}×${height} RGB`);
  const rgb = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
  // Resizing treats channels alike, so BGR is swapped on the small image.
  if (swapRB) for (let i = 0; i < rgb.length; i += 3) [rgb[i], rgb[i + 2]] = [rgb[i + 2] as number, rgb[i] as number];
  return rgb;
}

/** Drops each row's padding (step beyond the pixels). */
function packRows(bytes: Uint8Array, rows: number, step: number, rowBytes: number): Uint8Array {
  const out = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(r * step, r * step + rowBytes), r * rowBytes);
  return out;
}

/** Encodes RGB bytes as a JPEG (the emulator's camera; tests). */
export async function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 85): Promise<Uint8Array> {
  const b = await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** Encodes RGB bytes as a PNG (tests; a PNG camera). */
export async function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const b = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}
