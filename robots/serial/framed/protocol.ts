import { cobsDecode, cobsEncode } from './cobs.js';

/**
 * roborl's compact serial protocol for microcontroller robots (spec: docs/serial-protocol.md).
 *
 *   frame   = COBS(packet) 0x00
 *   packet  = version:u8 (=1) | type:u8 | seq:u16 | body… | crc:u16     (little-endian)
 *   crc     = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over version … body
 */
export const PROTOCOL_VERSION = 1;

export const MessageType = { State: 0x01, Command: 0x02, Reset: 0x03, Ack: 0x04, EStop: 0x05, Heartbeat: 0x06, Error: 0x7f } as const;

/** Command modes (COMMAND body). */
export const CommandMode = { Position: 0, Velocity: 1, Torque: 2 } as const;

export type Message =
  | { readonly type: 'state'; readonly seq: number; readonly timestampUs: number; readonly q: Float32Array; readonly qd: Float32Array }
  | { readonly type: 'command'; readonly seq: number; readonly mode: number; readonly values: Float32Array }
  | { readonly type: 'reset'; readonly seq: number }
  | { readonly type: 'ack'; readonly seq: number; readonly ackSeq: number }
  | { readonly type: 'estop'; readonly seq: number }
  | { readonly type: 'heartbeat'; readonly seq: number }
  | { readonly type: 'error'; readonly seq: number; readonly code: number; readonly message: string };

