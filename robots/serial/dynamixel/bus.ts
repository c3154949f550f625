import { setIoTimeout } from '../../../control/clock.js';
import type { SerialLink } from '../link.js';
import { BROADCAST_ID, build, decodeStatusError, Instruction, PacketDecoder, XControlTable, type Packet, type StatusError } from './protocol.js';

/** Hardware Error Status (address 70) bits of X-series servos (e-Manual). */
const HARDWARE_ERRORS: readonly [number, string][] = [
  [0x01, 'input voltage'],
  [0x04, 'overheating'],
  [0x08, 'motor encoder'],
  [0x10, 'electrical shock'],
  [0x20, 'overload'],
];

/** Names the bits of a Hardware Error Status byte. */
export function describeHardwareError(status: number): string[] {
  return HARDWARE_ERRORS.filter(([bit]) => (status & bit) !== 0).map(([, name]) => name);
}

/** A servo answered with its error byte set. */
export class DynamixelStatusError extends Error {
  override readonly name = 'DynamixelStatusError';
  constructor(
    readonly id: number,
    readonly status: StatusError,
    /** With a hardware alert: the servo's Hardware Error Status byte, when it could be read. */
    readonly hardwareErrorStatus?: number,
  ) {
    const alert = status.hardwareAlert
      ? `hardware alert: ${hardwareErrorStatus === undefined ? 'Hardware Error Status could not be read' : describeHardwareError(hardwareErrorStatus).join(', ') || `status 0x${hardwareErrorStatus.toString(16)}`}; torque stays off until the servo is rebooted (recover())`
      : '';
    super(`Dynamixel ID ${id}: ${[status.code === 'none' ? '' : `${status.code} (${STATUS_MEANINGS[status.code]})`, alert].filter(Boolean).join('; ')}`);
  }
}

/** What each Protocol 2.0 error number means (ROBOTIS e-Manual, "Status Packet"), for messages a person reads. */
const STATUS_MEANINGS: Readonly<Record<StatusError['code'], string>> = {
  none: '',
  'result-fail': 'the servo failed to process the instruction',
  instruction: 'undefined instruction, or Action without Reg Write',
  crc: 'the packet reached the servo corrupted',
  'data-range': 'the value or address is outside the range the servo accepts',
  'data-length': 'the data is shorter than the item it writes',
  'data-limit': 'the value is beyond a limit set on the servo (position limits)',
  access: 'the item cannot be accessed this way (read-only, EEPROM with torque on, or not readable)',
  unknown: 'an error number Protocol 2.0 does not define',
};

/** No (valid) answer within the timeout, after every retry. */
export class DynamixelTimeoutError extends Error {
  override readonly name = 'DynamixelTimeoutError';
  constructor(
    /** The servos that stayed silent. */
    readonly ids: readonly number[],
    readonly attempts: number,
    asked: readonly number[] = ids,
    /** What the silent servos sent instead, if anything (a status of the wrong length). */
    note = '',
  ) {
    super(`Dynamixel: no status from ID ${ids.join(', ')}${asked.length > ids.length ? ` (of ${asked.join(', ')})` : ''} after ${attempts} attempt(s)${note}`);
  }
}

/** Names, for a timeout, the statuses a silent servo sent that did not fit its instruction. */
function misfitNote(silent: readonly number[], misfits: ReadonlyMap<number, Packet>, answers: readonly Answer[]): string {
  const parts = silent.flatMap((id) => {
    const p = misfits.get(id);
    if (!p) return [];
    const status = decodeStatusError(p.error ?? 0);
    const expected = answers.find((a) => a.id === id)?.params ?? 0;
    return [`ID ${id} sent a status with ${p.params.length} parameter byte(s)${status.code === 'none' ? '' : ` and error ${status.code}`} where its answer has ${expected}`];
  });
  return parts.length ? ` (${parts.join('; ')}: a late answer to another instruction, or a servo that answers errors without data)` : '';
}

