import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { TimeLimit } from '../../control/wrappers/time-limit.js';
import { countSuccesses } from '../../test/episodes.js';
import { cleanup, ptyPair, servedArm, until } from '../../test/robot-fixtures.js';
import { pandaReachExpert } from '../../tasks/panda-reach.js';
import { robotTask } from '../task.js';
import { defaultTimeoutMs, DynamixelBus, DynamixelStatusError, DynamixelTimeoutError } from './dynamixel/bus.js';
import { encodeStatus, u32, XControlTable } from './dynamixel/protocol.js';
import { radToTicks } from './dynamixel/units.js';
import { DynamixelEmulator, EMULATED_MODEL } from './emulators.js';
import { SerialLink } from './link.js';
import { DynamixelRobotEnv, FramedRobotEnv } from './serial-env.js';

beforeAll(() => {
  if (spawnSync('socat', ['-V']).status !== 0) throw new Error('these tests need socat (apt-get install socat); .ci/run installs it');
});

describe('Dynamixel 2.0 driver ↔ emulated servos over a socat pty', () => {
  it('ping, read, write, sync read/write and bulk read; status errors are named; a missing ID times out after its retries', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { robot } = await servedArm('dynamixel', robotPath);
    const link = await SerialLink.open({ path: host });
    cleanup.push(() => link.close());
    // Room for a loaded machine's scheduling: the emulator runs in this process, socat beside it.
    const bus = new DynamixelBus(link, { timeoutMs: 100, retries: 2 });
    expect(await bus.ping(3)).toEqual({ model: EMULATED_MODEL, firmware: 45 });
    expect(Array.from(await bus.read(1, XControlTable.OperatingMode.address, 1))).toEqual([3]);
    // Goal positions for all seven servos in one sync write; the arm moves toward them.
    const q0 = robot.state().position;
    const goal = Array.from(q0, (q, i) => q + (i === 0 ? 0.05 : 0));
    expect(bus.syncWrite(XControlTable.GoalPosition.address, 4, goal.map((q, i) => ({ id: i + 1, data: new Uint8Array(new Int32Array([Math.round(2048 + (q * 4096) / (2 * Math.PI))]).buffer) })))).toBe(true);
    expect(await until(() => robot.counters.commands === 1)).toBe(true);
    const read = await bus.syncRead(XControlTable.PresentPosition.address, 4, [1, 2, 3, 4, 5, 6, 7]);
    expect([...read.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const bulk = await bus.bulkRead([
      { id: 1, address: XControlTable.PresentPosition.address, length: 4 },
      { id: 2, address: XControlTable.ModelNumber.address, length: 2 },
    ]);
    expect(Array.from(bulk.get(1)!)).toEqual(Array.from(read.get(1)!));
    expect(Array.from(bulk.get(2)!)).toEqual([EMULATED_MODEL & 0xff, EMULATED_MODEL >> 8]);
    await bus.write(2, XControlTable.TorqueEnable.address, [1]);
    // Reading past the end of the control table: the servo answers with its data-range error bit.
    const err = await bus.read(1, 660, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamixelStatusError);
    expect((err as DynamixelStatusError).status.code).toBe('data-range');
    // An ID that is not on the bus: three attempts (timeout + 2 retries, each retry after a
    // guard wait for stragglers), then a named timeout.
    // (Counted from here: on a loaded machine an earlier transaction may have needed a retry too.)
    const { retries, timeouts } = bus.stats;
    const t0 = performance.now();
    await expect(bus.ping(42)).rejects.toBeInstanceOf(DynamixelTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(295);
    expect(bus.stats.retries - retries).toBe(2);
    expect(bus.stats.timeouts - timeouts).toBe(1);
  });

  it('1 MB of random bytes into the emulator: bad frames are counted, nothing crashes, and the bus still works', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { emulator } = await servedArm('dynamixel', robotPath);
    const link = await SerialLink.open({ path: host });
    cleanup.push(() => link.close());
    const rng = new Rng(7);
    const junk = new Uint8Array(1 << 20);
    for (let i = 0; i < junk.length; i++) junk[i] = rng.int(256);
    // Sprinkle headers in, so the decoder sees many candidate frames with bad lengths and CRCs.
    for (let i = 0; i < junk.length - 8; i += 997) junk.set([0xff, 0xff, 0xfd, 0x00, 1, rng.int(40), 0], i);
    for (let o = 0; o < junk.length; o += 65536) link.write(junk.subarray(o, o + 65536));
    const bus = new DynamixelBus(link, { timeoutMs: 200, retries: 5 });
    await new Promise((r) => setTimeout(r, 500));
    expect(await bus.ping(1)).toEqual({ model: EMULATED_MODEL, firmware: 45 });
    expect((emulator as DynamixelEmulator).stats.badFrames).toBeGreaterThan(100);
  }, 30_000);
});

describe('Dynamixel replies matched to their requests (a servo that answers late)', () => {
  it('a late answer never stands in for the next instruction: no wrong data, no false success, the silent servo named', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { emulator } = await servedArm('dynamixel', robotPath);
    const dxl = emulator as DynamixelEmulator;
    const link = await SerialLink.open({ path: host });
    cleanup.push(() => link.close());
    const bus = new DynamixelBus(link, { timeoutMs: 15, retries: 1 });
    dxl.setReplyDelay(3, 40);
    // The model-number read times out (unless this machine stalls past the servo's delay); its
    // answer arrives while the next read is waiting.
    const model = await bus.read(3, XControlTable.ModelNumber.address, 2).then(
      (b) => b,
      (e: unknown) => e,
    );
    if (model instanceof Uint8Array) expect(Array.from(model)).toEqual([EMULATED_MODEL & 0xff, EMULATED_MODEL >> 8]);
    else expect(String(model)).toMatch(/no status from ID 3/);
    const position = await bus.read(3, XControlTable.PresentPosition.address, 4).then(
      (b) => b,
      (e: unknown) => e,
    );
    // Either the servo's real answer (4 bytes) or a timeout — never the 2-byte model number.
    if (position instanceof Uint8Array) expect(position.length).toBe(4);
    else expect(position).toBeInstanceOf(DynamixelTimeoutError);
    // A write the servo refuses is reported as refused, even right after late answers.
    await expect(bus.write(3, XControlTable.TorqueEnable.address, [2])).rejects.toThrow(/ID 3: data-range|no status from ID 3/);
    dxl.setReplyDelay(3, 0);
    await new Promise((r) => setTimeout(r, 60));
    // The late answers did arrive, and were refused, ignored or flushed — never taken.
    expect(bus.stats.unexpected + bus.stats.flushedBytes).toBeGreaterThan(0);
    // Once the servo answers in time again (on a bus with room for a loaded machine's
    // scheduling, which now owns the link), a refusal is reported as such.
    const patient = new DynamixelBus(link, { timeoutMs: 250, retries: 0 });
    await expect(patient.write(3, XControlTable.TorqueEnable.address, [2])).rejects.toThrow(/ID 3: data-range/);
    // A sync read with one silent servo names that servo, not the chain (servo 5 is a second
    // late, the others answer at once).
    dxl.setReplyDelay(5, 1000);
    const err = (await patient.syncRead(XControlTable.PresentPosition.address, 4, [1, 2, 3, 4, 5, 6, 7]).catch((e: unknown) => e)) as DynamixelTimeoutError;
    expect(err).toBeInstanceOf(DynamixelTimeoutError);
    expect(err.ids).toEqual([5]);
    expect(err.message).toMatch(/no status from ID 5 \(of 1, 2, 3, 4, 5, 6, 7\)/);
  }, 30_000);

  it('a servo answering after the timeout: its late statuses never answer a later read, write or sync read (issue 19)', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { emulator } = await servedArm('dynamixel', robotPath);
    const dxl = emulator as DynamixelEmulator;
    const link = await SerialLink.open({ path: host });
    cleanup.push(() => link.close());
    // Issue 19 saw it with 28 ms against 20 ms. Here 430 ms against 400 ms: the bus waits
    // for one timeout of quiet, so a loaded machine (the emulator runs in this process, socat
    // beside it) may stretch the delay by up to 370 ms and the check still holds. No retries:
    // the straggler of the last (only) attempt is the one nothing drained.
    const bus = new DynamixelBus(link, { timeoutMs: 400, retries: 0 });
    dxl.setReplyDelay(3, 430);
    const outcome = <T>(p: Promise<T>): Promise<T | unknown> => p.then((v) => v, (e: unknown) => e);
    const code = (r: unknown): string => (r instanceof DynamixelStatusError ? r.status.code : r instanceof DynamixelTimeoutError ? 'timeout' : 'answered');
    // A write the servo refuses (Torque Enable = 2), answered after the bus gave up, then a valid
    // read and a valid write: each times out, or (a stalled machine) gets its own answer; never
    // the refusal's data-range, which used to arrive during them and be taken.
    for (const next of [(): Promise<unknown> => bus.read(3, XControlTable.PresentPosition.address, 4), (): Promise<unknown> => bus.write(3, XControlTable.Led.address, [1])]) {
      await outcome(bus.write(3, XControlTable.TorqueEnable.address, [2]));
      const r = await outcome(next());
      expect(code(r)).not.toBe('data-range');
      if (r instanceof Uint8Array) expect(r.length).toBe(4);
    }
    // Sync reads of Realtime Tick (the servo's ms clock, this process's clock in the emulator):
    // whatever servo 3 returns must have been measured after the sync read began. Its late
    // answer to the previous sync read used to complete the next one ("succeeding" in ~8 ms).
    const ids = [1, 2, 3, 4, 5, 6, 7];
    for (let k = 0; k < 3; k++) {
      const t0 = Math.floor(performance.now()) % 32768;
      const r = await outcome(bus.syncRead(XControlTable.RealtimeTick.address, 2, ids));
      if (r instanceof Map) {
        const b = r.get(3) as Uint8Array;
        const tick = (b[0] as number) | ((b[1] as number) << 8);
        expect((tick - t0 + 32768) % 32768, `sync read ${k}: servo 3's tick ${tick} predates the read (${t0})`).toBeLessThan(16384);
      } else expect(r).toBeInstanceOf(DynamixelTimeoutError);
    }
    expect(bus.stats.unexpected + bus.stats.flushedBytes).toBeGreaterThan(0);
  }, 30_000);

  it('an error status of the wrong length is not an answer; the timeout says what the servo sent', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { link: robotLink } = await servedArm('dynamixel', robotPath);
    const link = await SerialLink.open({ path: host });
    cleanup.push(() => link.close());
    const bus = new DynamixelBus(link, { timeoutMs: 500, retries: 0 });
    // A peer on the line answers servo 4's 4-byte read with a bare data-range status (no data):
    // the shape of a refused write's answer, so not this read's.
    robotLink.onData = () => void robotLink.write(encodeStatus(4, 4));
    const err = await bus.read(4, XControlTable.PresentPosition.address, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamixelTimeoutError);
    expect(String(err)).toMatch(/ID 4 sent a status with 0 parameter byte\(s\) and error data-range where its answer has 4/);
  });

  it('the default timeout follows the baud rate and the USB adapter latency timer', () => {
    // Ping at 1 Mbaud through an FTDI adapter (16 ms latency timer): ~26 ms.
    expect(defaultTimeoutMs(10, 14, 1)).toBeGreaterThan(16);
    expect(defaultTimeoutMs(10, 14, 1)).toBeLessThan(30);
    // A 7-servo sync read of 8 bytes at 57 600 baud needs the wire time on top.
    const slow = defaultTimeoutMs(21, 7 * 19, 7, 57_600);
    expect(slow).toBeGreaterThan(defaultTimeoutMs(21, 7 * 19, 7, 1_000_000) + 20);
    expect(defaultTimeoutMs(10, 14, 1, 1_000_000, 1)).toBeLessThan(15);
  });

  it('a hardware alert reports Hardware Error Status and stops the robot; recovery is an explicit call', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { emulator } = await servedArm('dynamixel', robotPath);
    const dxl = emulator as DynamixelEmulator;
    const logs: string[] = [];
    const env = await DynamixelRobotEnv.connect(robotTask('PandaReach-v0'), { path: host, timeoutMs: 50 }, { staleAfterMs: 300, resetAttempts: 1, log: (l) => logs.push(l) });
    cleanup.push(() => env.close());
    await env.reset({ seed: 0 });
    expect((await env.step(new Float32Array(7))).truncated).toBe(false);
    dxl.raiseHardwareError(2, 0x20); // overload
    const r = await env.step(new Float32Array(7));
    expect(r.truncated).toBe(true);
    expect(env.hardwareFault).toMatch(/ID 2: hardware alert: overload/);
    // The cut-off step names the fault, not just a missing state (issue 19).
    expect(r.info.linkError).toMatch(/ID 2: hardware alert: overload/);
    // A reset with the fault still there fails naming it; meanwhile every read fails (~100 a
    // second): the fault is logged once, not once per read (~225 lines in 5 s before).
    const failed = await env.reset({ seed: 1 }).catch((e: unknown) => e);
    expect(String(failed)).toMatch(/ID 2: hardware alert: overload/);
    expect(logs.filter((l) => /hardware alert/.test(l)).length, logs.join('\n')).toBeLessThanOrEqual(2);
    expect(env.stats.statesDropped).toBeGreaterThan(5);
    // Not recovered behind the user's back: the bus still reports it.
    expect(await env.bus.hardwareErrorStatus(2)).toBe(0x20);
    expect(await env.recover()).toEqual([2]);
    expect(await env.bus.hardwareErrorStatus(2)).toBe(0);
    expect(env.hardwareFault).toBeNull();
    await env.reset({ seed: 1 });
    expect((await env.step(new Float32Array(7))).truncated).toBe(false);
  }, 30_000);
});

