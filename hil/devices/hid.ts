import { ButtonPresses, IDLE, type TeleopButton, type TeleopContext, type TeleopDevice, type TeleopReading } from '../device.js';

/**
 * How a HID device's reports map to a teleop reading. Axes are signed 16-bit little-endian
 * values at a byte offset of a report (the first byte of a report is its id where the device
 * numbers its reports); buttons are bits of a byte.
 */
export interface HidMapping {
  /** For each action dimension: the report id, byte offset, full-scale value and sign. */
  readonly axes: readonly { readonly report: number; readonly offset: number; readonly scale: number; readonly invert?: boolean }[];
  /** Buttons: report id, byte offset, bit, and what pressing it means (`engage` holds control while pressed). */
  readonly buttons: readonly { readonly report: number; readonly offset: number; readonly bit: number; readonly action: TeleopButton | 'engage' }[];
  /** |axis| below this share of full scale is zero (a resting stick or puck never reads exactly 0). Default 0.05. */
  readonly deadzone?: number;
}

/**
 * 3Dconnexion SpaceMouse, older protocol (vendor 0x046d): report 1 = translation x, y, z, report 2
 * = rotation rx, ry, rz (int16 LE each after the report id), report 3 = button bitmask; full
 * scale ≈ 350. Mapped to six action dimensions (a TCP twist); buttons: left = success,
 * right = end episode. (Newer models, vendor 0x256f, send all six axes in report 1: see
 * SPACEMOUSE_6AXIS.)
 */
export const SPACEMOUSE: HidMapping = {
  axes: [
    { report: 1, offset: 1, scale: 350 },
    { report: 1, offset: 3, scale: 350 },
    { report: 1, offset: 5, scale: 350 },
    { report: 2, offset: 1, scale: 350 },
    { report: 2, offset: 3, scale: 350 },
    { report: 2, offset: 5, scale: 350 },
  ],
  buttons: [
    { report: 3, offset: 1, bit: 0, action: 'success' },
    { report: 3, offset: 1, bit: 1, action: 'end-episode' },
  ],
};

/** Newer SpaceMouse models: all six axes in report 1 (offsets 1–11). */
export const SPACEMOUSE_6AXIS: HidMapping = {
  axes: [1, 3, 5, 7, 9, 11].map((offset) => ({ report: 1, offset, scale: 350 })),
  buttons: SPACEMOUSE.buttons,
};

/** The shape of a node-hid device that this reads (and what tests replay reports through). */
export interface HidSource {
  on(event: 'data', listener: (report: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): void;
}

export interface HidDeviceOptions {
  /**
   * Action dimensions: the first `dims` of the mapping's axes (default all). The tool frame
   * drives a TCP velocity with a SpaceMouse's 3 translation axes: the rotation axes then neither
   * engage nor reach the action — else a twist alone would record a "hold still" command.
   */
  readonly dims?: number;
}

/**
 * A gamepad or 3D mouse over HID as a teleop device. Reports are parsed as they arrive (the
 * latest value of every axis and button is kept); `poll` returns that state and never blocks.
 * Engaged while the mapping's `engage` button is held, or — without one — while any axis in
 * use is outside the deadzone (the person touching the puck). Malformed or unknown reports are
 * counted and ignored; a read error means the device is gone.
 */
export class HidDevice implements TeleopDevice {
  readonly name = 'hid';
  private readonly axes: Float32Array;
  private readonly held = new Set<string>();
  private readonly buttons = new ButtonPresses();
  private connected = true;
  private error: string | undefined;
  private readonly dims: number;
  readonly stats = { reports: 0, ignored: 0 };

  constructor(
    private readonly source: HidSource,
    private readonly mapping: HidMapping,
    options: HidDeviceOptions = {},
  ) {
    this.dims = options.dims ?? mapping.axes.length;
    if (!(Number.isInteger(this.dims) && this.dims >= 1 && this.dims <= mapping.axes.length)) throw new RangeError(`the HID mapping has ${mapping.axes.length} axes; ${options.dims} action dimensions asked`);
    this.axes = new Float32Array(mapping.axes.length);
    source.on('data', (report) => this.onReport(report));
    source.on('error', (err) => {
      this.connected = false;
      this.error = `hid: ${err.message}`;
    });
  }

  /** Parses one report (exposed for replaying recorded reports). */
  onReport(report: Buffer): void {
    this.stats.reports++;
    const id = report[0];
    let used = false;
    this.mapping.axes.forEach((a, i) => {
      if (a.report !== id || a.offset + 2 > report.length) return;
      used = true;
      const raw = report.readInt16LE(a.offset) / a.scale;
      const v = Math.max(-1, Math.min(1, a.invert ? -raw : raw));
      this.axes[i] = Math.abs(v) < (this.mapping.deadzone ?? 0.05) ? 0 : v;
    });
    for (const b of this.mapping.buttons) {
      if (b.report !== id || b.offset >= report.length) continue;
      used = true;
      const key = `${b.report}:${b.offset}:${b.bit}`;
      const down = ((report[b.offset] as number) >> b.bit) & 1;
      if (down && !this.held.has(key) && b.action !== 'engage') this.buttons.press(b.action);
      if (down) this.held.add(key);
      else this.held.delete(key);
    }
    if (!used) this.stats.ignored++;
  }

  poll(_: TeleopContext): TeleopReading {
    const button = this.buttons.take();
    if (!this.connected) return { ...IDLE, connected: false, error: this.error, button };
    const used = this.axes.slice(0, this.dims);
    const engageButtons = this.mapping.buttons.filter((b) => b.action === 'engage');
    const engaged = engageButtons.length ? engageButtons.some((b) => this.held.has(`${b.report}:${b.offset}:${b.bit}`)) : used.some((v) => v !== 0);
    return engaged ? { engaged: true, action: used, button, connected: true } : { ...IDLE, button };
  }

  async close(): Promise<void> {
    this.source.close();
  }
}

/**
 * Opens the first HID device with `vendorId` / `productId` through node-hid (optional: install it
 * with `npm install node-hid`), failing with what to do when it is not installed, no such device
 * is attached, or it cannot be opened (Linux: hidraw permissions need a udev rule).
 */
export async function openHid(vendorId: number, productId: number, mapping: HidMapping, options: HidDeviceOptions = {}): Promise<HidDevice> {
  let hid: { devices(): { vendorId: number; productId: number; path?: string }[]; HID: new (path: string) => HidSource };
  try {
    hid = (await import(/* optional */ 'node-hid' as string)) as typeof hid;
  } catch {
    throw new Error('HID teleop needs node-hid: npm install node-hid (prebuilt binaries ship in the package)');
  }
  const found = hid.devices().find((d) => d.vendorId === vendorId && d.productId === productId && d.path);
  const id = `${vendorId.toString(16).padStart(4, '0')}:${productId.toString(16).padStart(4, '0')}`;
  if (!found) throw new Error(`no HID device ${id} attached (check the cable; lsusb lists it as ${id})`);
  try {
    return new HidDevice(new hid.HID(found.path as string), mapping, options);
  } catch (err) {
    throw new Error(
      `cannot open HID device ${id} at ${found.path}: ${(err as Error).message}. On Linux, give your user access with a udev rule, e.g. /etc/udev/rules.d/99-roborl-hid.rules: KERNEL=="hidraw*", ATTRS{idVendor}=="${vendorId.toString(16).padStart(4, '0')}", ATTRS{idProduct}=="${productId.toString(16).padStart(4, '0')}", MODE="0660", GROUP="input" — then sudo udevadm control --reload-rules && sudo udevadm trigger, and replug`,
    );
  }
}
