import { SerialPort } from 'serialport';
import { serialBinding } from './binding.js';

export interface SerialLinkOptions {
  readonly path: string;
  readonly baudRate?: number;
  /** Reopen backoff after the port goes away (unplugged, pty closed): first delay and cap, ms. Defaults 100 and 2000. */
  readonly reopenMinMs?: number;
  readonly reopenMaxMs?: number;
  readonly log?: (line: string) => void;
}

/**
 * A serial port that stays wanted: when the device disappears (USB unplugged, pty closed) it
 * reports the loss, and keeps trying to reopen with exponential backoff until closed. Bytes
 * go to `onData`; `write` returns false (and drops the bytes) while the port is down, so no
 * stale command is sent when the link comes back.
 */
export class SerialLink {
  private port: SerialPort | null = null;
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  private opening: Promise<void> | null = null;
  private backoff: number;
  onData: (chunk: Buffer) => void = () => {};
  onUp: () => void = () => {};
  onDown: (reason: string) => void = () => {};
  reopens = 0;

  private constructor(private readonly options: SerialLinkOptions) {
    this.backoff = options.reopenMinMs ?? 100;
  }

  /** Opens the port, failing with the OS's reason if it cannot (wrong path, permissions). */
  static async open(options: SerialLinkOptions): Promise<SerialLink> {
    const link = new SerialLink(options);
    await link.openOnce();
    return link;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  write(bytes: Uint8Array): boolean {
    if (!this.port?.isOpen) return false;
    this.port.write(Buffer.from(bytes));
    return true;
  }

  private openOnce(): Promise<void> {
    // Reads that see the device hang up, and (on train --robot's actor thread) a poller of the thread's own: binding.ts.
    const options = { path: this.options.path, baudRate: this.options.baudRate ?? 1_000_000, autoOpen: false, binding: serialBinding() };
    const port = new SerialPort(options as ConstructorParameters<typeof SerialPort>[0]);
    return new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (err) return reject(new Error(`serial port ${this.options.path}: ${err.message}`));
        if (this.closing) {
          // close() came while this (re)open was under way: the port is not wanted any more.
          port.close(() => resolve());
          return;
        }
        this.port = port;
        this.backoff = this.options.reopenMinMs ?? 100;
        port.on('data', (d: Buffer) => this.onData(d));
        port.on('error', (e: Error) => this.options.log?.(`serial ${this.options.path}: ${e.message}`));
        port.on('close', () => {
          // One loss, one report: a write failing on a hung-up port closes it twice (the stream's
          // destroy, then the binding's close).
          if (this.port !== port) return;
          this.port = null;
          if (this.closing) return;
          this.onDown(`serial port ${this.options.path} closed`);
          this.scheduleReopen();
        });
        this.onUp();
        resolve();
      });
    });
  }

  private scheduleReopen(): void {
    if (this.closing || this.timer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.reopenMaxMs ?? 2000);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closing) return;
      this.opening = this.openOnce().then(
        () => {
          this.opening = null;
          if (this.closing) return;
          this.reopens++;
          this.options.log?.(`serial ${this.options.path}: reopened`);
        },
        () => {
          this.opening = null;
          this.scheduleReopen();
        },
      );
    }, delay);
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    // A reopen under way closes what it opened (openOnce sees `closing`).
    await this.opening;
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
