import type { SimulatedRobot } from '../emulator/sim-robot.js';
import type { SerialLink } from './link.js';
import { encodeStatus, Instruction, OperatingMode, PacketDecoder, readS32, u32, XControlTable, type Packet } from './dynamixel/protocol.js';
import { radSToVelocityUnits, radToTicks, ticksToRad } from './dynamixel/units.js';
import { CommandMode, encodeFrame, FrameDecoder, type Message } from './framed/protocol.js';

/** Model number the emulated servos report (XM430-W350). */
export const EMULATED_MODEL = 1020;
const FIRMWARE = 45;
/** Error byte values (low bits). */
const ERR_INSTRUCTION = 2;
const ERR_DATA_RANGE = 4;

/**
 * A chain of emulated X-series Dynamixel servos on a serial link, one per joint of a
 * {@link SimulatedRobot} (IDs 1…n): each has a control table (model, firmware, operating mode,
 * torque enable, position limits, goal / present position, present velocity). Supports ping,
 * read, write, sync read, sync write and bulk read. A (sync) write of Goal Position with torque
 * on commands the arm; present position and velocity are read from the simulation.
 */
export class DynamixelEmulator {
  private readonly decoder = new PacketDecoder();
  private readonly tables: Uint8Array[];
  private readonly ids: number[];
  readonly stats = { instructions: 0, badFrames: 0, errors: 0 };

  constructor(
    private readonly link: SerialLink,
    private readonly robot: SimulatedRobot,
    firstId = 1,
  ) {
    this.ids = robot.jointNames.map((_, i) => firstId + i);
    this.tables = this.ids.map(() => {
      const t = new Uint8Array(256);
      t[0] = EMULATED_MODEL & 0xff;
      t[1] = EMULATED_MODEL >> 8;
      t[6] = FIRMWARE;
      t[XControlTable.OperatingMode.address] = OperatingMode.Position;
      t.set(u32(4095), XControlTable.MaxPositionLimit.address);
      t.set(u32(0), XControlTable.MinPositionLimit.address);
      t[XControlTable.TorqueEnable.address] = 1;
      return t;
    });
    link.onData = (chunk) => {
      for (const p of this.decoder.push(chunk)) this.handle(p);
      this.stats.badFrames = this.decoder.badFrames;
    };
  }

  private refresh(): void {
    const s = this.robot.state();
    this.tables.forEach((t, i) => {
      t.set(u32(radToTicks(s.position[i] as number)), XControlTable.PresentPosition.address);
      t.set(u32(radSToVelocityUnits(s.velocity[i] as number)), XControlTable.PresentVelocity.address);
    });
  }

  private handle(p: Packet): void {
    this.stats.instructions++;
    const k = this.ids.indexOf(p.id);
    const b = p.params;
    const addrLen = (): [number, number] => [(b[0] as number) | ((b[1] as number) << 8), (b[2] as number) | ((b[3] as number) << 8)];
    switch (p.instruction) {
      case Instruction.Ping:
        if (k >= 0) this.reply(p.id, 0, [EMULATED_MODEL & 0xff, EMULATED_MODEL >> 8, FIRMWARE]);
        return;
      case Instruction.Read: {
        if (k < 0) return;
        const [address, length] = addrLen();
        if (address + length > 256) return this.reply(p.id, ERR_DATA_RANGE);
        this.refresh();
        return this.reply(p.id, 0, (this.tables[k] as Uint8Array).subarray(address, address + length));
      }
      case Instruction.Write: {
        if (k < 0) return;
        const address = (b[0] as number) | ((b[1] as number) << 8);
        const data = b.subarray(2);
        if (address + data.length > 256) return this.reply(p.id, ERR_DATA_RANGE);
        (this.tables[k] as Uint8Array).set(data, address);
        this.reply(p.id, 0);
        if (address === XControlTable.GoalPosition.address) this.commandFromTables();
        return;
      }
      case Instruction.SyncWrite: {
        const [address, length] = addrLen();
        for (let o = 4; o + 1 + length <= b.length; o += 1 + length) {
          const j = this.ids.indexOf(b[o] as number);
          if (j >= 0 && address + length <= 256) (this.tables[j] as Uint8Array).set(b.subarray(o + 1, o + 1 + length), address);
        }
        if (address === XControlTable.GoalPosition.address) this.commandFromTables();
        return;
      }
      case Instruction.SyncRead: {
        const [address, length] = addrLen();
        this.refresh();
        for (const id of b.subarray(4)) {
          const j = this.ids.indexOf(id);
          if (j >= 0) this.reply(id, address + length > 256 ? ERR_DATA_RANGE : 0, address + length > 256 ? [] : (this.tables[j] as Uint8Array).subarray(address, address + length));
        }
        return;
      }
      case Instruction.BulkRead: {
        this.refresh();
        for (let o = 0; o + 5 <= b.length; o += 5) {
          const id = b[o] as number;
          const j = this.ids.indexOf(id);
          const address = (b[o + 1] as number) | ((b[o + 2] as number) << 8);
          const length = (b[o + 3] as number) | ((b[o + 4] as number) << 8);
          if (j >= 0) this.reply(id, 0, (this.tables[j] as Uint8Array).subarray(address, address + length));
        }
        return;
      }
      default:
        if (k >= 0) this.reply(p.id, ERR_INSTRUCTION);
    }
  }

  /** Goal positions of torque-enabled servos become the arm's targets (others hold). */
  private commandFromTables(): void {
    const s = this.robot.state();
    const targets = this.tables.map((t, i) => (t[XControlTable.TorqueEnable.address] ? ticksToRad(readS32(t, XControlTable.GoalPosition.address)) : (s.position[i] as number)));
    try {
      this.robot.command(targets);
    } catch {
      this.stats.errors++;
    }
  }

  private reply(id: number, error: number, params: ArrayLike<number> = []): void {
    if (error) this.stats.errors++;
    this.link.write(encodeStatus(id, error, params));
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