/** CRC-16/CCITT-FALSE. */
export function crc16Ccitt(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= (bytes[i] as number) << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Encodes a message as one delimited frame. */
export function encodeFrame(m: Message): Uint8Array {
  const body = encodeBody(m);
  const packet = new Uint8Array(4 + body.length + 2);
  const view = new DataView(packet.buffer);
  packet[0] = PROTOCOL_VERSION;
  packet[1] = MessageType[typeKey(m.type)];
  view.setUint16(2, m.seq & 0xffff, true);
  packet.set(body, 4);
  view.setUint16(4 + body.length, crc16Ccitt(packet, 0, 4 + body.length), true);
  const cobs = cobsEncode(packet);
  const frame = new Uint8Array(cobs.length + 1);
  frame.set(cobs, 0);
  return frame; // trailing 0x00 delimiter
}

function typeKey(t: Message['type']): keyof typeof MessageType {
  const map = { state: 'State', command: 'Command', reset: 'Reset', ack: 'Ack', estop: 'EStop', heartbeat: 'Heartbeat', error: 'Error' } as const;
  return map[t];
}

function encodeBody(m: Message): Uint8Array {
  switch (m.type) {
    case 'state': {
      if (m.q.length !== m.qd.length || m.q.length > 32) throw new RangeError(`state: q and qd must have the same length ≤ 32, got ${m.q.length} and ${m.qd.length}`);
      const n = m.q.length;
      const b = new Uint8Array(5 + 8 * n);
      const v = new DataView(b.buffer);
      v.setUint32(0, m.timestampUs >>> 0, true);
      b[4] = n;
      for (let i = 0; i < n; i++) {
        v.setFloat32(5 + 4 * i, m.q[i] as number, true);
        v.setFloat32(5 + 4 * (n + i), m.qd[i] as number, true);
      }
      return b;
    }
    case 'command': {
      const n = m.values.length;
      if (n > 32) throw new RangeError(`command: at most 32 values, got ${n}`);
      for (let i = 0; i < n; i++) if (!Number.isFinite(m.values[i] as number)) throw new RangeError(`command: values[${i}] is ${m.values[i]}`);
      const b = new Uint8Array(2 + 4 * n);
      const v = new DataView(b.buffer);
      b[0] = m.mode;
      b[1] = n;
      for (let i = 0; i < n; i++) v.setFloat32(2 + 4 * i, m.values[i] as number, true);
      return b;
    }
    case 'ack':
      return Uint8Array.of(m.ackSeq & 0xff, (m.ackSeq >> 8) & 0xff);
    case 'error': {
      const text = new TextEncoder().encode(m.message).slice(0, 64);
      return Uint8Array.from([m.code & 0xff, ...text]);
    }
    case 'reset':
    case 'estop':
    case 'heartbeat':
      return new Uint8Array(0);
    default: {
      const never: never = m;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
}

export type FrameDropReason = 'cobs' | 'short' | 'version' | 'crc' | 'type' | 'body' | 'overflow' | 'timeout';

/**
 * Splits a byte stream at 0x00 delimiters and decodes frames. Every malformed frame is
 * counted by reason and dropped; input never makes it throw. Frames longer than `maxFrame`
 * bytes (a lost delimiter) are discarded.
 */
export class FrameDecoder {
  private pending: number[] = [];
  private lastByteAt = -Infinity;
  readonly dropped: Record<FrameDropReason, number> = { cobs: 0, short: 0, version: 0, crc: 0, type: 0, body: 0, overflow: 0, timeout: 0 };

  /**
   * @param maxFrame longest frame kept, bytes
   * @param interByteTimeoutMs a partial frame followed by this much silence is dropped, so it
   *   cannot swallow the next good frame (default 50 ms; a frame's bytes arrive back to back)
   */
  constructor(
    readonly maxFrame = 512,
    readonly interByteTimeoutMs = 50,
  ) {}

  get badFrames(): number {
    return Object.values(this.dropped).reduce((a, b) => a + b, 0);
  }

  /** Feeds received bytes (`now`: their arrival time, performance.now() ms); returns the decoded messages. */
  push(chunk: Uint8Array, now = performance.now()): Message[] {
    const out: Message[] = [];
    if (this.pending.length > 0 && now - this.lastByteAt > this.interByteTimeoutMs) {
      this.dropped.timeout++;
      this.pending = [];
    }
    this.lastByteAt = now;
    for (const b of chunk) {
      if (b !== 0) {
        if (this.pending.length >= this.maxFrame) {
          this.dropped.overflow++;
          this.pending = [];
        }
        this.pending.push(b);
        continue;
      }
      if (this.pending.length === 0) continue; // idle delimiters
      const m = this.decode(Uint8Array.from(this.pending));
      this.pending = [];
      if (m) out.push(m);
    }
    return out;
  }

  private decode(frame: Uint8Array): Message | null {
    const packet = cobsDecode(frame);
    if (!packet) return this.drop('cobs');
    if (packet.length < 6) return this.drop('short');
    if (packet[0] !== PROTOCOL_VERSION) return this.drop('version');
    const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
    if (view.getUint16(packet.length - 2, true) !== crc16Ccitt(packet, 0, packet.length - 2)) return this.drop('crc');
    const seq = view.getUint16(2, true);
    const body = packet.subarray(4, packet.length - 2);
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    switch (packet[1]) {
      case MessageType.State: {
        const n = body[4] ?? -1;
        if (body.length !== 5 + 8 * n) return this.drop('body');
        const q = new Float32Array(n);
        const qd = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          q[i] = bv.getFloat32(5 + 4 * i, true);
          qd[i] = bv.getFloat32(5 + 4 * (n + i), true);
        }
        if (![...q, ...qd].every(Number.isFinite)) return this.drop('body');
        return { type: 'state', seq, timestampUs: bv.getUint32(0, true), q, qd };
      }
      case MessageType.Command: {
        const n = body[1] ?? -1;
        if (body.length !== 2 + 4 * n || (body[0] as number) > 2) return this.drop('body');
        const values = Float32Array.from({ length: n }, (_, i) => bv.getFloat32(2 + 4 * i, true));
        if (!values.every(Number.isFinite)) return this.drop('body');
        return { type: 'command', seq, mode: body[0] as number, values };
      }
      case MessageType.Ack:
        return body.length === 2 ? { type: 'ack', seq, ackSeq: bv.getUint16(0, true) } : this.drop('body');
      case MessageType.Error:
        return body.length >= 1 ? { type: 'error', seq, code: body[0] as number, message: new TextDecoder().decode(body.subarray(1)) } : this.drop('body');
      case MessageType.Reset:
        return body.length === 0 ? { type: 'reset', seq } : this.drop('body');
      case MessageType.EStop:
        return body.length === 0 ? { type: 'estop', seq } : this.drop('body');
      case MessageType.Heartbeat:
        return body.length === 0 ? { type: 'heartbeat', seq } : this.drop('body');
      default:
        return this.drop('type');
    }
  }

  private drop(reason: FrameDropReason): null {
    this.dropped[reason]++;
    return null;
  }
}
