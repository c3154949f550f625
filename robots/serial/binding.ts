import { read } from 'node:fs';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import type { BindingInterface, OpenOptions } from '@serialport/bindings-cpp';
import { autoDetect, BindingsError, DarwinPortBinding, LinuxPortBinding } from '@serialport/bindings-cpp';
import { asyncOpen } from '@serialport/bindings-cpp/dist/load-bindings.js';
import { EVENTS, Poller } from '@serialport/bindings-cpp/dist/poller.js';

/**
 * How often a port opened on a worker thread looks for bytes while a read waits, ms. A
 * Dynamixel reply at 1 Mbaud takes ~0.5 ms; a robot's control period is ≥ 10 ms.
 */
export const THREAD_POLL_MS = 1;

/**
 * Stands in for @serialport/bindings-cpp's native FDPoller on a worker thread. The native one
 * watches the fd with `uv_poll` on `uv_default_loop()` — the main thread's loop — so a port opened
 * on a worker never hears that a byte arrived (its reads wait forever). This one answers
 * "writable" after {@link THREAD_POLL_MS} on the calling thread's own timers, and the binding's
 * write simply tries again (EAGAIN sends it back here). Reads wait in {@link readUntilHangup}, looking again every {@link THREAD_POLL_MS}.
 */
class TimerFdPoller {
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    _fd: number,
    private readonly callback: (error: Error | null, events: number) => void,
  ) {}

  poll(flags: number): void {
    // Disconnects are seen by reads failing, not polled.
    this.pending |= flags & (EVENTS.UV_READABLE | EVENTS.UV_WRITABLE);
    if (this.pending === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const events = this.pending;
      this.pending = 0;
      this.callback(null, events);
    }, THREAD_POLL_MS);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = 0;
  }

  destroy(): void {
    this.stop();
  }
}

type PortClass = typeof LinuxPortBinding | typeof DarwinPortBinding;
type OpenPort = { fd: number | null; readonly isOpen: boolean; poller?: Poller };

/**
 * The serial binding for this thread, Linux and macOS (elsewhere the platform's binding as it is).
 * Ports are opened — and their termios set — by @serialport/bindings-cpp's own native call, and
 * read by {@link readUntilHangup}, which takes a read of 0 bytes for what it is: the device hung
 * up. bindings-cpp's read retries 0 bytes at once, for ever — measured: a pty whose other side
 * closed kept one core ~95% busy and the link never heard (only a write, failing with EIO, told
 * it; a peer that only answers never writes, so the serial emulator stayed down). On the main
 * thread the native poller wakes a waiting read. On a worker thread (`roborl train --robot`'s
 * actor) the native poller would watch the main thread's loop, so the port gets
 * {@link TimerFdPoller} instead, and a waiting read looks again every {@link THREAD_POLL_MS}.
 */
export function serialBinding(): BindingInterface {
  const platform = autoDetect() as unknown as BindingInterface;
  const PortClass: PortClass | null = process.platform === 'linux' ? LinuxPortBinding : process.platform === 'darwin' ? DarwinPortBinding : null;
  if (!PortClass) return platform;
  if (isMainThread) {
    return {
      ...platform,
      async open(options: OpenOptions) {
        const port = (await platform.open(options)) as unknown as InstanceType<PortClass> & OpenPort;
        // The poller reports a hang-up under a waiting read as an error (libuv: POLLERR, "bad file descriptor").
        const hungUp = (err: Error): Error => ((err as { canceled?: boolean }).canceled ? err : Object.assign(new Error(`the serial device hung up (${err.message})`), { disconnect: true }));
        const readable = (): Promise<void> => new Promise((resolve, reject) => port.poller!.once('readable', (err: Error | null) => (err ? reject(hungUp(err)) : resolve())));
        Object.assign(port, { read: (buffer: Buffer, offset: number, length: number) => readUntilHangup(port, buffer, offset, length, readable) });
        return port;
      },
    } as BindingInterface;
  }
  return {
    ...platform,
    async open(options: OpenOptions) {
      if (!options || typeof options.path !== 'string' || !options.path) throw new TypeError('"path" is not a valid port');
      if (!options.baudRate) throw new TypeError('"baudRate" is not a valid baudRate');
      const defaults = { vmin: 1, vtime: 0, dataBits: 8, lock: true, stopBits: 1, parity: 'none', rtscts: false, xon: false, xoff: false, xany: false, hupcl: true };
      const openOptions = { ...defaults, ...options };
      const fd = (await asyncOpen(openOptions.path, openOptions)) as number;
      // The port class's constructor would start the native poller; build it without that.
      const port = Object.create(PortClass.prototype) as InstanceType<PortClass> & Record<string, unknown> & OpenPort;
      // Idle, the wait grows to 4 ms (a read of EAGAIN every millisecond cost ~10% of a core).
      let empty = 0;
      const later = (): Promise<void> => new Promise((r) => setTimeout(r, empty++ < 20 ? THREAD_POLL_MS : 4 * THREAD_POLL_MS));
      Object.assign(port, {
        fd,
        openOptions,
        poller: new Poller(fd, TimerFdPoller as never),
        writeOperation: null,
        read: (buffer: Buffer, offset: number, length: number) => {
          empty = 0;
          return readUntilHangup(port, buffer, offset, length, later);
        },
      });
      return port;
    },
  } as BindingInterface;
}

const readAsync = promisify(read);

/**
 * A port's read: bindings-cpp's own (unix-read.js) with one change, a read of 0 bytes is the
 * device hanging up — a tty in non-blocking mode with VMIN 1 answers "nothing yet" with EAGAIN,
 * and a pty whose other side closed (or an unplugged adapter, a hung-up tty) answers 0 for ever.
 * Thrown as a disconnect, the stream closes and the link reopens (link.ts). While no byte is there
 * (EAGAIN) it waits for `readable`.
 */
async function readUntilHangup(port: OpenPort, buffer: Buffer, offset: number, length: number, readable: () => Promise<void>): Promise<{ bytesRead: number; buffer: Buffer }> {
  if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer');
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || buffer.length < offset + length) throw new RangeError(`read: offset ${offset} and length ${length} do not fit a buffer of ${buffer.length}`);
  if (length === 0) return { bytesRead: 0, buffer };
  for (;;) {
    if (!port.isOpen || port.fd === null) throw new BindingsError('Port is not open', { canceled: true });
    try {
      const { bytesRead } = await readAsync(port.fd, buffer, offset, length, null);
      if (bytesRead === 0) throw Object.assign(new Error('the serial device hung up (read returned end of file)'), { disconnect: true });
      return { bytesRead, buffer };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (!port.isOpen) throw new BindingsError('Port is not open', { canceled: true });
      await readable();
    }
  }
}
