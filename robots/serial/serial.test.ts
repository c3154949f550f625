import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { TimeLimit } from '../../control/wrappers/time-limit.js';
import { countSuccesses } from '../../test/episodes.js';
import { cleanup, ptyPair, servedArm } from '../../test/robot-fixtures.js';
import { pandaReachExpert } from '../../sim/tasks/panda-reach.js';
import { robotTask } from '../task.js';
import { DynamixelBus, DynamixelStatusError, DynamixelTimeoutError } from './dynamixel/bus.js';
import { XControlTable } from './dynamixel/protocol.js';
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
    const bus = new DynamixelBus(link, { timeoutMs: 30, retries: 2 });
    expect(await bus.ping(3)).toEqual({ model: EMULATED_MODEL, firmware: 45 });
    expect(Array.from(await bus.read(1, XControlTable.OperatingMode.address, 1))).toEqual([3]);
    // Goal positions for all seven servos in one sync write; the arm moves toward them.
    const q0 = robot.state().position;
    const goal = Array.from(q0, (q, i) => q + (i === 0 ? 0.05 : 0));
    expect(bus.syncWrite(XControlTable.GoalPosition.address, 4, goal.map((q, i) => ({ id: i + 1, data: new Uint8Array(new Int32Array([Math.round(2048 + (q * 4096) / (2 * Math.PI))]).buffer) })))).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(robot.counters.commands).toBe(1);
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
    const err = await bus.read(1, 250, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamixelStatusError);
    expect((err as DynamixelStatusError).status.code).toBe('data-range');
    // An ID that is not on the bus: three attempts (timeout + 2 retries), then a named timeout.
    const t0 = performance.now();
    await expect(bus.ping(42)).rejects.toBeInstanceOf(DynamixelTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(85);
    expect(bus.stats.retries).toBe(2);
    expect(bus.stats.timeouts).toBe(1);
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

describe('serial robot envs end to end (Dynamixel chain and framed protocol)', () => {
  for (const protocol of ['dynamixel', 'framed'] as const) {
    it(`${protocol}: the scripted expert reaches its goals through the real pty`, async () => {
      const { host, robot: robotPath } = await ptyPair();
      await servedArm(protocol, robotPath);
      const task = robotTask('PandaReach-v0');
      const raw = protocol === 'dynamixel' ? await DynamixelRobotEnv.connect(task, { path: host }) : await FramedRobotEnv.connect(task, { path: host });
      cleanup.push(() => raw.close());
      const env = new TimeLimit(raw, 50);
      expect(await countSuccesses(env, pandaReachExpert(), [0, 1])).toBe(2);
      expect(raw.stats.staleSteps).toBe(0);
    }, 30_000);
  }

  it('the pty closed mid-episode: safe stop, a clear error, and the link reopens when the device is back', async () => {
    const pair = await ptyPair();
    const { robot } = await servedArm('dynamixel', pair.robot);
    const logs: string[] = [];
    const raw = await DynamixelRobotEnv.connect(robotTask('PandaReach-v0'), { path: pair.host, timeoutMs: 20, retries: 1, reopenMinMs: 50 }, { staleAfterMs: 150, log: (l) => logs.push(l) });
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
    // The device comes back at the same path; the emulator side reopens too.
    const again = await ptyPair(pair.dir);
    expect(again.host).toBe(pair.host);
    const link2 = await SerialLink.open({ path: again.robot });
    new DynamixelEmulator(link2, robot);
    cleanup.push(() => link2.close());
    const deadline = performance.now() + 5000;
    let reset = false;
    while (!reset && performance.now() < deadline) {
      reset = await env.reset({ seed: 1 }).then(
        () => true,
        async () => (await new Promise((res) => setTimeout(res, 100)), false),
      );
    }
    expect(reset).toBe(true);
    expect((await env.step(new Float32Array(7))).truncated).toBe(false);
  }, 30_000);
});