describe('a robot on a servo that answers late (issue 19)', () => {
  it('steps are cut off with a safe stop naming the servo, never fed its late answers', async () => {
    const { host, robot: robotPath } = await ptyPair();
    const { emulator } = await servedArm('dynamixel', robotPath);
    const dxl = emulator as DynamixelEmulator;
    const logs: string[] = [];
    // 28 ms late against 20 ms in issue 19; 430 against 400 here, for a loaded machine (see above).
    const env = await DynamixelRobotEnv.connect(robotTask('PandaReach-v0'), { path: host, timeoutMs: 400, retries: 0 }, { staleAfterMs: 2000, log: (l) => logs.push(l) });
    cleanup.push(() => env.close());
    await env.reset({ seed: 0 });
    dxl.setReplyDelay(2, 430);
    // Each sync read times out on servo 2; its answers come after the bus gave up. They used
    // to complete the next sync read, so steps "succeeded" (~170 ms each in issue 19) on
    // stale data, never counted stale.
    let r = await env.step(new Float32Array(7));
    for (let k = 0; k < 5 && !r.truncated; k++) r = await env.step(new Float32Array(7));
    expect(r.truncated).toBe(true);
    expect(r.info.linkError).toMatch(/no status from ID 2 \(of 1, 2, 3, 4, 5, 6, 7\) after 1 attempt/);
    expect(env.stats.staleSteps).toBeGreaterThanOrEqual(1);
    expect(logs.filter((l) => /no status from ID 2/.test(l)).length).toBeLessThanOrEqual(3);
  }, 30_000);
});

