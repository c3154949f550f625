import { SIM_FINGER_TRAVEL, type SimulatedRobot } from '../emulator/sim-robot.js';
import type { SerialLink } from './link.js';
import { BROADCAST_ID, EEPROM_END, encodeStatus, Instruction, OperatingMode, PacketDecoder, readS32, u16, u32, XControlTable, type ControlItem, type Packet } from './dynamixel/protocol.js';
import { radSToVelocityUnits, radToTicks, ticksToRad } from './dynamixel/units.js';
import { CommandMode, encodeFrame, FrameDecoder, type Message } from './framed/protocol.js';

/** A gripper servo: its ID and the Goal Position ticks at closed (0) and fully open fingers. */
export interface DynamixelGripper {
  readonly id: number;
  readonly closed: number;
  readonly open: number;
}

/** Model number the emulated servos report (XM430-W350). */
export const EMULATED_MODEL = 1020;
const FIRMWARE = 45;
/** Protocol 2.0 error numbers (status ERR byte, low 7 bits) and the alert bit. */
export const DxlError = { ResultFail: 1, Instruction: 2, Crc: 3, DataRange: 4, DataLength: 5, DataLimit: 6, Access: 7, Alert: 0x80 } as const;
/** The X-series table runs to the indirect data at 661; reads past it are refused. */
const TABLE_BYTES = 662;
const ITEMS: readonly ControlItem[] = Object.values(XControlTable);

/**
 * A chain of emulated X-series Dynamixel servos on a serial link, one per joint of a
 * {@link SimulatedRobot} (IDs 1…n). It answers as the firmware does (ROBOTIS e-Manual,
 * Protocol 2.0) and refuses what the firmware refuses, with Protocol 2.0's error numbers:
 * writes to read-only items (Access), EEPROM writes with torque on (Access), a write that
 * covers part of an item (Data Length), values outside an item's range such as Torque Enable =
 * 2 (Data Range), a goal outside the position limits in position mode (Data Limit), unknown
 * instructions (Instruction). It supports ping (also broadcast), read, write, reboot, sync
 * read / write and bulk read / write. A goal written with torque on commands the arm; present
 * position and velocity are read from the simulation. Test hooks delay a servo's answers and
 * raise a hardware error (alert bit on every answer, torque off, until rebooted).
 */
export class DynamixelEmulator {
  private readonly decoder = new PacketDecoder();
  private readonly tables: Uint8Array[];
  private readonly ids: number[];
  private readonly delays = new Map<number, number>();
  /** `refused`: writes the firmware refused inside sync / bulk writes (which send no status), with the last one's reason. */
  readonly stats = { instructions: 0, badFrames: 0, errors: 0, refused: 0, lastRefusal: '' };
  /** How many of the servos are the arm's (the gripper's, if any, comes after them). */
  private readonly arm: number;

  constructor(
    private readonly link: SerialLink,
    private readonly robot: SimulatedRobot,
    firstId = 1,
    /**
     * A gripper servo after the arm's (the simulated hand's fingers: `robot` served with its
     * gripper): its ID and the Goal Position ticks at closed and fully open fingers. Its position
     * limits are those ticks, so a goal outside them is refused (Data Limit) and nothing moves.
     */
    private readonly gripper?: DynamixelGripper,
  ) {
    this.ids = robot.jointNames.map((_, i) => firstId + i);
    this.arm = this.ids.length;
    const limits = robot.jointLimits;
    const table = (id: number, lower: number, upper: number): Uint8Array => {
      const t = new Uint8Array(TABLE_BYTES);
      t.set(u16(EMULATED_MODEL), XControlTable.ModelNumber.address);
      t[XControlTable.FirmwareVersion.address] = FIRMWARE;
      t[XControlTable.Id.address] = id;
      t[XControlTable.OperatingMode.address] = OperatingMode.Position;
      t.set(u32(upper), XControlTable.MaxPositionLimit.address);
      t.set(u32(lower), XControlTable.MinPositionLimit.address);
      t[XControlTable.StatusReturnLevel.address] = 2;
      return t;
    };
    // Position limits set to the joint's (as one configures a servo for an arm).
    this.tables = this.ids.map((id, i) => table(id, radToTicks(limits.lower[i] as number), radToTicks(limits.upper[i] as number)));
    if (gripper) {
      if (this.ids.includes(gripper.id)) throw new RangeError(`gripper servo ID ${gripper.id} is one of the arm's (${this.ids.join(', ')})`);
      this.ids.push(gripper.id);
      this.tables.push(table(gripper.id, Math.min(gripper.closed, gripper.open), Math.max(gripper.closed, gripper.open)));
    }
    link.onData = (chunk) => {
      for (const p of this.decoder.push(chunk)) this.handle(p);
      this.stats.badFrames = this.decoder.badFrames;
    };
  }

