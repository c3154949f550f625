import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HidDevice, openHid, SPACEMOUSE, type HidMapping, type HidSource } from './devices/hid.js';

/** Replays recorded reports through the same interface node-hid's device has. */
class Replay extends EventEmitter implements HidSource {
  closed = false;
  close(): void {
    this.closed = true;
  }
  send(...bytes: number[]): void {
    this.emit('data', Buffer.from(bytes));
  }
}

const int16 = (v: number): [number, number] => [v & 0xff, (v >> 8) & 0xff];
const ctx = { obs: new Float32Array(3), proposed: new Float32Array(6), t: 0 };

describe('HID teleop (recorded reports, as no device is attached here)', () => {
  it('a SpaceMouse: a resting puck is idle, a push is an engaged 6-D action, buttons report once; junk is ignored; a read error disconnects', () => {
    const src = new Replay();
    const mouse = new HidDevice(src, SPACEMOUSE);
    // At rest the puck drifts by a few counts: inside the deadzone.
    src.send(1, ...int16(5), ...int16(-3), ...int16(2));
    src.send(2, ...int16(-4), ...int16(1), ...int16(0));
    expect(mouse.poll(ctx).engaged).toBe(false);
    // Pushed forward (x +175 = half scale) and twisted (rz −350 = full scale).
    src.send(1, ...int16(175), ...int16(0), ...int16(0));
    src.send(2, ...int16(0), ...int16(0), ...int16(-350));
    const r = mouse.poll(ctx);
    expect(r.engaged).toBe(true);
    expect(Array.from(r.action!).map((v) => Math.round(v * 100) / 100)).toEqual([0.5, 0, 0, 0, 0, -1]);
    // Left button: success, reported once while held.
    src.send(3, 0b01);
    expect(mouse.poll(ctx).button).toBe('success');
    src.send(3, 0b01);
    expect(mouse.poll(ctx).button).toBeNull();
    src.send(3, 0);
    // Unknown report ids and truncated reports are ignored and counted.
    src.send(9, 1, 2, 3);
    src.send(1, 7);
    expect(mouse.stats.ignored).toBe(2);
    // Released: idle again.
    src.send(1, ...int16(0), ...int16(0), ...int16(0));
    src.send(2, ...int16(0), ...int16(0), ...int16(0));
    expect(mouse.poll(ctx).engaged).toBe(false);
    src.emit('error', new Error('could not read from HID device'));
    const gone = mouse.poll(ctx);
    expect(gone.connected).toBe(false);
    expect(gone.error).toMatch(/could not read/);
  });

  it('a gamepad with a dead-man button: engaged only while it is held, axes mapped and inverted by config', () => {
    const pad: HidMapping = {
      axes: [
        { report: 0, offset: 1, scale: 32767 },
        { report: 0, offset: 3, scale: 32767, invert: true },
      ],
      buttons: [
        { report: 0, offset: 5, bit: 4, action: 'engage' },
        { report: 0, offset: 5, bit: 0, action: 'estop' },
      ],
    };
    const src = new Replay();
    const dev = new HidDevice(src, pad);
    src.send(0, ...int16(16384), ...int16(16384), 0);
    expect(dev.poll(ctx).engaged).toBe(false); // stick moved, dead-man not held
    src.send(0, ...int16(16384), ...int16(16384), 0b10000);
    const r = dev.poll(ctx);
    expect(r.engaged).toBe(true);
    expect(Array.from(r.action!).map((v) => Math.round(v * 100) / 100)).toEqual([0.5, -0.5]);
    src.send(0, ...int16(0), ...int16(0), 0b10001);
    expect(dev.poll(ctx).button).toBe('estop');
  });

  it('buttons pressed within one tick all count: the e-stop wins over a success pressed after it', () => {
    const pad: HidMapping = {
      axes: [{ report: 0, offset: 1, scale: 32767 }],
      buttons: [
        { report: 0, offset: 3, bit: 0, action: 'estop' },
        { report: 0, offset: 3, bit: 1, action: 'success' },
      ],
    };
    const src = new Replay();
    const dev = new HidDevice(src, pad);
    src.send(0, ...int16(0), 0b01); // e-stop down…
    src.send(0, ...int16(0), 0b00); // …released…
    src.send(0, ...int16(0), 0b10); // …and success, all before the next tick
    expect(dev.poll(ctx).button).toBe('estop');
    expect(dev.poll(ctx).button).toBeNull();
  });

  it('in the tool frame only the axes it uses engage: a rotation-only touch is no "hold still" command', () => {
    const src = new Replay();
    const mouse = new HidDevice(src, SPACEMOUSE, { dims: 3 });
    src.send(1, ...int16(0), ...int16(0), ...int16(0));
    src.send(2, ...int16(0), ...int16(0), ...int16(-350)); // twisted only
    expect(mouse.poll(ctx)).toMatchObject({ engaged: false, action: null });
    src.send(1, ...int16(0), ...int16(-175), ...int16(0)); // pushed sideways
    const r = mouse.poll(ctx);
    expect(r.engaged).toBe(true);
    expect(Array.from(r.action!).map((v) => Math.round(v * 100) / 100)).toEqual([0, -0.5, 0]);
    expect(() => new HidDevice(new Replay(), SPACEMOUSE, { dims: 7 })).toThrow(/6 axes; 7 action dimensions asked/);
  });

  it('opening a device says what to do when node-hid or the device is missing', async () => {
    // node-hid is an optional install: without it, that is what to do; with it, no SpaceMouse is attached here.
    const installed = await import('node-hid' as string).then(
      () => true,
      () => false,
    );
    const error = await openHid(0x046d, 0xc626, SPACEMOUSE).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(error).toBe(installed ? 'no HID device 046d:c626 attached (check the cable; lsusb lists it as 046d:c626)' : 'HID teleop needs node-hid: npm install node-hid (prebuilt binaries ship in the package)');
  });

  it('roborl train --teleop hid fails before writing anything when the device cannot be opened, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-hid-'));
    writeFileSync(join(dir, 'c.yaml'), 'name: hid\nenv: { id: UrdfReach-v0, options: { maxDelta: 0.05 } }\nalgo: { kind: sac }\ntrain: { steps: 100 }\n');
    const r = await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../cli/bin.mjs', import.meta.url)), 'train', join(dir, 'c.yaml'), '--run-dir', join(dir, 'run'), '--teleop', 'hid']).catch((e: { code: number; stderr: string }) => e);
    // The default UrdfReach arm (the Panda) has 7 joints; a SpaceMouse gives 6 axes: refused before any device is opened.
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr).toMatch(/^roborl: a SpaceMouse gives 6 axes; UrdfReach-v0 takes 7 actions \(drive the tool instead: hil.frame: tcp, or --frame tcp\)$/m);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  }, 60_000);
});