describe('the servo emulator answers like an X-series servo (Protocol 2.0 error numbers)', () => {
  it('broadcast ping, bulk write, and the firmware\'s refusals: data range, access, EEPROM with torque on, data limit, data length', async () => {
    const { host, robot: robotPath } = await ptyPair();
    await servedArm('dynamixel', robotPath);
    const link = await SerialLink.open({ path: host });
    cleanup.push(() => link.close());
    // Room for a loaded machine (CI's stress-ng run: a 50 ms timeout without retries once missed
    // servo 2's answer); a late answer is refused, never taken for the next instruction's.
    const bus = new DynamixelBus(link, { timeoutMs: 300, retries: 2 });
    const all = await bus.pingAll(1000);
    expect([...all.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all.get(4)).toEqual({ model: EMULATED_MODEL, firmware: 45 });
    const code = (p: Promise<unknown>): Promise<string> => p.then(
      () => 'none',
      (e: unknown) => (e instanceof DynamixelStatusError ? e.status.code : String(e)),
    );
    expect(await code(bus.write(1, XControlTable.TorqueEnable.address, [2]))).toBe('data-range');
    expect(await code(bus.write(1, XControlTable.PresentPosition.address, u32(2048)))).toBe('access');
    expect(await code(bus.write(1, XControlTable.OperatingMode.address, [9]))).toBe('data-range');
    await bus.write(1, XControlTable.TorqueEnable.address, [1]);
    // EEPROM (Operating Mode) with torque on: refused; with torque off: written.
    expect(await code(bus.write(1, XControlTable.OperatingMode.address, [4]))).toBe('access');
    // A goal outside the position limits (set to joint 1's ±2.8973 rad) in position mode.
    expect(await code(bus.write(1, XControlTable.GoalPosition.address, u32(radToTicks(3.05))))).toBe('data-limit');
    // Half of a 4-byte item.
    expect(await code(bus.write(1, XControlTable.GoalPosition.address, [0, 8]))).toBe('data-length');
    await bus.write(1, XControlTable.TorqueEnable.address, [0]);
    expect(await code(bus.write(1, XControlTable.OperatingMode.address, [4]))).toBe('none');
    expect(Array.from(await bus.read(1, XControlTable.OperatingMode.address, 1))).toEqual([4]);
    // Bulk write: each servo its own item.
    expect(bus.bulkWrite([
      { id: 2, address: XControlTable.Led.address, data: [1] },
      { id: 3, address: XControlTable.ProfileVelocity.address, data: u32(300) },
    ])).toBe(true);
    // Broadcast writes have no answer; the reads after them go down the same line, in order.
    expect(Array.from(await bus.read(2, XControlTable.Led.address, 1))).toEqual([1]);
    expect(Array.from(await bus.read(3, XControlTable.ProfileVelocity.address, 4))).toEqual(u32(300));
    // Unknown instruction.
    expect(await code(bus.transact(Uint8Array.from([0xff, 0xff, 0xfd, 0x00, 1, 3, 0, 0x77, 0, 0]), [{ id: 1, params: 0 }]))).not.toBe('none');
  }, 30_000);
});

describe('serial robot envs end to end (Dynamixel chain and framed protocol)', () => {
  for (const protocol of ['dynamixel', 'framed'] as const) {
    it(`${protocol}: the scripted expert reaches its goals through the real pty`, async () => {
      const { host, robot: robotPath } = await ptyPair();
      await servedArm(protocol, robotPath);
      const task = robotTask('PandaReach-v0');
      // A generous bus timeout: the emulator answers through socat on this (possibly loaded)
      // machine, and answers later than the timeout are refused, not taken (issue 19).
      const raw = protocol === 'dynamixel' ? await DynamixelRobotEnv.connect(task, { path: host, timeoutMs: 100 }) : await FramedRobotEnv.connect(task, { path: host });
      cleanup.push(() => raw.close());
      const env = new TimeLimit(raw, 50);
      expect(await countSuccesses(env, pandaReachExpert(), [0, 1])).toBe(2);
      expect(raw.stats.staleSteps).toBe(0);
    }, 30_000);
  }

  it('the pty closed mid-episode: safe stop, a clear error, and the link reopens when the device is back', async () => {
    const pair = await ptyPair();
    const { link } = await servedArm('dynamixel', pair.robot);
    const logs: string[] = [];
    // A generous bus timeout: the emulator answers through socat on this (possibly loaded) machine.
    const raw = await DynamixelRobotEnv.connect(robotTask('PandaReach-v0'), { path: pair.host, timeoutMs: 100, retries: 1, reopenMinMs: 50 }, { staleAfterMs: 150, log: (l) => logs.push(l) });
    cleanup.push(() => raw.close());
    const env = new TimeLimit(raw, 50);
    await env.reset({ seed: 0 });
    expect((await env.step(new Float32Array(7))).truncated).toBe(false);
    pair.socat.kill(); // both pty ends vanish, as when a USB adapter is pulled
    await new Promise((r) => setTimeout(r, 100));
    const r = await env.step(new Float32Array(7).fill(0.3));
    expect(r.truncated).toBe(true);
    expect(r.info.linkError).toMatch(/link down|no fresh joint state/);
    expect(logs.join('\n')).toMatch(/serial port .* closed/);
    // The device comes back at the same path; the emulator's own serial link reopens too.
    const again = await ptyPair(pair.dir);
    expect(again.host).toBe(pair.host);
    // The emulated servos are back only when the emulator's own link has reopened: it retries with
    // a growing backoff, and on a loaded machine (CI at 20:11) its next try came after the env's
    // three reset attempts. A real servo chain answers as soon as the adapter is back.
    // `isOpen` alone is not that: under load the emulator's link may not yet have seen the old pty
    // close, and still reads open (a full-suite run reset against it and got no status at all).
    expect(await until(() => link.reopens >= 1 && link.isOpen, 15_000)).toBe(true);
    // reset() waits for the link (bounded) and tries again if the first attempt fails.
    await env.reset({ seed: 1 });
    expect((await env.step(new Float32Array(7))).truncated).toBe(false);
    expect(raw.stats.reconnects).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
