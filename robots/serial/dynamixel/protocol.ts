import { crc16 } from './crc16.js';

/**
 * Dynamixel Protocol 2.0 framing (ROBOTIS e-Manual, "Protocol 2.0"):
 *
 *   FF FF FD 00 | ID | LEN_L LEN_H | INST | params… | CRC_L CRC_H
 *
 * LEN counts INST, the (stuffed) parameters and the CRC. Status packets have INST 0x55 and an
 * error byte before their parameters. Byte stuffing: inside INST and parameters, FF FF FD
 * becomes FF FF FD FD; LEN and CRC cover the stuffed bytes.
 */
export const HEADER = Uint8Array.of(0xff, 0xff, 0xfd, 0x00);
export const BROADCAST_ID = 0xfe;
/** Largest LEN accepted by the decoder; longer claims are treated as corruption. */
export const MAX_LENGTH = 1024;

export const Instruction = {
  Ping: 0x01,
  Read: 0x02,
  Write: 0x03,
  RegWrite: 0x04,
  Action: 0x05,
  FactoryReset: 0x06,
  Reboot: 0x08,
  Clear: 0x10,
  Status: 0x55,
  SyncRead: 0x82,
  SyncWrite: 0x83,
  BulkRead: 0x92,
  BulkWrite: 0x93,
} as const;
export type InstructionName = keyof typeof Instruction;

/** A decoded packet (instruction or status); `params` are unstuffed. */
export interface Packet {
  readonly id: number;
  readonly instruction: number;
  /** Status packets only: the error byte. */
  readonly error?: number;
  readonly params: Uint8Array;
}

/** Stuffs FF FF FD → FF FF FD FD. */
export function stuff(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    out.push(data[i] as number);
    if (i >= 2 && data[i - 2] === 0xff && data[i - 1] === 0xff && data[i] === 0xfd) out.push(0xfd);
  }
  return Uint8Array.from(out);
}

/** Reverses {@link stuff}: FF FF FD FD → FF FF FD. */
export function unstuff(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    out.push(data[i] as number);
    if (i >= 2 && data[i - 2] === 0xff && data[i - 1] === 0xff && data[i] === 0xfd && data[i + 1] === 0xfd) i++;
  }
  return Uint8Array.from(out);
}

/** Encodes an instruction packet. */
export function encodeInstruction(id: number, instruction: number, params: ArrayLike<number> = []): Uint8Array {
  checkByte('id', id, 0, 0xfe);
  return frame(id, Uint8Array.from([instruction, ...Array.from(params)]));
}

/** Encodes a status packet (what a servo, or our emulator, answers). */
export function encodeStatus(id: number, error: number, params: ArrayLike<number> = []): Uint8Array {
  checkByte('id', id, 0, 0xfd);
  return frame(id, Uint8Array.from([Instruction.Status, error & 0xff, ...Array.from(params)]));
}

function frame(id: number, body: Uint8Array): Uint8Array {
  // Stuffing applies to INST + params; for status packets the error byte is part of the params.
  const stuffed = stuff(body);
  const len = stuffed.length + 2;
  const out = new Uint8Array(7 + len);
  out.set(HEADER, 0);
  out[4] = id;
  out[5] = len & 0xff;
  out[6] = len >> 8;
  out.set(stuffed, 7);
  const crc = crc16(out, 0, out.length - 2);
  out[out.length - 2] = crc & 0xff;
  out[out.length - 1] = crc >> 8;
  return out;
}

/** Why the decoder dropped bytes. */
export type DropReason = 'crc' | 'length' | 'short' | 'timeout';

/**
 * Default gap (ms) after which an unfinished packet is abandoned: the bytes of one packet
 * arrive back to back (USB adapters deliver them in chunks at most one latency timer, 16 ms,
 * apart), so a longer silence means the rest is never coming.
 */
export const INTER_BYTE_TIMEOUT_MS = 50;

/**
 * A streaming decoder: feed it whatever the port delivers; it returns complete packets and
 * counts what it dropped. It frames by the length field and checks the CRC over the bytes as
 * received (so peers that do not stuff, like some SDK versions, still decode), resynchronising
 * on the next header after any corrupt frame. Never throws on input.
 */
export class PacketDecoder {
  private buffer: Uint8Array = new Uint8Array(0);
  private lastByteAt = -Infinity;
  readonly dropped: Record<DropReason, number> = { crc: 0, length: 0, short: 0, timeout: 0 };
  /** Bytes discarded while searching for a header. */
  skippedBytes = 0;

  /**
   * @param interByteTimeoutMs an unfinished packet followed by this much silence is dropped
   * (a header announcing LEN = 1024 followed by nothing swallowed the next ~100 pings for 21 s).
   */
  constructor(readonly interByteTimeoutMs = INTER_BYTE_TIMEOUT_MS) {}

  get badFrames(): number {
    return this.dropped.crc + this.dropped.length + this.dropped.short + this.dropped.timeout;
  }

