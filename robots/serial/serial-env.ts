import { RobotEnv, requireGripper, type RobotEnvOptions } from '../robot-env.js';
import type { RobotTask } from '../task.js';
import { describeHardwareError, DynamixelBus, DynamixelStatusError, type BusOptions } from './dynamixel/bus.js';
import { OperatingMode, readS32, u32, XControlTable } from './dynamixel/protocol.js';
import { radToTicks, ticksToRad, velocityUnitsToRadS } from './dynamixel/units.js';
import { CommandMode, encodeFrame, FrameDecoder } from './framed/protocol.js';
import { SerialLink, type SerialLinkOptions } from './link.js';

/** A Dynamixel gripper servo: its ID and its Goal Position ticks at closed (0) and fully open fingers. */
export interface DynamixelGripperConfig {
  readonly id: number;
  readonly closed: number;
  readonly open: number;
}

const POSITION_MODES: number[] = [OperatingMode.Position, OperatingMode.ExtendedPosition, OperatingMode.CurrentBasedPosition];

/**
 * A robot arm made of Dynamixel X-series servos (Protocol 2.0), one per task joint, IDs in
 * joint order. Connecting pings every servo (a missing one is named), checks it is in a
 * position mode and enables torque. A step sync-writes Goal Position and sync-reads Present
 * Velocity + Present Position (8 contiguous bytes from address 128) for the fresh state.
 * Timeouts and retries are the bus's; a read that fails after its retries leaves the step
 * without a fresh state, so the episode ends with a safe stop (RobotEnv).
 */
export class DynamixelRobotEnv extends RobotEnv {
  protected override readonly polled = true;
  private seq = 0;
  private constructor(
    task: RobotTask,
    private readonly link: SerialLink,
    readonly bus: DynamixelBus,
    readonly ids: readonly number[],
    options: RobotEnvOptions,
    private readonly gripper?: DynamixelGripperConfig,
  ) {
    super(task, options);
    link.onDown = (reason) => this.options.log?.(`${task.spec.id}: ${reason}; servos hold their last goal`);
    link.onUp = () => this.linkUp();
  }

  override get connected(): boolean {
    return this.link.isOpen;
  }

  static async connect(task: RobotTask, link: SerialLinkOptions & { ids?: readonly number[]; gripper?: DynamixelGripperConfig } & BusOptions, options: RobotEnvOptions = {}): Promise<DynamixelRobotEnv> {
    const ids = link.ids ?? task.jointNames.map((_, i) => i + 1);
    if (ids.length !== task.jointNames.length) throw new Error(`Dynamixel robot: ${ids.length} servo IDs for ${task.jointNames.length} joints (${task.jointNames.join(', ')})`);
    requireGripper(task, link.gripper !== undefined, 'add `gripper: { id }` (the gripper servo\'s ID; `closed` / `open`: its Goal Position ticks at closed and fully open fingers) to the Dynamixel robot');
    const gripper = task.gripper ? link.gripper : undefined;
    if (gripper && ids.includes(gripper.id)) throw new Error(`Dynamixel robot: gripper servo ID ${gripper.id} is also an arm joint's (${ids.join(', ')})`);
    const servos = gripper ? [...ids, gripper.id] : ids;
    const servoName = (id: number): string => (gripper && id === gripper.id ? 'the gripper' : (task.jointNames[ids.indexOf(id)] as string));
    const serial = await SerialLink.open({ ...link, log: link.log ?? options.log });
    const bus = new DynamixelBus(serial, { baudRate: link.baudRate, ...link });
    try {
      for (const id of servos) {
        await bus.ping(id).catch((err: Error) => {
          throw new Error(`Dynamixel robot on ${link.path}: servo ID ${id} (${servoName(id)}) does not answer: ${err.message}`);
        });
        const hw = await bus.hardwareErrorStatus(id);
        if (hw) throw new Error(`Dynamixel robot: servo ID ${id} (${servoName(id)}) reports a hardware error (${describeHardwareError(hw).join(', ') || `0x${hw.toString(16)}`}); fix the cause, then reboot it (DynamixelRobotEnv.recover or the Dynamixel Wizard)`);
        // Drive Mode and Operating Mode together (2 bytes): a shape no other answer here has, so
        // a late 1-byte Hardware Error Status of 0 cannot pass for Operating Mode 0 (seen on a
        // loaded machine with a 20 ms timeout).
        const mode = (await bus.read(id, XControlTable.DriveMode.address, 2))[1] as number;
        if (!POSITION_MODES.includes(mode)) throw new Error(`Dynamixel robot: servo ID ${id} is in operating mode ${mode}; set a position mode (3, 4 or 5) with torque off first`);
        await bus.write(id, XControlTable.TorqueEnable.address, [1]);
      }
    } catch (err) {
      await serial.close();
      throw err;
    }
    return new DynamixelRobotEnv(task, serial, bus, ids, options, gripper);
  }

  /**
   * The gripper servo's Goal Position for each finger's position target (linear between the
   * closed and open ticks over the task's finger travel), one sync write of its own every step.
   */
  protected override sendGripper(opening: number): boolean {
    const g = this.gripper;
    const travel = this.task.gripper?.travel;
    if (!g || !travel) return false;
    const f = Math.min(1, Math.max(0, opening / travel));
    return this.bus.syncWrite(XControlTable.GoalPosition.address, 4, [{ id: g.id, data: u32(Math.round(g.closed + f * (g.open - g.closed))) }]);
  }