export interface BusOptions {
  /**
   * Per-attempt timeout, ms. Default: derived from the baud rate and the USB adapter's latency
   * timer (see {@link defaultTimeoutMs}).
   */
  readonly timeoutMs?: number;
  /** Extra attempts after a timeout or an answer that does not fit. Default 2. */
  readonly retries?: number;
  /** Baud rate of the bus (for the default timeout). Default 1 000 000. */
  readonly baudRate?: number;
  /** The USB serial adapter's latency timer, ms (FTDI's default is 16; U2D2 users often set 1). Default 16. */
  readonly usbLatencyMs?: number;
}

/**
 * A per-attempt timeout that covers what the wire and the adapter take: the instruction and
 * every expected status packet at 10 bits a byte, each servo's return delay (250 µs by
 * default on X-series), one USB latency-timer period (the adapter holds received bytes that
 * long before passing them on), plus 10 ms for this process to be scheduled.
 */
export function defaultTimeoutMs(txBytes: number, rxBytes: number, servos: number, baudRate = 1_000_000, usbLatencyMs = 16): number {
  return ((txBytes + rxBytes) * 10 * 1000) / baudRate + 0.25 * servos + usbLatencyMs + 10;
}

/** Status packet size on the wire for `params` parameter bytes (header 4, ID, LEN 2, INST, ERR, CRC 2). */
const statusBytes = (params: number): number => 11 + params;

/**
 * One servo's expected answer to an instruction: its ID and the parameter count its status
 * packet must carry. Anything else (a late answer to an earlier instruction) is not taken.
 */
export interface Answer {
  readonly id: number;
  readonly params: number;
}

/**
 * Dynamixel Protocol 2.0 master over a serial link: one transaction at a time (half duplex).
 * Before each transaction the input is flushed (stale bytes are nobody's answer); a status
 * packet is taken only from a servo that was asked and only with the parameter count the
 * instruction produces (error statuses included), so a reply that arrives after its timeout
 * cannot stand in for a differently shaped instruction's; after a timeout the bus waits for
 * the line to be quiet for one more timeout and flushes the stragglers before its next
 * exchange, a retry or the next caller's. A timeout names the servos that stayed silent. A status with
 * the hardware-alert bit set is reported with the servo's Hardware Error Status; recovery
 * (reboot, torque back on) is an explicit call, never automatic.
 */
