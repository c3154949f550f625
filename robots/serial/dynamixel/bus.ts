import type { SerialLink } from '../link.js';
import { BROADCAST_ID, build, decodeStatusError, Instruction, PacketDecoder, type Packet, type StatusError } from './protocol.js';

/** A servo answered with its error byte set. */
export class DynamixelStatusError extends Error {
  override readonly name = 'DynamixelStatusError';
  constructor(
    readonly id: number,
    readonly status: StatusError,
  ) {
    super(`Dynamixel ID ${id}: ${status.code}${status.hardwareAlert ? ' (hardware alert: read Hardware Error Status)' : ''}`);
  }
}

/** No (valid) answer within the timeout, after every retry. */
export class DynamixelTimeoutError extends Error {
  override readonly name = 'DynamixelTimeoutError';
  constructor(
    readonly ids: readonly number[],
    readonly attempts: number,
  ) {
    super(`Dynamixel: no status from ID ${ids.join(', ')} after ${attempts} attempt(s)`);
  }
}

export interface BusOptions {
  /** Per-attempt timeout, ms. Default 20 (the SDK's missing-ID timeout is ~34 ms at 1 Mbaud). */
  readonly timeoutMs?: number;
  /** Extra attempts after a timeout or a corrupt answer. Default 2. */
  readonly retries?: number;
}

/**
 * Dynamixel Protocol 2.0 master over a serial link: one transaction at a time (half duplex),
 * each with a timeout and retries; status error bytes become {@link DynamixelStatusError}s
 * with named codes. Corrupt frames are counted by the decoder and treated as no answer.
 */
export class DynamixelBus {
  private readonly decoder = new PacketDecoder();
  private waiting: { ids: number[]; got: Map<number, Packet>; resolve: () => void } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats = { transactions: 0, retries: 0, timeouts: 0 };

  constructor(
    private readonly link: SerialLink,
    private readonly options: BusOptions = {},
  ) {
    link.onData = (chunk) => {
      for (const p of this.decoder.push(chunk)) this.accept(p);
    };
  }

  get badFrames(): number {
    return this.decoder.badFrames;
  }

  async ping(id: number): Promise<{ model: number; firmware: number }> {
    const [p] = await this.transact(build.ping(id), [id]);
    const b = (p as Packet).params;
    return { model: (b[0] as number) | ((b[1] as number) << 8), firmware: b[2] as number };
  }

  async read(id: number, address: number, length: number): Promise<Uint8Array> {
    const [p] = await this.transact(build.read(id, address, length), [id]);
    return (p as Packet).params;
  }

  async write(id: number, address: number, data: ArrayLike<number>): Promise<void> {
    await this.transact(build.write(id, address, data), [id]);
  }

  /** Sync write: no status packets come back (broadcast). Returns false if the link is down. */
  syncWrite(address: number, length: number, items: readonly { id: number; data: ArrayLike<number> }[]): boolean {
    return this.link.write(build.syncWrite(address, length, items));
  }

  /** Sync read: one status packet per ID, in ID order as sent; returns each servo's bytes. */
  async syncRead(address: number, length: number, ids: readonly number[]): Promise<Map<number, Uint8Array>> {
    const packets = await this.transact(build.syncRead(address, length, ids), ids);
    return new Map(packets.map((p) => [p.id, p.params]));
  }

  async bulkRead(items: readonly { id: number; address: number; length: number }[]): Promise<Map<number, Uint8Array>> {
    const packets = await this.transact(build.bulkRead(items), items.map((i) => i.id));
    return new Map(packets.map((p) => [p.id, p.params]));
  }

  /** Sends `packet` and collects one status packet from each of `ids`, with timeout and retries. */
  transact(packet: Uint8Array, ids: readonly number[]): Promise<Packet[]> {
    const run = async (): Promise<Packet[]> => {
      this.stats.transactions++;
      const attempts = 1 + (this.options.retries ?? 2);
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0) this.stats.retries++;
        const got = new Map<number, Packet>();
        const done = new Promise<void>((resolve) => (this.waiting = { ids: [...ids], got, resolve }));
        if (!this.link.write(packet)) {
          this.waiting = null;
          throw new Error('Dynamixel: serial link is down');
        }
        let timer: NodeJS.Timeout | undefined;
        const ok = await Promise.race([done.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.options.timeoutMs ?? 20)))]);
        clearTimeout(timer);
        this.waiting = null;
        if (!ok) continue;
        const out = ids.map((id) => got.get(id) as Packet);
        const failed = out.find((p) => (p.error ?? 0) !== 0);
        if (failed) throw new DynamixelStatusError(failed.id, decodeStatusError(failed.error as number));
        return out;
      }
      this.stats.timeouts++;
      throw new DynamixelTimeoutError(ids, attempts);
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private accept(p: Packet): void {
    const w = this.waiting;
    if (!w || p.instruction !== Instruction.Status || p.id === BROADCAST_ID || !w.ids.includes(p.id)) return;
    w.got.set(p.id, p);
    if (w.got.size === w.ids.length) w.resolve();
  }
}