  /** Goal positions for every servo in one sync write (no status packets come back). */
  protected sendTargets(targets: Float64Array): boolean {
    return this.bus.syncWrite(XControlTable.GoalPosition.address, 4, this.ids.map((id, i) => ({ id, data: u32(radToTicks(targets[i] as number)) })));
  }

  protected override requestState(): void {
    if (this.link.isOpen) this.poll();
  }

  /** Reads present velocity and position of every servo; a valid read becomes the fresh state. */
  private poll(): void {
    const seq = ++this.seq;
    this.bus.syncRead(XControlTable.PresentVelocity.address, 8, this.ids).then(
      (replies) => {
        if (seq !== this.seq) return; // a newer command's read is on its way
        const q = new Float64Array(this.ids.length);
        const qd = new Float64Array(this.ids.length);
        for (let i = 0; i < this.ids.length; i++) {
          const b = replies.get(this.ids[i] as number);
          if (!b || b.length !== 8) return this.drop(`servo ID ${this.ids[i]} returned ${b?.length ?? 0} bytes, expected 8`);
          qd[i] = velocityUnitsToRadS(readS32(b, 0));
          q[i] = ticksToRad(readS32(b, 4));
        }
        const now = performance.now();
        this.receive({ q, qd, stampMs: Date.now(), receivedAt: now, measuredAt: now });
      },
      (err: Error) => {
        // Logged once by drop() (then rate-limited); a step or reset that finds no state names it.
        if (err instanceof DynamixelStatusError && err.status.hardwareAlert) this.hardwareFault = err.message;
        this.drop(err.message);
        // Someone still waits for a state (until their own deadline): ask again, shortly.
        if (seq === this.seq && this.awaitingState) setTimeout(() => this.awaitingState && this.requestState(), 5);
      },
    );
  }

  /** The last hardware alert a servo reported (null: none since connect or the last recover()). */
  hardwareFault: string | null = null;

  /**
   * Explicit recovery after a hardware alert (never automatic: the cause — overload, overheating,
   * voltage — must be dealt with first): reboots every servo that reports a hardware error,
   * waits for it to answer again, and enables its torque. Returns the IDs rebooted.
   */
  async recover(bootMs = 100): Promise<number[]> {
    const rebooted: number[] = [];
    for (const id of this.ids) {
      if (!(await this.bus.hardwareErrorStatus(id))) continue;
      await this.bus.reboot(id);
      await new Promise((r) => setTimeout(r, bootMs));
      await this.bus.ping(id);
      await this.bus.write(id, XControlTable.TorqueEnable.address, [1]);
      rebooted.push(id);
    }
    this.hardwareFault = null;
    return rebooted;
  }

  protected resetService(): null {
    return null;
  }

  protected async closeTransport(): Promise<void> {
    await this.link.close();
  }
}

/**
 * A microcontroller robot speaking the compact framed protocol (docs/serial-protocol.md):
 * COMMAND frames in position mode, STATE frames back, RESET to go home. Corrupt frames are
 * counted by the decoder and dropped.
 */
export class FramedRobotEnv extends RobotEnv {
  private readonly decoder = new FrameDecoder();
  private seq = 0;

  private constructor(
    task: RobotTask,
    private readonly link: SerialLink,
    options: RobotEnvOptions,
  ) {
    super(task, options);
    link.onData = (chunk) => {
      const before = this.decoder.badFrames;
      for (const m of this.decoder.push(chunk)) {
        if (m.type === 'state') {
          if (m.q.length !== task.jointNames.length) this.drop(`STATE with ${m.q.length} joints, expected ${task.jointNames.length}`);
          else {
            const now = performance.now();
            this.receive({ q: Float64Array.from(m.q), qd: Float64Array.from(m.qd), stampMs: Date.now(), receivedAt: now, measuredAt: now });
          }
        } else if (m.type === 'error') this.options.log?.(`${task.spec.id}: robot error ${m.code}: ${m.message}`);
      }
      for (let i = before; i < this.decoder.badFrames; i++) this.drop('corrupt frame');
    };
    link.onDown = (reason) => this.options.log?.(`${task.spec.id}: ${reason}`);
    link.onUp = () => this.linkUp();
  }

  override get connected(): boolean {
    return this.link.isOpen;
  }

  get badFrames(): number {
    return this.decoder.badFrames;
  }

  static async connect(task: RobotTask, link: SerialLinkOptions, options: RobotEnvOptions = {}): Promise<FramedRobotEnv> {
    requireGripper(task, false, 'the framed protocol (v1) has no gripper command; use a Dynamixel robot with `gripper: { id }`, or a ROS robot');
    return new FramedRobotEnv(task, await SerialLink.open({ ...link, log: link.log ?? options.log }), options);
  }

  protected sendTargets(targets: Float64Array): boolean {
    return this.link.write(encodeFrame({ type: 'command', seq: this.seq++ & 0xffff, mode: CommandMode.Position, values: Float32Array.from(targets) }));
  }

  protected resetService(): Promise<void> | null {
    if (!this.link.write(encodeFrame({ type: 'reset', seq: this.seq++ & 0xffff }))) return Promise.reject(new Error(`${this.spec.id}: serial link down, cannot reset`));
    return Promise.resolve();
  }

  protected async closeTransport(): Promise<void> {
    await this.link.close();
  }
}