  /** Discards buffered input (a master does this before each transaction: stale bytes are not its answer). */
  clear(): void {
    this.skippedBytes += this.buffer.length;
    this.buffer = new Uint8Array(0);
  }

  /** Feeds received bytes (`now`: their arrival time, performance.now() ms); returns the complete packets. */
  push(chunk: Uint8Array, now = performance.now()): Packet[] {
    if (this.buffer.length > 0 && now - this.lastByteAt > this.interByteTimeoutMs) {
      if (findHeader(this.buffer) >= 0) this.dropped.timeout++;
      this.clear();
    }
    this.lastByteAt = now;
    this.buffer = concat(this.buffer, chunk);
    const packets: Packet[] = [];
    for (;;) {
      const start = findHeader(this.buffer);
      if (start < 0) {
        // Keep a possible partial header (up to 3 bytes) at the end.
        const keep = Math.min(3, this.buffer.length);
        this.skippedBytes += this.buffer.length - keep;
        this.buffer = this.buffer.slice(this.buffer.length - keep);
        return packets;
      }
      this.skippedBytes += start;
      this.buffer = this.buffer.slice(start);
      if (this.buffer.length < 7) return packets;
      const len = (this.buffer[5] as number) | ((this.buffer[6] as number) << 8);
      if (len < 3 || len > MAX_LENGTH) {
        this.drop('length');
        continue;
      }
      if (this.buffer.length < 7 + len) return packets;
      const total = 7 + len;
      const crc = (this.buffer[total - 2] as number) | ((this.buffer[total - 1] as number) << 8);
      if (crc !== crc16(this.buffer, 0, total - 2)) {
        this.drop('crc');
        continue;
      }
      const body = unstuff(this.buffer.slice(7, total - 2));
      const instruction = body[0] as number;
      const id = this.buffer[4] as number;
      this.buffer = this.buffer.slice(total);
      if (instruction === Instruction.Status) {
        if (body.length < 2) {
          this.dropped.short++;
          continue;
        }
        packets.push({ id, instruction, error: body[1] as number, params: body.slice(2) });
      } else {
        packets.push({ id, instruction, params: body.slice(1) });
      }
    }
  }

  /** Discards the first byte of a bad frame so the search resumes inside it. */
  private drop(reason: DropReason): void {
    this.dropped[reason]++;
    this.buffer = this.buffer.slice(1);
  }
}

function findHeader(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 0xff && b[i + 1] === 0xff && b[i + 2] === 0xfd && b[i + 3] === 0x00) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function checkByte(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`Expected \`${name}\` to be an integer in ${lo}..${hi}, got \`${v}\``);
}

/** Named errors of a status packet's error byte. */
export interface StatusError {
  /** Bit 7: hardware alert (read Hardware Error Status for details). */
  readonly hardwareAlert: boolean;
  readonly code: 'none' | 'result-fail' | 'instruction' | 'crc' | 'data-range' | 'data-length' | 'data-limit' | 'access' | 'unknown';
}

export function decodeStatusError(error: number): StatusError {
  const codes: StatusError['code'][] = ['none', 'result-fail', 'instruction', 'crc', 'data-range', 'data-length', 'data-limit', 'access'];
  return { hardwareAlert: (error & 0x80) !== 0, code: codes[error & 0x7f] ?? 'unknown' };
}

/** Little-endian parameter helpers. */
export function u16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}
export function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
export function readS32(b: Uint8Array, offset = 0): number {
  return ((b[offset] as number) | ((b[offset + 1] as number) << 8) | ((b[offset + 2] as number) << 16) | ((b[offset + 3] as number) << 24)) | 0;
}

/** Instruction builders (parameters as in the e-Manual). */
export const build = {
  ping: (id: number): Uint8Array => encodeInstruction(id, Instruction.Ping),
  read: (id: number, address: number, length: number): Uint8Array => encodeInstruction(id, Instruction.Read, [...u16(address), ...u16(length)]),
  write: (id: number, address: number, data: ArrayLike<number>): Uint8Array => encodeInstruction(id, Instruction.Write, [...u16(address), ...Array.from(data)]),
  reboot: (id: number): Uint8Array => encodeInstruction(id, Instruction.Reboot),
  /** Sync Read: the same `length` bytes at `address` from every id (broadcast). */
  syncRead: (address: number, length: number, ids: readonly number[]): Uint8Array => encodeInstruction(BROADCAST_ID, Instruction.SyncRead, [...u16(address), ...u16(length), ...ids]),
  /** Sync Write: each id gets its own `length` bytes at `address` (broadcast). */
  syncWrite: (address: number, length: number, items: readonly { id: number; data: ArrayLike<number> }[]): Uint8Array => {
    const params = [...u16(address), ...u16(length)];
    for (const { id, data } of items) {
      if (data.length !== length) throw new RangeError(`syncWrite: data for id ${id} has ${data.length} bytes, expected ${length}`);
      params.push(id, ...Array.from(data));
    }
    return encodeInstruction(BROADCAST_ID, Instruction.SyncWrite, params);
  },
  /** Bulk Write: a different address and data per id (broadcast, no status packets). */
  bulkWrite: (items: readonly { id: number; address: number; data: ArrayLike<number> }[]): Uint8Array => encodeInstruction(BROADCAST_ID, Instruction.BulkWrite, items.flatMap(({ id, address, data }) => [id, ...u16(address), ...u16(data.length), ...Array.from(data)])),
  /** Bulk Read: a different address and length per id (broadcast). */
  bulkRead: (items: readonly { id: number; address: number; length: number }[]): Uint8Array => encodeInstruction(BROADCAST_ID, Instruction.BulkRead, items.flatMap(({ id, address, length }) => [id, ...u16(address), ...u16(length)])),
};