  /** Test hook: servo `id` answers `ms` late (0: at once). */
  setReplyDelay(id: number, ms: number): void {
    this.delays.set(id, ms);
  }

  /** Test hook: servo `id` detects a hardware error (Hardware Error Status bits): torque off, alert on every answer until a reboot. */
  raiseHardwareError(id: number, bits: number): void {
    const t = this.table(id);
    if (!t) throw new RangeError(`no emulated servo with ID ${id}`);
    t[XControlTable.HardwareErrorStatus.address] = bits;
    t[XControlTable.TorqueEnable.address] = 0;
  }

  private table(id: number): Uint8Array | undefined {
    const k = this.ids.indexOf(id);
    return k < 0 ? undefined : this.tables[k];
  }

  private refresh(): void {
    const s = this.robot.state();
    // Realtime Tick: the servo's millisecond clock (0–32767, wrapping), on this process's clock.
    const tick = u16(Math.floor(performance.now()) % 32768);
    this.tables.forEach((t, i) => {
      t.set(tick, XControlTable.RealtimeTick.address);
      if (i >= this.arm) {
        const g = this.gripper as DynamixelGripper;
        t.set(u32(Math.round(g.closed + ((s.fingers?.position[0] ?? 0) / SIM_FINGER_TRAVEL) * (g.open - g.closed))), XControlTable.PresentPosition.address);
        return;
      }
      t.set(u32(radToTicks(s.position[i] as number)), XControlTable.PresentPosition.address);
      t.set(u32(radSToVelocityUnits(s.velocity[i] as number)), XControlTable.PresentVelocity.address);
    });
  }

  private handle(p: Packet): void {
    this.stats.instructions++;
    const t = this.table(p.id);
    const b = p.params;
    const u16At = (o: number): number => (b[o] as number) | ((b[o + 1] as number) << 8);
    switch (p.instruction) {
      case Instruction.Ping:
        if (p.id === BROADCAST_ID) this.ids.forEach((id, k) => this.reply(id, 0, [...u16(EMULATED_MODEL), FIRMWARE], k * 0.3));
        else if (t) this.reply(p.id, 0, [...u16(EMULATED_MODEL), FIRMWARE]);
        return;
      case Instruction.Read: {
        if (!t) return;
        if (b.length !== 4) return this.reply(p.id, DxlError.DataLength);
        const [address, length] = [u16At(0), u16At(2)];
        // A refused read still carries the read's length (zeros), as ROBOTIS' Dynamixel2Arduino
        // slave answers: the status has the shape of the instruction it answers.
        if (address + length > TABLE_BYTES) return this.reply(p.id, DxlError.DataRange, new Uint8Array(length));
        this.refresh();
        return this.reply(p.id, 0, t.subarray(address, address + length));
      }
      case Instruction.Write: {
        if (!t) return;
        if (b.length < 3) return this.reply(p.id, DxlError.DataLength);
        const error = this.write(p.id, u16At(0), b.subarray(2));
        return this.reply(p.id, error);
      }
      case Instruction.Reboot:
        if (!t) return;
        this.reply(p.id, 0);
        t[XControlTable.HardwareErrorStatus.address] = 0;
        t[XControlTable.TorqueEnable.address] = 0;
        return;
      case Instruction.SyncWrite: {
        const [address, length] = [u16At(0), u16At(2)];
        for (let o = 4; o + 1 + length <= b.length; o += 1 + length) this.refusedIn(b[o] as number, this.write(b[o] as number, address, b.subarray(o + 1, o + 1 + length), false));
        return this.commandFromTables();
      }
      case Instruction.BulkWrite: {
        for (let o = 0; o + 5 <= b.length; ) {
          const length = u16At(o + 3);
          this.refusedIn(b[o] as number, this.write(b[o] as number, u16At(o + 1), b.subarray(o + 5, o + 5 + length), false));
          o += 5 + length;
        }
        return this.commandFromTables();
      }
      case Instruction.SyncRead: {
        const [address, length] = [u16At(0), u16At(2)];
        this.refresh();
        for (const id of b.subarray(4)) this.answerRead(id, address, length);
        return;
      }
      case Instruction.BulkRead: {
        this.refresh();
        for (let o = 0; o + 5 <= b.length; o += 5) this.answerRead(b[o] as number, u16At(o + 1), u16At(o + 3));
        return;
      }
      default:
        if (t) this.reply(p.id, DxlError.Instruction);
    }
  }