export class DynamixelBus {
  private readonly decoder = new PacketDecoder();
  private waiting: { answers: Map<number, number>; got: Map<number, Packet>; misfits: Map<number, Packet>; resolve: () => void } | null = null;
  /**
   * Set when an attempt ended without every answer: a servo that answers late may still be
   * sending. The next attempt — a retry or the next caller's transaction — first waits for the
   * line to be quiet this long (measured from `since`) and flushes what came.
   */
  private straggling: { since: number; quietMs: number } | null = null;
  /** pingAll: sees every status packet. */
  private listener: ((p: Packet) => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats = { transactions: 0, retries: 0, timeouts: 0, unexpected: 0, flushedBytes: 0 };

  constructor(
    private readonly link: SerialLink,
    private readonly options: BusOptions = {},
  ) {
    link.onData = (chunk) => {
      this.lastByteAt = performance.now();
      for (const p of this.decoder.push(chunk)) this.accept(p);
    };
  }

  get badFrames(): number {
    return this.decoder.badFrames;
  }

  async ping(id: number): Promise<{ model: number; firmware: number }> {
    const [p] = await this.transact(build.ping(id), [{ id, params: 3 }]);
    const b = (p as Packet).params;
    return { model: (b[0] as number) | ((b[1] as number) << 8), firmware: b[2] as number };
  }

  /**
   * Broadcast ping: every servo on the bus answers (staggered by ID), so this listens for the
   * whole window. Returns the IDs found, in order, with model and firmware.
   */
  async pingAll(windowMs = 100): Promise<Map<number, { model: number; firmware: number }>> {
    const found = new Map<number, { model: number; firmware: number }>();
    await this.exclusive(async () => {
      await this.drainStragglers();
      this.flush();
      this.listener = (p) => {
        if (p.params.length === 3 && (p.error ?? 0) === 0) found.set(p.id, { model: (p.params[0] as number) | ((p.params[1] as number) << 8), firmware: p.params[2] as number });
      };
      try {
        if (!this.link.write(build.ping(BROADCAST_ID))) throw new Error('Dynamixel: serial link is down');
        await new Promise((r) => setTimeout(r, windowMs));
      } finally {
        this.listener = null;
      }
    });
    return new Map([...found].sort(([a], [b]) => a - b));
  }

  async read(id: number, address: number, length: number): Promise<Uint8Array> {
    const [p] = await this.transact(build.read(id, address, length), [{ id, params: length }]);
    return (p as Packet).params;
  }

  async write(id: number, address: number, data: ArrayLike<number>): Promise<void> {
    await this.transact(build.write(id, address, data), [{ id, params: 0 }]);
  }

  /** Reboot: clears a hardware error (the servo restarts with torque off). Its answer may still carry the alert bit. */
  async reboot(id: number): Promise<void> {
    await this.exclusive(() => this.exchangeDespiteAlert(build.reboot(id), id, 0));
  }

  /** The servo's Hardware Error Status byte (address 70); 0 when healthy. */
  async hardwareErrorStatus(id: number): Promise<number> {
    return this.exclusive(() => this.readHardwareStatus(id));
  }

  /** Sync write: no status packets come back (broadcast). Returns false if the link is down. */
  syncWrite(address: number, length: number, items: readonly { id: number; data: ArrayLike<number> }[]): boolean {
    return this.link.write(build.syncWrite(address, length, items));
  }

  /** Bulk write: a different address and data per servo, no status packets (broadcast). */
  bulkWrite(items: readonly { id: number; address: number; data: ArrayLike<number> }[]): boolean {
    return this.link.write(build.bulkWrite(items));
  }

  /** Sync read: one status packet per ID, in ID order as sent; returns each servo's bytes. */
  async syncRead(address: number, length: number, ids: readonly number[]): Promise<Map<number, Uint8Array>> {
    const packets = await this.transact(
      build.syncRead(address, length, ids),
      ids.map((id) => ({ id, params: length })),
    );
    return new Map(packets.map((p) => [p.id, p.params]));
  }

  /** Bulk read: each servo its own address and length. */
  async bulkRead(items: readonly { id: number; address: number; length: number }[]): Promise<Map<number, Uint8Array>> {
    const packets = await this.transact(
      build.bulkRead(items),
      items.map((i) => ({ id: i.id, params: i.length })),
    );
    return new Map(packets.map((p) => [p.id, p.params]));
  }

  /**
   * Sends `packet` and collects one fitting status packet from each servo in `answers` (with
   * the parameter count its answer must have), with timeout and retries; returns them in order.
   */
  transact(packet: Uint8Array, answers: readonly Answer[]): Promise<Packet[]> {
    return this.exclusive(async () => {
      const out = await this.exchange(packet, answers);
      const failed = out.find((p) => (p.error ?? 0) !== 0);
      if (failed) throw await this.statusError(failed);
      return out;
    });
  }

  /** One transaction on a bus already held: attempts with timeouts; throws the timeout naming the silent servos. */
  private async exchange(packet: Uint8Array, answers: readonly Answer[]): Promise<Packet[]> {
    const ids = answers.map((a) => a.id);
    const rxBytes = answers.reduce((s, a) => s + statusBytes(a.params), 0);
    const timeout = this.options.timeoutMs ?? defaultTimeoutMs(packet.length, rxBytes, ids.length, this.options.baudRate, this.options.usbLatencyMs);
    const attempts = 1 + (this.options.retries ?? 2);
    this.stats.transactions++;
    let silent: number[] = ids;
    let misfits = new Map<number, Packet>();
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) this.stats.retries++;
      await this.drainStragglers();
      this.flush();
      const got = new Map<number, Packet>();
      misfits = new Map<number, Packet>();
      const done = new Promise<void>((resolve) => (this.waiting = { answers: new Map(answers.map((a) => [a.id, a.params])), got, misfits, resolve }));
      if (!this.link.write(packet)) {
        this.waiting = null;
        throw new Error('Dynamixel: serial link is down');
      }
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([done.then(() => true), new Promise<boolean>((r) => (timer = setIoTimeout(() => r(false), timeout)))]);
      clearTimeout(timer);
      this.waiting = null;
      if (ok) {
        // A retry that succeeded may have taken the earlier attempt's late answer (the same
        // instruction, so the same data): its own answer is then still on its way, and must
        // not reach the next caller. (A 1-byte Hardware Error Status of 0 once answered the
        // next read of Operating Mode this way.)
        if (attempt > 0) this.straggling = { since: performance.now(), quietMs: timeout };
        return ids.map((id) => got.get(id) as Packet);
      }
      silent = ids.filter((id) => !got.has(id));
      // Whoever stayed silent may answer late, after this attempt or after the last one: the
      // next exchange on this bus waits for the line to go quiet first (issue 19: a straggler
      // after the last attempt answered the next caller's read or write).
      this.straggling = { since: performance.now(), quietMs: timeout };
    }
    this.stats.timeouts++;
    throw new DynamixelTimeoutError(silent, attempts, ids, misfitNote(silent, misfits, answers));
  }

  /** A status error; with a hardware alert, the Hardware Error Status is read and reported (no automatic recovery). */
  private async statusError(p: Packet): Promise<DynamixelStatusError> {
    const status = decodeStatusError(p.error as number);
    if (!status.hardwareAlert) return new DynamixelStatusError(p.id, status);
    const hw = await this.readHardwareStatus(p.id).catch(() => undefined);
    return new DynamixelStatusError(p.id, status, hw);
  }

  /** Reads Hardware Error Status on a bus already held (its answer carries the alert bit too). */
  private async readHardwareStatus(id: number): Promise<number> {
    const p = await this.exchangeDespiteAlert(build.read(id, XControlTable.HardwareErrorStatus.address, 1), id, 1);
    return p.params[0] as number;
  }

  /** One servo's answer on a bus already held, refusing error numbers but not the alert bit (a servo in alert sets it on every answer). */
  private async exchangeDespiteAlert(packet: Uint8Array, id: number, params: number): Promise<Packet> {
    const [p] = (await this.exchange(packet, [{ id, params }])) as [Packet];
    if ((p.error ?? 0) & 0x7f) throw new DynamixelStatusError(id, decodeStatusError(p.error as number));
    return p;
  }

  /** Runs `f` with the bus to itself (half duplex: one transaction at a time). */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * After an attempt that timed out: waits until the line has been quiet for one timeout since
   * that attempt ended (at most 5 timeouts), so stragglers from it arrive now and are flushed
   * with everything else rather than during the next exchange, where one of the same shape
   * would pass for its answer. Free when the line has long been quiet.
   */
  private async drainStragglers(): Promise<void> {
    const s = this.straggling;
    if (!s) return;
    const end = s.since + 5 * s.quietMs;
    while (performance.now() < end) {
      const wait = Math.max(this.lastByteAt, s.since) + s.quietMs - performance.now();
      if (wait <= 0) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    this.straggling = null;
  }

  private lastByteAt = 0;

  /** Drops buffered input: nothing received before an instruction is its answer. */
  private flush(): void {
    const before = this.decoder.skippedBytes;
    this.decoder.clear();
    this.stats.flushedBytes += this.decoder.skippedBytes - before;
  }

  private accept(p: Packet): void {
    if (p.instruction !== Instruction.Status || p.id === BROADCAST_ID) return;
    this.listener?.(p);
    const w = this.waiting;
    if (!w) {
      if (!this.listener) this.stats.unexpected++; // an answer nobody is waiting for: a straggler
      return;
    }
    const params = w.answers.get(p.id);
    // An answer from a servo that was asked, once, with exactly the parameter count the
    // instruction produces — an error status too (a servo answers a refused read with the
    // read's length, as ROBOTIS' Dynamixel2Arduino slave does). An error status of another
    // length is a late answer to some other instruction: a refused write's status once failed
    // the next valid read and write with its data-range error (issue 19).
    const fits = params !== undefined && !w.got.has(p.id) && p.params.length === params;
    if (!fits) {
      this.stats.unexpected++;
      if (params !== undefined && !w.got.has(p.id)) w.misfits.set(p.id, p);
      return;
    }
    w.got.set(p.id, p);
    if (w.got.size === w.answers.size) w.resolve();
  }
}
