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
 * write simply tries again (EAGAIN sends it back here). Reads wait in {@link readOnThread}.
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

/**
 * The serial binding for this thread: the platform's own (bindings-cpp) on the main thread; on a
 * worker thread (`roborl train --robot`'s actor) the same port code with {@link TimerFdPoller}
 * instead of the native poller and {@link readOnThread} for reads. The port is opened — and its termios set — by the same native
 * call either way. Linux and macOS; elsewhere the platform's binding.
 */
export function threadSerialBinding(): BindingInterface {
  const platform = autoDetect() as unknown as BindingInterface;
  const PortClass: PortClass | null = process.platform === 'linux' ? LinuxPortBinding : process.platform === 'darwin' ? DarwinPortBinding : null;
  if (isMainThread || !PortClass) return platform;
  return {
    ...platform,
    async open(options: OpenOptions) {
      if (!options || typeof options.path !== 'string' || !options.path) throw new TypeError('"path" is not a valid port');
      if (!options.baudRate) throw new TypeError('"baudRate" is not a valid baudRate');
      const defaults = { vmin: 1, vtime: 0, dataBits: 8, lock: true, stopBits: 1, parity: 'none', rtscts: false, xon: false, xoff: false, xany: false, hupcl: true };
      const openOptions = { ...defaults, ...options };
      const fd = (await asyncOpen(openOptions.path, openOptions)) as number;
      // The port class's constructor would start the native poller; build it without that.
      const port = Object.create(PortClass.prototype) as InstanceType<PortClass> & Record<string, unknown>;
      Object.assign(port, { fd, openOptions, poller: new Poller(fd, TimerFdPoller as never), writeOperation: null, read: (buffer: Buffer, offset: number, length: number) => readOnThread(port, buffer, offset, length) });
      return port;
    },
  } as BindingInterface;
}

const readAsync = promisify(read);

/**
 * A port's read on a worker thread: bindings-cpp's own (unix-read.js) with two changes. While no
 * byte is there (EAGAIN) it looks again every {@link THREAD_POLL_MS}. And a read of 0 bytes is
 * the device hanging up — a tty in non-blocking mode with VMIN 1 answers "nothing yet" with
 * EAGAIN, and a pty whose other side closed (or an unplugged adapter) answers 0 for ever; the
 * native poller sees that hang-up as a poll event, bindings-cpp's read would retry 0 forever.
 * Thrown as a disconnect, the stream closes and the link reopens (link.ts).
 */
async function readOnThread(port: { fd: number | null; readonly isOpen: boolean }, buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }> {
  if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer');
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || buffer.length < offset + length) throw new RangeError(`read: offset ${offset} and length ${length} do not fit a buffer of ${buffer.length}`);
  // Idle, the wait grows to 4 ms (a read of EAGAIN every millisecond cost ~10% of a core).
  for (let empty = 0; ; empty++) {
    if (!port.isOpen || port.fd === null) throw new BindingsError('Port is not open', { canceled: true });
    try {
      const { bytesRead } = await readAsync(port.fd, buffer, offset, length, null);
      if (bytesRead === 0) throw Object.assign(new Error('the serial device hung up (read returned end of file)'), { disconnect: true });
      return { bytesRead, buffer };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      await new Promise((r) => setTimeout(r, empty < 20 ? THREAD_POLL_MS : 4 * THREAD_POLL_MS));
    }
  }
}