  private answerRead(id: number, address: number, length: number): void {
    const t = this.table(id);
    if (!t) return;
    if (address + length > TABLE_BYTES) this.reply(id, DxlError.DataRange, new Uint8Array(length));
    else this.reply(id, 0, t.subarray(address, address + length));
  }

  /**
   * Applies a write to servo `id` as the firmware does, all or nothing; returns the error
   * number (0: written). Checks in the firmware's order: access, length, range, limit.
   */
  private write(id: number, address: number, data: Uint8Array, command = true): number {
    const t = this.table(id);
    if (!t) return 0;
    const end = address + data.length;
    if (end > TABLE_BYTES) return DxlError.DataRange;
    const torqueOn = t[XControlTable.TorqueEnable.address] === 1;
    const touched = ITEMS.filter((item) => item.address < end && item.address + item.size > address);
    for (const item of touched) {
      if (item.access === 'R') return DxlError.Access;
      if (item.address < EEPROM_END && torqueOn) return DxlError.Access;
    }
    for (const item of touched) if (item.address < address || item.address + item.size > end) return DxlError.DataLength;
    for (const item of touched) {
      const o = item.address - address;
      const v = item.size === 1 ? (data[o] as number) : item.size === 2 ? (((data[o] as number) | ((data[o + 1] as number) << 8)) << 16) >> 16 : readS32(data, o);
      if (item.values && !item.values.includes(v)) return DxlError.DataRange;
      if (item.range && (v < item.range[0] || v > item.range[1])) return DxlError.DataRange;
      if (item.address === XControlTable.GoalPosition.address && this.positionLimited(t) && (v < readS32(t, XControlTable.MinPositionLimit.address) || v > readS32(t, XControlTable.MaxPositionLimit.address))) return DxlError.DataLimit;
    }
    if (t[XControlTable.HardwareErrorStatus.address] && touched.some((i) => i.address === XControlTable.TorqueEnable.address) && data[XControlTable.TorqueEnable.address - address] === 1) return DxlError.ResultFail;
    t.set(data, address);
    if (command && touched.some((i) => i.address === XControlTable.GoalPosition.address || i.address === XControlTable.TorqueEnable.address)) this.commandFromTables();
    return 0;
  }

  /** Position mode (not extended / current-based multi-turn) clamps goals to the limits. */
  private positionLimited(t: Uint8Array): boolean {
    return t[XControlTable.OperatingMode.address] === OperatingMode.Position;
  }

  /** A write refused inside a sync / bulk write: no status goes back (as on the bus), so it is counted and named here. */
  private refusedIn(id: number, error: number): void {
    if (!error) return;
    this.stats.refused++;
    const name = Object.entries(DxlError).find(([, v]) => v === error)?.[0] ?? String(error);
    this.stats.lastRefusal = `servo ID ${id}${id === this.gripper?.id ? ' (gripper)' : ''}: ${name} error`;
  }