/** One control-table item: where it is, how wide, who may write it, and the values it takes. */
export interface ControlItem {
  readonly address: number;
  readonly size: 1 | 2 | 4;
  /** `R`: read only. */
  readonly access: 'R' | 'RW';
  /** Values a write may hold (firmware answers Data Range outside them). */
  readonly range?: readonly [number, number];
  /** For enumerated items: the only values accepted. */
  readonly values?: readonly number[];
}

/** Addresses below this are EEPROM: writable only with torque off (else Access error). */
export const EEPROM_END = 64;

/** X-series (XM430 / XM540 / XH / XW) control table, Protocol 2.0 (ROBOTIS e-Manual). */
export const XControlTable = {
  ModelNumber: { address: 0, size: 2, access: 'R' },
  ModelInformation: { address: 2, size: 4, access: 'R' },
  FirmwareVersion: { address: 6, size: 1, access: 'R' },
  Id: { address: 7, size: 1, access: 'RW', range: [0, 252] },
  BaudRate: { address: 8, size: 1, access: 'RW', values: [0, 1, 2, 3, 4, 5, 6, 7] },
  ReturnDelayTime: { address: 9, size: 1, access: 'RW', range: [0, 254] },
  DriveMode: { address: 10, size: 1, access: 'RW', range: [0, 13] },
  OperatingMode: { address: 11, size: 1, access: 'RW', values: [0, 1, 3, 4, 5, 16] },
  HomingOffset: { address: 20, size: 4, access: 'RW', range: [-1_044_479, 1_044_479] },
  MovingThreshold: { address: 24, size: 4, access: 'RW', range: [0, 1023] },
  TemperatureLimit: { address: 31, size: 1, access: 'RW', range: [0, 100] },
  VelocityLimit: { address: 44, size: 4, access: 'RW', range: [0, 1023] },
  MaxPositionLimit: { address: 48, size: 4, access: 'RW', range: [0, 4095] },
  MinPositionLimit: { address: 52, size: 4, access: 'RW', range: [0, 4095] },
  TorqueEnable: { address: 64, size: 1, access: 'RW', range: [0, 1] },
  Led: { address: 65, size: 1, access: 'RW', range: [0, 1] },
  StatusReturnLevel: { address: 68, size: 1, access: 'RW', range: [0, 2] },
  RegisteredInstruction: { address: 69, size: 1, access: 'R' },
  HardwareErrorStatus: { address: 70, size: 1, access: 'R' },
  PositionDGain: { address: 80, size: 2, access: 'RW', range: [0, 16383] },
  PositionIGain: { address: 82, size: 2, access: 'RW', range: [0, 16383] },
  PositionPGain: { address: 84, size: 2, access: 'RW', range: [0, 16383] },
  GoalCurrent: { address: 102, size: 2, access: 'RW', range: [-1193, 1193] },
  GoalVelocity: { address: 104, size: 4, access: 'RW', range: [-1023, 1023] },
  ProfileAcceleration: { address: 108, size: 4, access: 'RW', range: [0, 32767] },
  ProfileVelocity: { address: 112, size: 4, access: 'RW', range: [0, 32767] },
  GoalPosition: { address: 116, size: 4, access: 'RW', range: [-1_048_575, 1_048_575] },
  RealtimeTick: { address: 120, size: 2, access: 'R' },
  Moving: { address: 122, size: 1, access: 'R' },
  MovingStatus: { address: 123, size: 1, access: 'R' },
  PresentPwm: { address: 124, size: 2, access: 'R' },
  PresentCurrent: { address: 126, size: 2, access: 'R' },
  PresentVelocity: { address: 128, size: 4, access: 'R' },
  PresentPosition: { address: 132, size: 4, access: 'R' },
  VelocityTrajectory: { address: 136, size: 4, access: 'R' },
  PositionTrajectory: { address: 140, size: 4, access: 'R' },
  PresentInputVoltage: { address: 144, size: 2, access: 'R' },
  PresentTemperature: { address: 146, size: 1, access: 'R' },
} as const satisfies Record<string, ControlItem>;

/** Size of the X-series control table up to Present Temperature (indirect addresses not modelled). */
export const CONTROL_TABLE_SIZE = 147;

/** Operating Mode (address 11) values. */
export const OperatingMode = { Current: 0, Velocity: 1, Position: 3, ExtendedPosition: 4, CurrentBasedPosition: 5, Pwm: 16 } as const;
