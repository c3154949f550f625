import type { EncodedImage } from '../camera-decode.js';
import { stampMs } from './messages.js';

/** sensor_msgs/CompressedImage or sensor_msgs/Image, as it arrives from rosbridge. */
export type ImageMessageType = 'sensor_msgs/CompressedImage' | 'sensor_msgs/Image';

/** An image message taken apart: the image, and its header stamp (epoch ms) when it has one. */
export interface ParsedImageMessage {
  readonly image: EncodedImage;
  /** Epoch ms of the header stamp; NaN when the stamp is missing or zero (ROS's "not set"). */
  readonly stampMs: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decoded size of a base64 string of `length` characters (before padding is checked). */
function base64Bytes(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/**
 * The bytes of a `uint8[]` field as rosbridge sends them. JSON: a standard base64 string
 * (rosbridge_library message_conversion `_from_inst`: uint8[]/char[] go through
 * `standard_b64encode`, ROS 1 and ROS 2); CBOR (`compression: 'cbor'`): a byte string, which
 * roslib hands over as a Uint8Array; a plain array of 0–255 is taken too (bridges that
 * serialise arrays element by element). The size is checked against `maxBytes` before
 * anything is decoded or copied.
 */
export function uint8Field(v: unknown, maxBytes: number): Uint8Array | { error: string } {
  if (typeof v === 'string') {
    if (v.length % 4 !== 0) return { error: `data is not base64 (${v.length} characters, not a multiple of 4)` };
    const n = base64Bytes(v);
    if (n > maxBytes) return { error: `frame of ${n} bytes is over the ${maxBytes}-byte cap` };
    if (!BASE64.test(v)) return { error: 'data is not base64 (characters outside A–Z a–z 0–9 + / =)' };
    const b = Buffer.from(v, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  }
  if (v instanceof Uint8Array) return v.length > maxBytes ? { error: `frame of ${v.length} bytes is over the ${maxBytes}-byte cap` } : v;
  if (Array.isArray(v)) {
    if (v.length > maxBytes) return { error: `frame of ${v.length} bytes is over the ${maxBytes}-byte cap` };
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) return { error: `data[${i}] is not a byte` };
      out[i] = x;
    }
    return out;
  }
  return { error: `data is ${v === null ? 'null' : typeof v}, not base64 bytes` };
}

function field(msg: Record<string, unknown>, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(msg, k) ? msg[k] : undefined;
}

function headerStamp(msg: Record<string, unknown>): number {
  const header = field(msg, 'header');
  const s = header && typeof header === 'object' ? stampMs((header as Record<string, unknown>)['stamp']) : Number.NaN;
  return Number.isFinite(s) && s > 0 ? s : Number.NaN;
}

/**
 * Takes apart a sensor_msgs/CompressedImage (`format`, `data`) or sensor_msgs/Image
 * (`height`, `width`, `encoding`, `is_bigendian`, `step`, `data`) without trusting any of it:
 * the reason it is unusable otherwise. Pixel layout (step, length) is checked by the decoder.
 */
export function parseImageMessage(type: ImageMessageType, msg: unknown, maxBytes: number): ParsedImageMessage | { error: string } {
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return { error: `${type} is not an object` };
  const m = msg as Record<string, unknown>;
  const data = uint8Field(field(m, 'data'), maxBytes);
  if ('error' in data) return data;
  const stamp = headerStamp(m);
  if (type === 'sensor_msgs/CompressedImage') {
    const format = field(m, 'format');
    if (typeof format !== 'string') return { error: 'CompressedImage without a format string' };
    return { image: { kind: 'compressed', format, bytes: data }, stampMs: stamp };
  }
  const [height, width, step, encoding] = [field(m, 'height'), field(m, 'width'), field(m, 'step'), field(m, 'encoding')];
  if (typeof height !== 'number' || typeof width !== 'number' || typeof step !== 'number') return { error: 'Image without numeric height, width and step' };
  if (typeof encoding !== 'string') return { error: 'Image without an encoding string' };
  return { image: { kind: 'raw', encoding, width, height, step, bytes: data }, stampMs: stamp };
}