  /** The gripper servo's goal (torque on) becomes the fingers' opening; the last one taken holds otherwise. */
  private commandGripper(): void {
    const g = this.gripper;
    const t = this.tables[this.arm];
    if (!g || !t || !t[XControlTable.TorqueEnable.address]) return;
    const goal = readS32(t, XControlTable.GoalPosition.address);
    // Before the first goal (torque enabled with Goal Position still 0) nothing moves.
    if (goal < Math.min(g.closed, g.open) || goal > Math.max(g.closed, g.open)) return;
    const opening = ((goal - g.closed) / (g.open - g.closed)) * SIM_FINGER_TRAVEL;
    try {
      // The ticks' rounding may step a hair past the travel at either end.
      this.robot.commandGripper(Math.min(SIM_FINGER_TRAVEL, Math.max(0, opening)));
    } catch {
      this.stats.errors++;
    }
  }

  /** Goal positions of torque-enabled servos become the arm's targets (others hold), and the gripper's its opening. */
  private commandFromTables(): void {
    this.commandGripper();
    const s = this.robot.state();
    const targets = this.tables.slice(0, this.arm).map((t, i) => (t[XControlTable.TorqueEnable.address] ? ticksToRad(readS32(t, XControlTable.GoalPosition.address)) : (s.position[i] as number)));
    try {
      this.robot.command(targets);
    } catch {
      this.stats.errors++;
    }
  }

  private reply(id: number, error: number, params: ArrayLike<number> = [], extraDelayMs = 0): void {
    const t = this.table(id);
    const alert = t && t[XControlTable.HardwareErrorStatus.address] ? DxlError.Alert : 0;
    if (error) this.stats.errors++;
    const packet = encodeStatus(id, error | alert, params);
    const delay = (this.delays.get(id) ?? 0) + extraDelayMs;
    if (delay > 0) setTimeout(() => this.link.write(packet), delay);
    else this.link.write(packet);
  }
}

/**
 * The compact framed protocol (docs/serial-protocol.md) in front of a {@link SimulatedRobot}:
 * COMMAND (position mode) sets targets, RESET resets the arm, ESTOP latches a hold until RESET;
 * STATE goes out after every control tick. Other command modes get an ERROR frame.
 */
export class FramedEmulator {
  private readonly decoder = new FrameDecoder();
  private seq = 0;
  private estopped = false;
  readonly stats = { messages: 0, badFrames: 0 };
  private readonly unsubscribe: () => void;

  constructor(
    private readonly link: SerialLink,
    private readonly robot: SimulatedRobot,
  ) {
    link.onData = (chunk) => {
      for (const m of this.decoder.push(chunk)) void this.handle(m);
      this.stats.badFrames = this.decoder.badFrames;
    };
    this.unsubscribe = robot.onState((s) => {
      this.send({ type: 'state', seq: 0, timestampUs: Math.round(performance.now() * 1000) >>> 0, q: Float32Array.from(s.position), qd: Float32Array.from(s.velocity) });
    });
  }

  private async handle(m: Message): Promise<void> {
    this.stats.messages++;
    if (m.type === 'command') {
      if (m.mode !== CommandMode.Position) return this.send({ type: 'error', seq: 0, code: 1, message: `command mode ${m.mode} not supported: position only` });
      if (this.estopped) return;
      try {
        this.robot.command(m.values);
      } catch (err) {
        this.send({ type: 'error', seq: 0, code: 2, message: (err as Error).message.slice(0, 64) });
      }
    } else if (m.type === 'reset') {
      this.estopped = false;
      await this.robot.reset();
    } else if (m.type === 'estop') {
      this.estopped = true;
      this.robot.command(this.robot.state().position);
    }
  }

  private send(m: Message): void {
    this.link.write(encodeFrame({ ...m, seq: this.seq++ & 0xffff } as Message));
  }

  close(): void {
    this.unsubscribe();
  }
}
